/** Ingest: canonical records, input-file readers with precise errors, and loaders for users' own files. */
export type { Item, Judgment, LogAction, LogEvent, Query, RaterGrade } from './records.ts';
export { loadItems, loadJudgments, loadLogEvents, loadQueries, parseIsoTime } from './loaders.ts';
export type { Loaded } from './loaders.ts';
export { readCsvRecords, readJsonl, readTextFile, readTsvRecords } from './formats.ts';

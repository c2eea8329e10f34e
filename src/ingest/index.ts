/**
 * Ingest: canonical records (and the data-set bundle handed to the store), input-file readers with
 * precise errors, loaders for users' own files, and the built-in data sets (datasets/: adapters,
 * native scales with their mappings, public-source downloads).
 */
export type { DatasetBundle, FieldWeights, Origin, RaterGrade, Sourced } from './records.ts';
export { loadItems, loadJudgments, loadLogEvents, loadQueries, parseIsoTime } from './loaders.ts';
export type { Loaded } from './loaders.ts';
export { DATASETS, datasetAdapter, parseScale, resolveDatasetDir, queryIdFor, normaliseQueryText } from './datasets/index.ts';

/** Labelling: the teacher labels candidate pairs — cached, budgeted, concurrent, resumable. */
export { LABEL_CACHE_APPLICATION_ID, LabelCache, labelKey } from './cache.ts';
export { itemText } from './item-text.ts';
export { buildPool } from './pool.ts';
export { DEFAULT_CONCURRENCY, runLabelJob } from './label-job.ts';
export type { JobClock, LabelBudget, LabelJobOptions, LabelJobSummary, LabelProgress, RetryPolicy, StopReason } from './label-job.ts';
export { BATCH_URL, exportBatch, importBatch, manifestPathFor, readBatchManifest } from './batch.ts';
export type { ExportBatchResult } from './batch.ts';
export { labelSetId } from './cache.ts';
export { readTeacherLabels, seededPairOrder } from './teacher-labels.ts';
export type { TeacherLabel } from './teacher-labels.ts';

/** Labelling: the teacher labels candidate pairs — cached, budgeted, concurrent, resumable. */
export {
  LABEL_CACHE_APPLICATION_ID,
  LABEL_CACHE_FILE,
  LABEL_CACHE_SCHEMA_VERSION,
  LabelCache,
  isDistribution,
  keyString,
  itemHashOf,
  labelKey,
  pairKey,
} from './cache.ts';
export type { CachedLabel, LabelFilter, LabelKey, LabelRef, LabelRow, LabelTotals, OpenLabelCacheOptions } from './cache.ts';
export { ITEM_TEXT_VERSION, MAX_ATTRIBUTES, itemText } from './item-text.ts';
export { buildPool, defaultPoolQueries } from './pool.ts';
export type { PoolOptions, PoolPair, PoolQueries } from './pool.ts';
export { DEFAULT_CONCURRENCY, DEFAULT_RETRY, REAL_CLOCK, runLabelJob } from './job.ts';
export type { JobClock, LabelBudget, LabelJobOptions, LabelJobSummary, LabelProgress, PairFailure, RetryPolicy, StopReason } from './job.ts';
export { BATCH_URL, batchCustomId, exportBatch, importBatch, manifestPathFor, readBatchManifest } from './batch.ts';
export type { BatchFailure, BatchManifest, BatchManifestEntry, BatchManifestRef, ExportBatchOptions, ExportBatchResult, ImportBatchOptions, ImportBatchResult } from './batch.ts';

/** The embedded store: SQLite file, schema versioning, transactional ingest, FTS5/BM25, splits. */
export { Dataset, Store } from './store.ts';
export { checkDatasetName } from './schema.ts';
export type { IngestResult, StoredItem, StoredJudgment, StoredLogEvent, StoredQuery } from './store.ts';
export { SCHEMA_VERSION, FTS_COLUMNS, FTS_TOKENIZER } from './schema.ts';
export { DEFAULT_SPLIT_SEED, SPLITS, assignSplits, parseSplit } from './splits.ts';
export type { Split, SplitFractions } from './splits.ts';

/**
 * Retrieval: ranking models over the catalogue — BM25 (FTS5 and its in-memory copy), reciprocal rank
 * fusion of two legs, a seeded random floor — and the Ranker contract every model meets. The registry
 * of models by name lives in src/models.
 */
export { Bm25Ranker, ftsMatchExpression, MAX_QUERY_TERMS } from './bm25.ts';
export { Bm25Index } from './bm25-index.ts';
export { RandomRanker } from './random-ranker.ts';
export { DEFAULT_LEG_DEPTH, EQUAL_WEIGHTS, FUSION_GRID, HybridRanker, RRF_K, checkFusionWeights, reciprocalRankFusion } from './hybrid.ts';
export type { FusionWeights } from './hybrid.ts';
export { negativePool } from './negatives.ts';
export type { LevelPredictor, Ranker, ScoredItem } from './types.ts';

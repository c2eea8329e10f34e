import type { ScoredItem } from '../metrics/index.ts';

export type { ScoredItem };

/**
 * A ranking model, as the evaluation protocols and the service use it. `retrieve` ranks the whole
 * catalogue (top k); `score` scores given candidates (the rerank protocol, or re-ranking another
 * retriever's candidates). Higher scores are better. `score` returns every candidate,
 * each exactly once. Callers await both: a model may answer
 * synchronously (BM25 in SQLite) or asynchronously (ONNX Runtime, a remote endpoint).
 */
export interface Ranker {
  readonly name: string;
  retrieve(queryText: string, k: number): ScoredItem[] | Promise<ScoredItem[]>;
  score(queryText: string, itemIds: readonly string[]): ScoredItem[] | Promise<ScoredItem[]>;
}

/**
 * A model that predicts a distribution over the five levels for (query, item) pairs: the student,
 * the teacher, or a ranker calibrated to levels. Row-major, itemIds.length × 5, P(L1) … P(L5).
 */
export interface LevelPredictor {
  readonly name: string;
  predictLevels(queryText: string, itemIds: readonly string[]): Float32Array | Promise<Float32Array>;
}

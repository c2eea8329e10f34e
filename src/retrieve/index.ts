/** Retrieval: ranking models over the catalogue (BM25, vector, hybrid, random), by name. */
import { unknownName } from '../errors.ts';
import type { Store } from '../store/index.ts';
import { Bm25Ranker } from './bm25.ts';
import type { Bm25Index } from './bm25-index.ts';
import { DEFAULT_LEG_DEPTH, EQUAL_WEIGHTS, HybridRanker, RRF_K, type FusionWeights } from './hybrid.ts';
import { RandomRanker } from './random.ts';
import { VectorRanker } from './vector.ts';
import type { Ranker } from './types.ts';

export { Bm25Ranker, ftsMatchExpression, MAX_QUERY_TERMS, queryTerms } from './bm25.ts';
export type { Bm25Options } from './bm25.ts';
export { Bm25Index, FtsQueryTokenizer } from './bm25-index.ts';
export type { Bm25IndexStats } from './bm25-index.ts';
export { RandomRanker } from './random.ts';
export { DEFAULT_LEG_DEPTH, EQUAL_WEIGHTS, FUSION_GRID, HybridRanker, RRF_K, checkFusionWeights, reciprocalRankFusion } from './hybrid.ts';
export type { FusionWeights, HybridOptions } from './hybrid.ts';
export { VectorRanker } from './vector.ts';
export { negativePool } from './negatives.ts';
export type { LevelPredictor, Ranker, ScoredItem } from './types.ts';

/** What a caller may hand a ranker it creates: the service passes an in-memory BM25 index it built. */
export interface RankerOptions {
  bm25Index?: Bm25Index;
}

export interface RankerFactory {
  description: string;
  /** Whether the ranker reads BM25 (and so can use an in-memory index). */
  usesBm25?: boolean;
  create(store: Store, dataset: string, opts?: RankerOptions): Ranker;
}

export const RANKERS: Readonly<Record<string, RankerFactory>> = Object.freeze({
  bm25: {
    description: 'BM25 (SQLite FTS5, per-field weights)',
    usesBm25: true,
    create: (store, dataset, opts = {}) => new Bm25Ranker(store, dataset, undefined, { index: opts.bm25Index }),
  },
  vector: { description: 'ANN (usearch HNSW, cosine) over the relevance-tuned item embeddings (distilrank embed)', create: (store, dataset) => VectorRanker.forDataset(store, dataset) },
  hybrid: {
    description: `BM25 + vector fused by weighted reciprocal rank fusion (k = ${RRF_K}, ${DEFAULT_LEG_DEPTH} candidates per leg; leg weights chosen on dev by distilrank embed)`,
    usesBm25: true,
    create: (store, dataset, opts = {}) => {
      const vector = VectorRanker.forDataset(store, dataset);
      return new HybridRanker(new Bm25Ranker(store, dataset, undefined, { index: opts.bm25Index }), vector, { weights: fusionWeightsOf(vector) });
    },
  },
  random: { description: 'seeded random order: the floor to read every protocol against', create: (store, dataset) => new RandomRanker(store, dataset) },
});

/** The fusion weights recorded in the vector leg's embedding card (chosen on dev), or equal weights for a card without them. */
export function fusionWeightsOf(vector: VectorRanker): FusionWeights {
  return vector.embeddings.card.fusion?.weights ?? { ...EQUAL_WEIGHTS };
}

export function createRanker(name: string, store: Store, dataset: string, opts: RankerOptions = {}): Ranker {
  const f = RANKERS[name];
  if (!f) throw unknownName('model', name, Object.keys(RANKERS));
  return f.create(store, dataset, opts);
}

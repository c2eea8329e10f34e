/**
 * Hybrid retrieval: BM25 (FTS5) and vector (ANN) candidates fused by weighted reciprocal rank fusion
 * (Cormack, Clarke & Büttcher, SIGIR 2009, with a weight per leg): score(d) = Σ_legs w_leg / (k +
 * rank_leg(d)), rank from 1, a leg that did not return d contributing nothing. k = 60 is the paper's
 * constant: it flattens the head of each list so that agreement between legs outweighs a single leg's
 * top rank. The weights are chosen on the dev split when the embeddings are trained (src/embed
 * fusion.ts, recorded in the artifact's card with the dev score of every weight tried): equal weights
 * let a weak vector leg pull BM25 down (home-depot), a weight of 0 drops a leg altogether (the hybrid
 * then ranks exactly as the other leg). Each leg retrieves its own depth (200 by default) before
 * fusion. Ties break by item id, as trec_eval does.
 */
import { DistilrankError } from '../core/index.ts';
import type { Ranker, ScoredItem } from './types.ts';

export const RRF_K = 60;
export const DEFAULT_LEG_DEPTH = 200;

/** The weight of each leg in the fusion (only their ratio matters, or that one is 0). */
export interface FusionWeights {
  bm25: number;
  vector: number;
}

/** Equal weights: plain RRF, what an embedding artifact without tuned weights (format v1 cards) gets. */
export const EQUAL_WEIGHTS: Readonly<FusionWeights> = Object.freeze({ bm25: 1, vector: 1 });

/**
 * The weights tried on the dev split, BM25 alone first (so that a tie keeps the cheaper, lexical
 * ranking), then growing vector weight, equal weights, and shrinking BM25 weight to the vector leg alone.
 */
export const FUSION_GRID: ReadonlyArray<Readonly<FusionWeights>> = Object.freeze(
  [
    [1, 0],
    [1, 0.1],
    [1, 0.25],
    [1, 0.5],
    [1, 0.75],
    [1, 1],
    [0.75, 1],
    [0.5, 1],
    [0.25, 1],
    [0.1, 1],
    [0, 1],
  ].map(([bm25, vector]) => Object.freeze({ bm25: bm25!, vector: vector! })),
);

/** BAD_INPUT naming the field unless both weights are finite, ≥ 0 and not both 0. */
export function checkFusionWeights(w: FusionWeights, where = 'fusion.weights', file?: string): FusionWeights {
  const at = (field: string) => ({ ...(file !== undefined ? { file } : {}), field });
  for (const leg of ['bm25', 'vector'] as const) {
    const x = (w as Partial<FusionWeights> | undefined)?.[leg];
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) {
      throw new DistilrankError('BAD_INPUT', `the ${leg} weight of the hybrid fusion must be a finite number ≥ 0, got ${String(x)}`, {
        ...at(`${where}.${leg}`),
        hint: 'use weights ≥ 0 such as { bm25: 1, vector: 0.5 }, or retrain the embeddings (distilrank embed) to choose them on dev',
      });
    }
  }
  if (w.bm25 === 0 && w.vector === 0) {
    throw new DistilrankError('BAD_INPUT', 'both weights of the hybrid fusion are 0: nothing would be ranked', {
      ...at(where),
      hint: 'give at least one leg a positive weight',
    });
  }
  return w;
}

/**
 * Fuse ranked lists (each best first) by reciprocal rank fusion; best first, all fused items. Items
 * with equal scores in a list share the best rank of their group (competition ranking). With
 * `weights` (one per list, ≥ 0), list i adds weights[i] / (k + rank); a list of weight 0 is skipped
 * (its items are not added with score 0).
 */
export function reciprocalRankFusion(lists: ReadonlyArray<readonly ScoredItem[]>, k = RRF_K, weights?: readonly number[]): ScoredItem[] {
  const fused = new Map<string, number>();
  lists.forEach((list, li) => {
    const w = weights ? (weights[li] ?? 0) : 1;
    if (w === 0) return;
    const seen = new Set<string>();
    let rank = 0;
    list.forEach((it, r) => {
      // tied scores share the rank of the first of them (1224 ranking): a leg's ties stay ties, so a
      // single leg fuses to exactly its own order once the ties are broken by id as trec_eval breaks them
      if (r === 0 || it.score !== list[r - 1]!.score) rank = r + 1;
      if (seen.has(it.itemId)) return; // a duplicate in one list counts once, at its best rank
      seen.add(it.itemId);
      fused.set(it.itemId, (fused.get(it.itemId) ?? 0) + w / (k + rank));
    });
  });
  return [...fused].map(([itemId, score]) => ({ itemId, score })).sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? 1 : -1));
}

export interface HybridOptions {
  /** Candidates each leg retrieves before fusion. */
  depth?: { bm25?: number; vector?: number };
  rrfK?: number;
  /** Leg weights (default equal; RANKERS.hybrid passes the ones tuned on dev, from the embedding card). */
  weights?: FusionWeights;
}

export class HybridRanker implements Ranker {
  readonly name = 'hybrid';
  readonly bm25Depth: number;
  readonly vectorDepth: number;
  readonly rrfK: number;
  readonly weights: Readonly<FusionWeights>;

  constructor(
    private readonly bm25: Ranker,
    private readonly vector: Ranker,
    opts: HybridOptions = {},
  ) {
    this.bm25Depth = opts.depth?.bm25 ?? DEFAULT_LEG_DEPTH;
    this.vectorDepth = opts.depth?.vector ?? DEFAULT_LEG_DEPTH;
    this.rrfK = opts.rrfK ?? RRF_K;
    this.weights = Object.freeze({ ...checkFusionWeights(opts.weights ?? EQUAL_WEIGHTS, 'weights') });
  }

  async retrieve(queryText: string, k: number): Promise<ScoredItem[]> {
    // A leg of weight 0 is not asked at all: it could only add items at score 0. The other leg alone
    // then gives its own top k (the extra depth is for merging), ties at the cutoff included.
    const { bm25, vector } = this.weights;
    const [lexical, dense] = await Promise.all([
      bm25 > 0 ? this.bm25.retrieve(queryText, vector > 0 ? Math.max(k, this.bm25Depth) : k) : [],
      vector > 0 ? this.vector.retrieve(queryText, bm25 > 0 ? Math.max(k, this.vectorDepth) : k) : [],
    ]);
    return reciprocalRankFusion([lexical, dense], this.rrfK, [bm25, vector]).slice(0, k);
  }

  /** The legs' stats (the vector leg's query-embedding cache, the BM25 leg's index), for the service's metrics. */
  stats(): unknown {
    const of = (leg: Ranker): object => {
      const legStats = (leg as { stats?: () => unknown }).stats;
      const s = typeof legStats === 'function' ? legStats.call(leg) : {};
      return typeof s === 'object' && s !== null ? s : {};
    };
    return { ...of(this.vector), ...of(this.bm25) };
  }

  /** Candidates scored by fusing the two legs' orderings of just these candidates (weighted as in retrieve). */
  async score(queryText: string, itemIds: readonly string[]): Promise<ScoredItem[]> {
    const order = (xs: readonly ScoredItem[]) => [...xs].sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? 1 : -1));
    const [lexical, dense] = await Promise.all([
      this.weights.bm25 > 0 ? this.bm25.score(queryText, itemIds) : [],
      this.weights.vector > 0 ? this.vector.score(queryText, itemIds) : [],
    ]);
    const fused = new Map(
      reciprocalRankFusion([order(lexical), order(dense)], this.rrfK, [this.weights.bm25, this.weights.vector]).map((x) => [x.itemId, x.score]),
    );
    return itemIds.map((itemId) => ({ itemId, score: fused.get(itemId) ?? 0 }));
  }
}

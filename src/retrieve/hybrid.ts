/**
 * Hybrid retrieval: BM25 (FTS5) and vector (ANN) candidates fused by reciprocal rank fusion
 * (Cormack, Clarke & Büttcher, SIGIR 2009): score(d) = Σ_legs 1 / (k + rank_leg(d)), rank from 1,
 * a leg that did not return d contributing nothing. k = 60 is the paper's constant: it flattens the
 * head of each list so that agreement between legs outweighs a single leg's top rank. Each leg
 * retrieves its own depth (200 by default) before fusion. Ties break by item id, as trec_eval does.
 */
import type { Ranker, ScoredItem } from './types.ts';

export const RRF_K = 60;
export const DEFAULT_LEG_DEPTH = 200;

/** Fuse ranked lists (each best first) by reciprocal rank fusion; best first, all fused items. */
export function reciprocalRankFusion(lists: ReadonlyArray<readonly ScoredItem[]>, k = RRF_K): ScoredItem[] {
  const fused = new Map<string, number>();
  for (const list of lists) {
    const seen = new Set<string>();
    list.forEach((it, r) => {
      if (seen.has(it.itemId)) return; // a duplicate in one list counts once, at its best rank
      seen.add(it.itemId);
      fused.set(it.itemId, (fused.get(it.itemId) ?? 0) + 1 / (k + r + 1));
    });
  }
  return [...fused].map(([itemId, score]) => ({ itemId, score })).sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? 1 : -1));
}

export interface HybridOptions {
  /** Candidates each leg retrieves before fusion. */
  depth?: { bm25?: number; vector?: number };
  rrfK?: number;
}

export class HybridRanker implements Ranker {
  readonly name = 'hybrid';
  readonly bm25Depth: number;
  readonly vectorDepth: number;
  readonly rrfK: number;

  constructor(
    private readonly bm25: Ranker,
    private readonly vector: Ranker,
    opts: HybridOptions = {},
  ) {
    this.bm25Depth = opts.depth?.bm25 ?? DEFAULT_LEG_DEPTH;
    this.vectorDepth = opts.depth?.vector ?? DEFAULT_LEG_DEPTH;
    this.rrfK = opts.rrfK ?? RRF_K;
  }

  async retrieve(queryText: string, k: number): Promise<ScoredItem[]> {
    const [lexical, dense] = await Promise.all([this.bm25.retrieve(queryText, Math.max(k, this.bm25Depth)), this.vector.retrieve(queryText, Math.max(k, this.vectorDepth))]);
    return reciprocalRankFusion([lexical, dense], this.rrfK).slice(0, k);
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

  /** Candidates scored by fusing the two legs' orderings of just these candidates. */
  async score(queryText: string, itemIds: readonly string[]): Promise<ScoredItem[]> {
    const order = (xs: readonly ScoredItem[]) => [...xs].sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? 1 : -1));
    const [lexical, dense] = await Promise.all([this.bm25.score(queryText, itemIds), this.vector.score(queryText, itemIds)]);
    const fused = new Map(reciprocalRankFusion([order(lexical), order(dense)], this.rrfK).map((x) => [x.itemId, x.score]));
    return itemIds.map((itemId) => ({ itemId, score: fused.get(itemId) ?? 0 }));
  }
}

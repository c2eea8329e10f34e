/**
 * Choosing the hybrid fusion's leg weights on the dev split, when the embeddings are trained: for each
 * dev query (with judgments), BM25's top 200 and the vector leg's top 200 (exact cosine over the new
 * item vectors: deterministic, unlike the HNSW graph), fused by weighted RRF at every weight of
 * FUSION_GRID, scored as the retrieval protocol scores (src/eval: top 100, unjudged = not relevant,
 * gains L1 = 0 … L5 = 4). The weight with the best dev nDCG@10 wins (the first in grid order on a tie:
 * BM25 alone comes first). The grid holds both legs alone, so on dev the hybrid never loses to its best
 * leg. The card records every weight's dev nDCG@10 and R(rel=3)@100, so the choice can be read back.
 */
import { DEFAULT_RETRIEVAL_DEPTH } from '../eval/index.ts';
import { evaluateRun, type Qrels, type Run } from '../metrics/index.ts';
import { DEFAULT_LEG_DEPTH, FUSION_GRID, RRF_K, reciprocalRankFusion, type FusionWeights, type ScoredItem } from '../retrieve/index.ts';
import { queryBuckets } from './hashing.ts';
import { encodeBuckets, exactTopK, type TwoTowerWeights } from './model.ts';

/** What the card records about the fusion: method, constants, the chosen weights and why. */
export interface FusionCard {
  method: 'weighted-rrf';
  k: number;
  /** Candidates per leg before fusion. */
  depth: { bm25: number; vector: number };
  /** The chosen weights: the argmax of grid[].devNdcg10 (first in grid order on a tie). */
  weights: FusionWeights;
  chosenBy: string;
  queries: number;
  grid: Array<FusionWeights & { devNdcg10: number; devRecall100: number }>;
}

/** A lexical leg: what retrieval's BM25 ranker offers (its `retrieve`). */
export interface LexicalLeg {
  retrieve(queryText: string, k: number): readonly ScoredItem[] | Promise<readonly ScoredItem[]>;
}

export interface TuneFusionInput {
  model: TwoTowerWeights;
  itemIds: readonly string[];
  vectors: Float32Array;
  /** Dev queries to score (those with judgments), and their qrels (gain = level index). */
  queries: ReadonlyArray<{ id: string; text: string }>;
  qrels: Qrels;
  lexical: LexicalLeg;
  grid?: ReadonlyArray<Readonly<FusionWeights>>;
}

export interface TunedFusion {
  card: FusionCard;
  /** The dev runs of each leg alone (for reporting vector-leg dev metrics). */
  legs: { bm25: Run; vector: Run };
}

/** Dev nDCG@10 (and R(rel=3)@100) of each weight of the grid; the argmax is the choice. */
export async function tuneFusion(input: TuneFusionInput): Promise<TunedFusion> {
  const { model, vectors, itemIds } = input;
  const dim = model.config.dim;
  const grid = input.grid ?? FUSION_GRID;
  const scratch = new Float32Array(dim + model.config.hidden);
  const qvec = new Float32Array(dim);
  const lexicalRuns: Run = new Map();
  const denseRuns: Run = new Map();
  for (const q of input.queries) {
    lexicalRuns.set(q.id, [...(await input.lexical.retrieve(q.text, DEFAULT_LEG_DEPTH))]);
    encodeBuckets(model, model.query, queryBuckets(q.text, model.config.hashing), qvec, 0, scratch);
    denseRuns.set(
      q.id,
      exactTopK(qvec, vectors, dim, Math.min(DEFAULT_LEG_DEPTH, itemIds.length)).map((h) => ({ itemId: itemIds[h.row]!, score: h.score })),
    );
  }
  const ids = input.queries.map((q) => q.id);
  const measures = ['nDCG@10', 'R(rel=3)@100'];
  const rows = grid.map((w) => {
    const run: Run = new Map(
      ids.map((id) => [id, reciprocalRankFusion([lexicalRuns.get(id)!, denseRuns.get(id)!], RRF_K, [w.bm25, w.vector]).slice(0, DEFAULT_RETRIEVAL_DEPTH)]),
    );
    const m = ids.length ? evaluateRun(run, input.qrels, measures, { queries: ids }).mean : { 'nDCG@10': 0, 'R(rel=3)@100': 0 };
    return { bm25: w.bm25, vector: w.vector, devNdcg10: m['nDCG@10']!, devRecall100: m['R(rel=3)@100']! };
  });
  const best = argmaxFusion(rows);
  return {
    card: {
      method: 'weighted-rrf',
      k: RRF_K,
      depth: { bm25: DEFAULT_LEG_DEPTH, vector: DEFAULT_LEG_DEPTH },
      weights: { bm25: best.bm25, vector: best.vector },
      chosenBy: `dev nDCG@10 of the retrieval protocol (top ${DEFAULT_RETRIEVAL_DEPTH}, unjudged = not relevant; vector leg by exact cosine), argmax over the grid, first on a tie`,
      queries: ids.length,
      grid: rows,
    },
    legs: { bm25: lexicalRuns, vector: denseRuns },
  };
}

/** The grid row with the highest devNdcg10, the first one on a tie. */
export function argmaxFusion<T extends { devNdcg10: number }>(rows: readonly T[]): T {
  let best = rows[0];
  if (!best) throw new RangeError('argmaxFusion needs at least one row');
  for (const r of rows) if (r.devNdcg10 > best.devNdcg10) best = r;
  return best;
}

/**
 * The two evaluation protocols. Every report names its protocol, because the numbers differ in kind:
 * - `rerank`: each query's judged items, ordered by the model (as ESCI task 1). Measures how well the
 *   model orders candidates it is given.
 * - `retrieval`: the whole catalogue, top `depth` (100) per query; unjudged items count as not
 *   relevant (as WANDS full-catalogue). Measures what a user would see.
 * The queries evaluated are the split's queries with at least one judgment in the judgment set; a
 * query the model returns nothing for scores 0 (trec_eval -c).
 */
import { DistilrankError, unknownName } from '../core/index.ts';
import type { Ranker } from '../retrieve/index.ts';
import type { Dataset, Split } from '../store/index.ts';
import { evaluateRun, type Qrels, type Run } from '../metrics/index.ts';

export type Protocol = 'rerank' | 'retrieval';

export const PROTOCOLS: Readonly<Record<Protocol, string>> = Object.freeze({
  rerank: "order each query's judged items",
  retrieval: 'rank the whole catalogue, top 100; unjudged items count as not relevant',
});

/**
 * Reported by default. Gains are the level index (L1=0 … L5=4); binary measures count an item as
 * relevant from L4 ("relevant") up, i.e. gain ≥ 3 — written rel=3 in the name.
 */
export const DEFAULT_MEASURES: readonly string[] = ['nDCG@10', 'nDCG_exp@10', 'nDCG@100', 'P(rel=3)@10', 'R(rel=3)@100', 'AP(rel=3)', 'RR(rel=3)'];

export const DEFAULT_RETRIEVAL_DEPTH = 100;

export function parseProtocol(name: string): Protocol {
  if (name === 'rerank' || name === 'retrieval') return name;
  throw unknownName('protocol', name, Object.keys(PROTOCOLS));
}

export interface EvaluateOptions {
  dataset: Dataset;
  split: Split;
  protocol: Protocol;
  ranker: Ranker;
  judgmentSet?: string;
  depth?: number;
  measures?: readonly string[];
  onProgress?: (done: number, total: number) => void;
}

/** The one shape every evaluation prints (`eval --json`). */
export interface EvalReport {
  dataset: string;
  split: Split;
  protocol: Protocol;
  model: string;
  queries: number;
  metrics: Record<string, number>;
  judgmentSet: string;
  /** Ranking depth: the retrieval cutoff, or null under rerank (all judged items are ranked). */
  depth: number | null;
  /** Wall time per query in milliseconds, p50 and p99, measured around the model call. */
  latencyMs: { p50: number; p99: number };
  /** Retrieval by a re-ranker: how many BM25 candidates it re-ranked. */
  candidates?: number;
  /** Where label metrics came from (the model's own distributions, or its scores calibrated on train). */
  levels?: { from: string; pairs: number; confusion: number[][] };
}

export interface Evaluation {
  report: EvalReport;
  run: Run;
  qrels: Qrels;
}

/** The split's qrels (gain = level index), query id → item id → gain. */
export function splitQrels(dataset: Dataset, split: Split, judgmentSet?: string): Qrels {
  const qrels: Qrels = new Map();
  for (const j of dataset.storedJudgments({ split, ...(judgmentSet ? { judgmentSet } : {}) })) {
    let m = qrels.get(j.queryId);
    if (!m) qrels.set(j.queryId, (m = new Map()));
    m.set(j.itemId, j.gain);
  }
  return qrels;
}

export async function evaluate(opts: EvaluateOptions): Promise<Evaluation> {
  const judgmentSet = opts.judgmentSet ?? opts.dataset.defaultJudgmentSet;
  if (!opts.dataset.judgmentSets.includes(judgmentSet)) throw unknownName('judgment set', judgmentSet, opts.dataset.judgmentSets);
  const depth = opts.depth ?? DEFAULT_RETRIEVAL_DEPTH;
  if (!Number.isInteger(depth) || depth < 1) {
    throw new DistilrankError('BAD_OPTION', `depth must be a positive integer, got ${depth}`, { field: 'depth' });
  }
  const qrels = splitQrels(opts.dataset, opts.split, judgmentSet);
  const queries = opts.dataset.storedQueries(opts.split).filter((q) => qrels.has(q.id));
  const run: Run = new Map();
  const times: number[] = [];
  for (const [i, q] of queries.entries()) {
    const t0 = performance.now();
    const ranked = opts.protocol === 'rerank' ? await opts.ranker.score(q.text, [...qrels.get(q.id)!.keys()]) : await opts.ranker.retrieve(q.text, depth);
    times.push(performance.now() - t0);
    run.set(q.id, ranked);
    opts.onProgress?.(i + 1, queries.length);
  }
  const result = evaluateRun(run, qrels, [...(opts.measures ?? DEFAULT_MEASURES)], { queries: queries.map((q) => q.id) });
  return {
    report: {
      dataset: opts.dataset.name,
      split: opts.split,
      protocol: opts.protocol,
      model: opts.ranker.name,
      queries: result.queries,
      metrics: result.mean,
      judgmentSet,
      depth: opts.protocol === 'retrieval' ? depth : null,
      latencyMs: { p50: percentile(times, 0.5), p99: percentile(times, 0.99) },
    },
    run,
    qrels,
  };
}

/** Nearest-rank percentile; NaN for no samples. */
export function percentile(xs: readonly number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

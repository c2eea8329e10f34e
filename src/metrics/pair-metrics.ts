/**
 * Metrics of level predictions on labelled training-style rows (targets are distributions over the
 * five levels, grouped by query): accuracy and quadratic κ of argmax against the target's argmax,
 * RMSE of expected levels, and nDCG@10 of each query's rows ranked by expected level (rerank, gain
 * = rounded target expectation − 1). What the student and the local teacher record in their cards.
 */
import { accuracy, cohenKappa, ndcgAt, rmse } from './measures.ts';

export interface LabelledRows {
  queryIds: readonly string[];
  itemIds: readonly string[];
  /** rows × 5 target distributions. */
  targets: Float32Array;
  rows: number;
}

export function pairMetrics(
  rows: LabelledRows,
  probs: Float32Array,
  prefix: string,
  opts: {
    /** Probabilities the ranking uses, when they differ from the ones judged as labels (default `probs`). */
    rankingProbs?: Float32Array;
    /** Rows to count (default all). */
    include?: (row: number) => boolean;
  } = {},
): Record<string, number> {
  const ranking = opts.rankingProbs ?? probs;
  const truth: number[] = [];
  const truthExpected: number[] = [];
  const pred: number[] = [];
  const predExpected: number[] = [];
  const byQuery = new Map<string, Array<{ itemId: string; score: number; gain: number }>>();
  for (let r = 0; r < rows.rows; r++) {
    if (opts.include && !opts.include(r)) continue;
    let best = 0;
    let tl = 0;
    let e = 0;
    let te = 0;
    let score = 0;
    for (let k = 0; k < 5; k++) {
      if (probs[r * 5 + k]! > probs[r * 5 + best]!) best = k;
      if (rows.targets[r * 5 + k]! > rows.targets[r * 5 + tl]!) tl = k;
      e += probs[r * 5 + k]! * (k + 1);
      te += rows.targets[r * 5 + k]! * (k + 1);
      score += ranking[r * 5 + k]! * (k + 1);
    }
    truth.push(tl + 1);
    truthExpected.push(te);
    pred.push(best + 1);
    predExpected.push(e);
    const list = byQuery.get(rows.queryIds[r]!) ?? [];
    list.push({ itemId: rows.itemIds[r]!, score, gain: Math.round(te) - 1 });
    byQuery.set(rows.queryIds[r]!, list);
  }
  let ndcg = 0;
  for (const list of byQuery.values()) {
    const order = [...list].sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? 1 : -1)).map((x) => x.itemId);
    ndcg += ndcgAt(order, new Map(list.map((x) => [x.itemId, x.gain])), 10);
  }
  const classes = [1, 2, 3, 4, 5];
  return {
    [`${prefix} nDCG@10 (rerank)`]: ndcg / Math.max(1, byQuery.size),
    [`${prefix} accuracy`]: accuracy(truth, pred),
    [`${prefix} kappa_quadratic`]: cohenKappa(truth, pred, classes, 'quadratic'),
    [`${prefix} RMSE_expected_level`]: rmse(truthExpected, predExpected),
  };
}

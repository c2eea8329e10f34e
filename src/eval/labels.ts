/**
 * Label agreement of a level predictor with the human judgments of a split: what the teacher and the
 * student are trained to get right, beyond ranking. Predicted level = argmax of the predicted
 * distribution; expected level = its expectation. The human expected level is that of the soft label
 * when the pair has one (several raters, or a mean grade), else the level itself.
 */
import type { LevelPredictor } from '../retrieve/index.ts';
import type { Dataset, Split } from '../store/index.ts';
import { accuracy, cohenKappa, confusionMatrix, macroF1, rmse } from '../metrics/index.ts';

export const LEVEL_CLASSES = [1, 2, 3, 4, 5] as const;

export interface LabelReport {
  pairs: number;
  metrics: {
    accuracy: number;
    macro_F1: number;
    kappa: number;
    kappa_quadratic: number;
    RMSE_expected_level: number;
  };
  /** Rows: human level L1…L5; columns: predicted level. */
  confusion: number[][];
}

export async function evaluateLabels(opts: { dataset: Dataset; split: Split; predictor: LevelPredictor; judgmentSet?: string }): Promise<LabelReport> {
  const byQuery = new Map<string, Array<{ itemId: string; level: number; expected: number }>>();
  for (const j of opts.dataset.storedJudgments({ split: opts.split, ...(opts.judgmentSet ? { judgmentSet: opts.judgmentSet } : {}) })) {
    const expected = j.soft ? j.soft.reduce((s, p, i) => s + p * (i + 1), 0) : j.level;
    const list = byQuery.get(j.queryId) ?? [];
    list.push({ itemId: j.itemId, level: j.level, expected });
    byQuery.set(j.queryId, list);
  }
  const truth: number[] = [];
  const truthExpected: number[] = [];
  const probs: number[] = [];
  for (const q of opts.dataset.storedQueries(opts.split)) {
    const judged = byQuery.get(q.id);
    if (!judged) continue;
    const predicted = await opts.predictor.predictLevels(
      q.text,
      judged.map((j) => j.itemId),
    );
    for (const [i, j] of judged.entries()) {
      truth.push(j.level);
      truthExpected.push(j.expected);
      for (let k = 0; k < 5; k++) probs.push(predicted[i * 5 + k]!);
    }
  }
  return labelAgreement(probs, truth, truthExpected);
}

/** The predicted level of row `row` of rows × 5 probabilities: the argmax (the lowest level on ties). */
export function argmaxLevel(probs: ArrayLike<number>, row: number): number {
  let best = 0;
  for (let k = 1; k < 5; k++) if (probs[row * 5 + k]! > probs[row * 5 + best]!) best = k;
  return best + 1;
}

/** The expected level of row `row` (normalised by the row's sum; NaN for an all-zero row). */
export function expectedLevel(probs: ArrayLike<number>, row: number): number {
  let e = 0;
  let sum = 0;
  for (let k = 0; k < 5; k++) {
    e += probs[row * 5 + k]! * (k + 1);
    sum += probs[row * 5 + k]!;
  }
  return sum > 0 ? e / sum : NaN;
}

/** Agreement of rows × 5 predicted distributions with human levels (and their expected levels). */
export function labelAgreement(probs: ArrayLike<number>, truth: readonly number[], truthExpected: readonly number[]): LabelReport {
  const pred: number[] = [];
  const predExpected: number[] = [];
  for (let i = 0; i < truth.length; i++) {
    pred.push(argmaxLevel(probs, i));
    predExpected.push(expectedLevel(probs, i));
  }
  const classes = [...LEVEL_CLASSES];
  return {
    pairs: truth.length,
    metrics: {
      accuracy: accuracy(truth, pred),
      macro_F1: macroF1(truth, pred, classes),
      kappa: cohenKappa(truth, pred, classes, 'none'),
      kappa_quadratic: cohenKappa(truth, pred, classes, 'quadratic'),
      RMSE_expected_level: rmse(truthExpected, predExpected),
    },
    confusion: confusionMatrix(truth, pred, classes),
  };
}

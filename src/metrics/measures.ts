/**
 * Evaluation metrics: ranking measures with trec_eval 9.x semantics (so numbers can be checked
 * against trec_eval, ranx and ir_measures) and label-agreement measures for comparing graders
 * (human vs LLM teacher vs student). Every zero-division case has a documented, tested value.
 */
import { DistilrankError } from '../core/index.ts';

/** An item with a model's score for one query; higher is better (one row of a run). */
export interface ScoredItem {
  itemId: string;
  score: number;
}

/** Graded judgments: queryId -> itemId -> integer gain (>= 0; negative gains are treated as 0, as trec_eval does). */
export type Qrels = Map<string, Map<string, number>>;
/** A run: queryId -> scored items (any order; ranking is derived by sortRanking). */
export type Run = Map<string, ScoredItem[]>;

/** Gains of one query's judged items. Unjudged items have gain 0. */
export type Gains = ReadonlyMap<string, number>;

// ---------------------------------------------------------------------------------------------
// Ranking order

/**
 * The ranking trec_eval evaluates: score descending, ties broken by item id in descending strcmp
 * order (trec_eval's comp_sim_docno). The rank column of a run file plays no part. Returns a new
 * array; the input is not touched. A NaN score is BAD_INPUT (it has no place in the order).
 */
export function sortRanking(items: readonly ScoredItem[]): ScoredItem[] {
  const nan = items.find((it) => Number.isNaN(it.score));
  if (nan) {
    throw new DistilrankError('BAD_INPUT', `item "${nan.itemId}" has score NaN, which cannot be ranked`, {
      hint: 'give every ranked item a numeric score',
    });
  }
  return [...items].sort((a, b) => {
    if (a.score !== b.score) return b.score - a.score;
    // Code-unit order equals strcmp byte order except for astral characters, which ids do not use.
    return a.itemId < b.itemId ? 1 : a.itemId > b.itemId ? -1 : 0;
  });
}

// ---------------------------------------------------------------------------------------------
// Per-query ranking measures. `ranking` is the ordered list of item ids, best first.

function gainOf(gains: Gains, id: string): number {
  return Math.max(0, gains.get(id) ?? 0);
}

function dcg(gainsInOrder: readonly number[], k: number): number {
  let sum = 0;
  const n = Math.min(k, gainsInOrder.length);
  // Rank r (1-based) is discounted by log2(r + 1): rank 1 is undiscounted (trec_eval 9.x ndcg_cut).
  for (let i = 0; i < n; i++) sum += gainsInOrder[i]! / Math.log2(i + 2);
  return sum;
}

/**
 * nDCG@k as trec_eval 9.x `ndcg_cut.k` (gain 'linear': the qrels value) or with Burges et al.'s
 * exponential gain 2^rel − 1 ('exp', ranx's ndcg_burges). The ideal DCG ranks all judged items of
 * the query by gain, cut at k. A query whose ideal DCG is 0 (nothing relevant judged) scores 0.
 */
export function ndcgAt(ranking: readonly string[], gains: Gains, k: number, gain: 'linear' | 'exp' = 'linear'): number {
  const transform = gain === 'exp' ? (g: number) => 2 ** g - 1 : (g: number) => g;
  const ideal = [...gains.values()].map((g) => transform(Math.max(0, g))).sort((a, b) => b - a);
  const idcg = dcg(ideal, k);
  if (idcg === 0) return 0;
  return (
    dcg(
      ranking.slice(0, k).map((id) => transform(gainOf(gains, id))),
      k,
    ) / idcg
  );
}

function isRelevant(gains: Gains, id: string, rel: number): boolean {
  return gainOf(gains, id) >= rel;
}

/** Number of judged items with gain >= rel (trec_eval's num_rel). */
function numRelevant(gains: Gains, rel: number): number {
  let n = 0;
  for (const g of gains.values()) if (g >= rel) n++;
  return n;
}

/** P@k (trec_eval `P.k`): relevant in the top k divided by k, even when fewer than k are retrieved. */
export function precisionAt(ranking: readonly string[], gains: Gains, k: number, rel = 1): number {
  return ranking.slice(0, k).filter((id) => isRelevant(gains, id, rel)).length / k;
}

/** Recall@k (trec_eval `recall.k`): relevant in the top k / relevant judged; 0 when none is judged relevant. */
export function recallAt(ranking: readonly string[], gains: Gains, k: number, rel = 1): number {
  const total = numRelevant(gains, rel);
  if (total === 0) return 0;
  return ranking.slice(0, k).filter((id) => isRelevant(gains, id, rel)).length / total;
}

/**
 * Average precision (trec_eval `map`; with k, `map_cut.k`): the sum of precision at each relevant
 * retrieved item (within the top k) divided by the number of relevant judged items. 0 when none
 * is judged relevant.
 */
export function averagePrecision(ranking: readonly string[], gains: Gains, rel = 1, k = Infinity): number {
  const total = numRelevant(gains, rel);
  if (total === 0) return 0;
  let found = 0;
  let sum = 0;
  const n = Math.min(k, ranking.length);
  for (let i = 0; i < n; i++) {
    if (isRelevant(gains, ranking[i]!, rel)) {
      found++;
      sum += found / (i + 1);
    }
  }
  return sum / total;
}

/** Reciprocal rank of the first relevant item (trec_eval `recip_rank`), within the top k; 0 when there is none. */
export function reciprocalRank(ranking: readonly string[], gains: Gains, rel = 1, k = Infinity): number {
  const n = Math.min(k, ranking.length);
  for (let i = 0; i < n; i++) if (isRelevant(gains, ranking[i]!, rel)) return 1 / (i + 1);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Measure names

/**
 * A parsed measure name. `rel` is the minimum gain that counts as relevant (1 = trec_eval's default
 * "rel > 0"); `k` is the cutoff (null: the whole ranking).
 */
export type Measure =
  | { name: string; kind: 'nDCG' | 'nDCG_exp'; k: number }
  | { name: string; kind: 'P' | 'R'; rel: number; k: number }
  | { name: string; kind: 'AP' | 'RR'; rel: number; k: number | null };

const MEASURE_FORMS = [
  'nDCG@K',
  'nDCG_exp@K',
  'P@K',
  'P(rel=R)@K',
  'R@K',
  'R(rel=R)@K',
  'AP',
  'AP(rel=R)',
  'AP@K',
  'AP(rel=R)@K',
  'RR',
  'RR(rel=R)',
  'RR@K',
  'RR(rel=R)@K',
];
const MEASURE_RE = /^(nDCG_exp|nDCG|P|R|AP|RR)(?:\(rel=([1-9][0-9]*)\))?(?:@([1-9][0-9]*))?$/;

/**
 * Parse and validate a measure name such as `nDCG@10`, `P(rel=2)@5` or `AP`. K and R are positive
 * integers; nDCG, P and R need a cutoff; nDCG takes no rel (it uses the gains themselves).
 */
export function parseMeasure(name: string): Measure {
  const bad = (why: string) =>
    new DistilrankError('UNKNOWN_NAME', `unknown metric "${name}": ${why}`, {
      hint: `use one of: ${MEASURE_FORMS.join(', ')} (K, R: positive integers; e.g. nDCG@10, P(rel=2)@5)`,
    });
  const m = MEASURE_RE.exec(name);
  if (!m) throw bad('not a known measure form');
  const kind = m[1] as Measure['kind'];
  const rel = m[2] === undefined ? null : Number(m[2]);
  const k = m[3] === undefined ? null : Number(m[3]);
  if (kind === 'nDCG' || kind === 'nDCG_exp') {
    if (rel !== null) throw bad(`${kind} takes no rel= parameter`);
    if (k === null) throw bad(`${kind} needs a cutoff, e.g. ${kind}@10`);
    return { name, kind, k };
  }
  if (kind === 'P' || kind === 'R') {
    if (k === null) throw bad(`${kind} needs a cutoff, e.g. ${kind}@10`);
    return { name, kind, rel: rel ?? 1, k };
  }
  return { name, kind, rel: rel ?? 1, k };
}

/** The value of one measure for one query. */
export function scoreMeasure(measure: Measure, ranking: readonly string[], gains: Gains): number {
  switch (measure.kind) {
    case 'nDCG':
      return ndcgAt(ranking, gains, measure.k, 'linear');
    case 'nDCG_exp':
      return ndcgAt(ranking, gains, measure.k, 'exp');
    case 'P':
      return precisionAt(ranking, gains, measure.k, measure.rel);
    case 'R':
      return recallAt(ranking, gains, measure.k, measure.rel);
    case 'AP':
      return averagePrecision(ranking, gains, measure.rel, measure.k ?? Infinity);
    case 'RR':
      return reciprocalRank(ranking, gains, measure.rel, measure.k ?? Infinity);
  }
}

export interface RunEvaluation {
  /** Per evaluated query (sorted by id), measure name -> value. */
  perQuery: Map<string, Record<string, number>>;
  /** Arithmetic mean over the evaluated queries; NaN for every measure when no query is evaluated. */
  mean: Record<string, number>;
  /** Number of evaluated queries. */
  queries: number;
}

/**
 * Evaluate a run against qrels. Which queries count:
 * - by default trec_eval's rule: the queries present in BOTH the run and the qrels (a run query
 *   without judgments, or a judged query the run skipped, is left out of the mean);
 * - with `opts.queries`, exactly those queries (duplicates ignored), as `trec_eval -c`: a query the
 *   run has no entry for scores 0 on every measure, and a query without judgments scores 0 too.
 * Measure names are validated first (UNKNOWN_NAME); results are keyed by the names as given.
 * A run listing the same item twice for a query is rejected (DUPLICATE_ID), as trec_eval does.
 */
export function evaluateRun(run: Run, qrels: Qrels, measures: string[], opts: { queries?: string[] } = {}): RunEvaluation {
  const parsed = measures.map(parseMeasure);
  const ids = opts.queries ? [...new Set(opts.queries)] : [...run.keys()].filter((q) => qrels.has(q));
  ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

  const perQuery = new Map<string, Record<string, number>>();
  const sums: Record<string, number> = Object.fromEntries(parsed.map((m) => [m.name, 0]));
  for (const q of ids) {
    const ranking = sortRanking(run.get(q) ?? []).map((it) => it.itemId);
    if (new Set(ranking).size !== ranking.length) {
      const dup = ranking.find((id, i) => ranking.indexOf(id) !== i);
      throw new DistilrankError('DUPLICATE_ID', `query "${q}" ranks item "${dup}" more than once`, {
        hint: 'keep one entry per (query, item) in the run',
      });
    }
    const gains = qrels.get(q) ?? new Map<string, number>();
    const row: Record<string, number> = {};
    for (const m of parsed) {
      row[m.name] = scoreMeasure(m, ranking, gains);
      sums[m.name] = sums[m.name]! + row[m.name]!;
    }
    perQuery.set(q, row);
  }
  const mean: Record<string, number> = {};
  for (const m of parsed) mean[m.name] = ids.length === 0 ? NaN : sums[m.name]! / ids.length;
  return { perQuery, mean, queries: ids.length };
}

// ---------------------------------------------------------------------------------------------
// Label agreement. All take parallel arrays and throw BAD_INPUT when their lengths differ.

function checkLengths(what: string, a: readonly unknown[], b: readonly unknown[]): void {
  if (a.length !== b.length) {
    throw new DistilrankError('BAD_INPUT', `${what}: the two arrays have different lengths (${a.length} and ${b.length})`, {
      hint: 'pass one truth value and one prediction per item, in the same order',
    });
  }
}

function checkFinite(what: string, xs: readonly number[]): void {
  const bad = xs.find((x) => !Number.isFinite(x));
  if (bad !== undefined) {
    throw new DistilrankError('BAD_INPUT', `${what}: value ${bad} is not a finite number`, {
      hint: 'drop or fill missing values before computing the metric',
    });
  }
}

/** Share of items where pred equals truth. Empty input => NaN (no items, no accuracy). */
export function accuracy(truth: readonly number[], pred: readonly number[]): number {
  checkLengths('accuracy', truth, pred);
  if (truth.length === 0) return NaN;
  let hits = 0;
  for (let i = 0; i < truth.length; i++) if (truth[i] === pred[i]) hits++;
  return hits / truth.length;
}

/**
 * Counts of (truth, pred) pairs: rows follow `classes` for truth, columns for pred. A label that is
 * not in `classes` is BAD_INPUT (silently dropping it would hide a scale mismatch). Empty input
 * gives an all-zero matrix.
 */
export function confusionMatrix(truth: readonly number[], pred: readonly number[], classes: readonly number[]): number[][] {
  checkLengths('confusionMatrix', truth, pred);
  const index = new Map(classes.map((c, i) => [c, i] as const));
  if (index.size !== classes.length) {
    throw new DistilrankError('BAD_INPUT', `confusionMatrix: classes [${classes.join(', ')}] list a class twice`, {
      hint: 'list each class once',
    });
  }
  const m = classes.map(() => classes.map(() => 0));
  const at = (label: number, which: string): number => {
    const i = index.get(label);
    if (i === undefined) {
      throw new DistilrankError('BAD_INPUT', `${which} label ${label} is not one of the classes [${classes.join(', ')}]`, {
        hint: 'pass every label that occurs in the data in `classes`',
      });
    }
    return i;
  };
  for (let n = 0; n < truth.length; n++) {
    const row = m[at(truth[n]!, 'truth')]!;
    const j = at(pred[n]!, 'predicted');
    row[j] = row[j]! + 1;
  }
  return m;
}

/**
 * Unweighted mean over classes of F1 = 2TP / (2TP + FP + FN). A class with no support and no
 * predictions (TP + FP + FN = 0) has no F1 and is left out of the mean, as scikit-learn does with
 * zero_division=np.nan; a class with support but no correct prediction counts as 0. If every class
 * is left out (empty input), the result is NaN.
 */
export function macroF1(truth: readonly number[], pred: readonly number[], classes: readonly number[]): number {
  const m = confusionMatrix(truth, pred, classes);
  let sum = 0;
  let counted = 0;
  for (let c = 0; c < classes.length; c++) {
    const tp = m[c]![c]!;
    const support = m[c]!.reduce((s, x) => s + x, 0);
    const predicted = m.reduce((s, row) => s + row[c]!, 0);
    const denom = support + predicted; // = 2TP + FP + FN
    if (denom === 0) continue;
    sum += (2 * tp) / denom;
    counted++;
  }
  return counted === 0 ? NaN : sum / counted;
}

/**
 * Cohen's kappa, 1 − Σ w·O / Σ w·E over the confusion matrix O and the chance matrix E (outer
 * product of the marginals / n). Weights: 'none' (0 on the diagonal, 1 elsewhere) or 'quadratic'
 * ((i − j)² by position in `classes`, as scikit-learn; pass classes in scale order).
 * Zero division: when the chance disagreement Σ w·E is 0, both raters gave every item one and the
 * same class, so the observed agreement is perfect too; we return 1 (scikit-learn returns NaN).
 * Empty input => NaN.
 */
export function cohenKappa(truth: readonly number[], pred: readonly number[], classes: readonly number[], weights: 'none' | 'quadratic'): number {
  const m = confusionMatrix(truth, pred, classes);
  const n = truth.length;
  if (n === 0) return NaN;
  const rows = m.map((row) => row.reduce((s, x) => s + x, 0));
  const cols = classes.map((_, j) => m.reduce((s, row) => s + row[j]!, 0));
  const w = (i: number, j: number) => (weights === 'quadratic' ? (i - j) ** 2 : i === j ? 0 : 1);
  let observed = 0;
  let expected = 0;
  for (let i = 0; i < classes.length; i++) {
    for (let j = 0; j < classes.length; j++) {
      observed += w(i, j) * m[i]![j]!;
      expected += (w(i, j) * rows[i]! * cols[j]!) / n;
    }
  }
  if (expected === 0) return 1;
  return 1 - observed / expected;
}

/** Root mean squared error (also the expected-grade RMSE of soft labels). Empty input => NaN. */
export function rmse(truth: readonly number[], pred: readonly number[]): number {
  checkLengths('rmse', truth, pred);
  checkFinite('rmse', truth);
  checkFinite('rmse', pred);
  if (truth.length === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < truth.length; i++) sum += (truth[i]! - pred[i]!) ** 2;
  return Math.sqrt(sum / truth.length);
}

/**
 * Kendall's tau-b, which corrects for ties: (concordant − discordant) / sqrt((n0 − n1)(n0 − n2))
 * with n0 = n(n−1)/2 and n1, n2 the pairs tied in a, in b. Computed in O(n log n) by Knight's
 * method (as scipy.stats.kendalltau). Zero division: fewer than 2 items, or a or b constant
 * (every pair tied), => NaN, as scipy.
 */
export function kendallTau(a: readonly number[], b: readonly number[]): number {
  checkLengths('kendallTau', a, b);
  checkFinite('kendallTau', a);
  checkFinite('kendallTau', b);
  const n = a.length;
  if (n < 2) return NaN;

  // Sort by (a, b); count pairs tied in a (n1) and tied in both (n3).
  const idx = [...a.keys()].sort((i, j) => a[i]! - a[j]! || b[i]! - b[j]!);
  const n1 = tiedPairs(idx, (i, j) => a[i] === a[j]);
  const n3 = tiedPairs(idx, (i, j) => a[i] === a[j] && b[i] === b[j]);
  // Sorting that order by b with a stable merge sort: each swap is a discordant pair.
  const swaps = mergeSortCountingSwaps(idx, b);
  const n2 = tiedPairs(idx, (i, j) => b[i] === b[j]);

  const n0 = (n * (n - 1)) / 2;
  const denom = Math.sqrt((n0 - n1) * (n0 - n2));
  if (denom === 0) return NaN;
  return (n0 - n1 - n2 + n3 - 2 * swaps) / denom;
}

/** Pairs within runs of consecutive equal elements of `order`. */
function tiedPairs(order: readonly number[], same: (i: number, j: number) => boolean): number {
  let pairs = 0;
  let run = 1;
  for (let t = 1; t <= order.length; t++) {
    if (t < order.length && same(order[t - 1]!, order[t]!)) {
      run++;
    } else {
      pairs += (run * (run - 1)) / 2;
      run = 1;
    }
  }
  return pairs;
}

/** Stable merge sort of `order` by key[i] ascending, in place; returns the number of inversions. */
function mergeSortCountingSwaps(order: number[], key: readonly number[]): number {
  let swaps = 0;
  let buf = order.slice();
  let src = order.slice();
  for (let width = 1; width < src.length; width *= 2) {
    for (let lo = 0; lo < src.length; lo += 2 * width) {
      const mid = Math.min(lo + width, src.length);
      const hi = Math.min(lo + 2 * width, src.length);
      let i = lo;
      let j = mid;
      let o = lo;
      while (i < mid && j < hi) {
        if (key[src[j]!]! < key[src[i]!]!) {
          swaps += mid - i;
          buf[o++] = src[j++]!;
        } else {
          buf[o++] = src[i++]!;
        }
      }
      while (i < mid) buf[o++] = src[i++]!;
      while (j < hi) buf[o++] = src[j++]!;
    }
    [src, buf] = [buf, src];
  }
  for (let t = 0; t < src.length; t++) order[t] = src[t]!;
  return swaps;
}

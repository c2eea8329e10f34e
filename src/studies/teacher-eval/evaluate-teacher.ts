/**
 * The teacher-vs-human agreement report (`teacher eval`): the teacher judges the human-judged pairs of
 * a calibration split (dev) and an evaluation split (test), through the label cache, so each pair is
 * paid for once and every later run reads the cache; its distributions are calibrated to the human
 * scale on the calibration split (temperature + per-level bias, ./temperature.ts) and compared with the
 * human levels of the evaluation split, raw and calibrated; optionally, systems are ranked by nDCG
 * with human qrels and with teacher qrels, and the two orderings compared (Kendall's τ-b), which is
 * what a teacher used as an offline judge must get right.
 *
 * Label references: the cache records which data set pair a label answers (`label_refs`). These
 * labels are of dev/test pairs, which must never become training data (distillation reads
 * `labelsFor(dataset, …)`), so they are recorded under `evalRefDataset(dataset)` ("NAME:teacher-eval",
 * never a data set name), not under the data set itself. The labels themselves are keyed by text as
 * always, so they are never paid twice.
 */
import { DistilrankError, unknownName } from '../../core/index.ts';
import { evaluateRun, type Qrels, type Run, kendallTau } from '../../metrics/index.ts';
import { expectedLevel, labelAgreement } from '../../eval/index.ts';
import {
  labelKey,
  type LabelCache,
  itemText,
  runLabelJob,
  type JobClock,
  type LabelBudget,
  type LabelJobSummary,
  type LabelProgress,
  type RetryPolicy,
  type StopReason,
} from '../../label/index.ts';
import type { Split, Dataset } from '../../store/index.ts';
import { applyCalibration, fitCalibration, meanNll, type Calibration, type CalibrationOptions } from './temperature.ts';
import { type Teacher, type TeacherPair } from '../../teacher/index.ts';
import { addCost, ZERO_COST, type CallCost } from '../../jobs/index.ts';

/** The `dataset` under which the labels of evaluation pairs are referenced in the label cache. */
export const evalRefDataset = (dataset: string): string => `${dataset}:teacher-eval`;

export interface TeacherEvalSystem {
  name: string;
  /** Query id → scored items, on the evaluation split (e.g. random, bm25, student rerank runs). */
  run: Run;
}

export interface EvaluateTeacherOptions {
  dataset: Dataset;
  teacher: Teacher;
  cache: LabelCache;
  /** Split the calibration is fitted on (default 'dev'). */
  calibrationSplit?: Split;
  /** Split the agreement is measured on (default 'test'). */
  evalSplit?: Split;
  judgmentSet?: string;
  concurrency?: number;
  /** This run's spend across both labelling jobs (calibration first, evaluation with what is left). */
  budget?: LabelBudget;
  retry?: Partial<RetryPolicy>;
  signal?: AbortSignal;
  clock?: JobClock;
  onProgress?: (stage: 'calibration' | 'evaluation', p: LabelProgress) => void;
  /** Characters of item text per item (itemText's budget; default as the labelling pool). */
  itemTextBudget?: number;
  calibration?: CalibrationOptions;
  /** Systems to rank with human and with teacher qrels. */
  systems?: readonly TeacherEvalSystem[];
  /** Ranking measure for the systems (default nDCG@10). */
  measure?: string;
}

/** Agreement of one set of distributions with the human levels (same keys as eval's LabelReport, plus NLL). */
export interface TeacherAgreement {
  pairs: number;
  metrics: {
    accuracy: number;
    macro_F1: number;
    kappa: number;
    kappa_quadratic: number;
    RMSE_expected_level: number;
    /** Mean negative log-likelihood of the human level, nats per pair (log p clamped at log 1e-6). */
    NLL: number;
  };
  /** Rows: human level L1…L5; columns: the teacher's argmax level. */
  confusion: number[][];
}

export interface TeacherJobReport {
  /** Judged pairs of the split given to the job. */
  pairs: number;
  labelled: number;
  cached: number;
  duplicates: number;
  failed: number;
  remaining: number;
  /** 'skipped': not run, because the calibration job stopped on a fatal error or an abort. */
  stoppedBy: StopReason | 'skipped';
  attempts: number;
  cost: CallCost;
  /** Judged pairs without a teacher label after the job (failed, or left by a stop): left out of the metrics. */
  unlabelled: number;
  error?: { kind: string; message: string };
}

export interface SystemScore {
  name: string;
  /** Mean of the measure over the evaluated queries, with human qrels and with teacher qrels. */
  human: number;
  teacher: number;
  /** 1 = best; equal values share a rank. */
  rankHuman: number;
  rankTeacher: number;
}

export interface SystemAgreement {
  measure: string;
  queries: number;
  /** Judged pairs in both qrels, and the share where the teacher's gain equals the human gain. */
  pairs: number;
  gainAgreement: number;
  systems: SystemScore[];
  /** Kendall's τ-b between the system scores with human and with teacher qrels; NaN with a note when undefined. */
  kendallTau: number;
  note?: string;
}

export interface TeacherEvalReport {
  dataset: string;
  teacher: string;
  model: string;
  promptVersion: string;
  judgmentSet: string;
  splits: { calibration: Split; evaluation: Split };
  /** Labelled pairs used: to fit the calibration, to measure agreement. */
  pairs: { calibration: number; evaluation: number };
  calibration: Calibration;
  raw: TeacherAgreement;
  calibrated: TeacherAgreement;
  jobs: { calibration: TeacherJobReport; evaluation: TeacherJobReport };
  /** This run's spend (labels already cached cost nothing now). */
  cost: { calibration: CallCost; evaluation: CallCost; total: CallCost };
  systems?: SystemAgreement;
  /**
   * The teacher as a ranker of the evaluation split's judged items (the rerank protocol): each
   * query's labelled items ordered by the teacher's raw expected level, scored with the human qrels.
   */
  rerank: { measure: string; value: number; queries: number };
  notes: string[];
}

interface JudgedPair {
  pair: TeacherPair;
  level: number;
  /** Soft-label expectation where present, else the level. */
  expected: number;
  gain: number;
}

function judgedPairs(dataset: Dataset, split: Split, judgmentSet: string, budgetChars: number | undefined): JudgedPair[] {
  const queries = new Map(dataset.storedQueries(split).map((q) => [q.id, q.text] as const));
  const judgments = dataset.storedJudgments({ split, judgmentSet }).filter((j) => queries.has(j.queryId));
  const texts = new Map<string, string>();
  const ids = [...new Set(judgments.map((j) => j.itemId))];
  for (let i = 0; i < ids.length; i += 5000) {
    for (const item of dataset.storedItems(ids.slice(i, i + 5000))) texts.set(item.id, itemText(item, budgetChars));
  }
  const out: JudgedPair[] = [];
  for (const j of judgments) {
    const text = texts.get(j.itemId);
    if (text === undefined) continue;
    out.push({
      pair: { queryId: j.queryId, queryText: queries.get(j.queryId)!, itemId: j.itemId, itemText: text },
      level: j.level,
      expected: j.soft ? j.soft.reduce((s, p, i) => s + p * (i + 1), 0) : j.level,
      gain: j.gain,
    });
  }
  return out;
}

function remainingBudget(budget: LabelBudget | undefined, spent: CallCost): LabelBudget | undefined {
  if (!budget) return undefined;
  const left = (limit: number | undefined, used: number) => (limit === undefined ? undefined : Math.max(0, limit - used));
  const calls = left(budget.calls, spent.calls);
  const tokens = left(budget.tokens, spent.inputTokens + spent.outputTokens);
  const usd = left(budget.usd, spent.usd);
  return { ...(calls !== undefined ? { calls } : {}), ...(tokens !== undefined ? { tokens } : {}), ...(usd !== undefined ? { usd } : {}) };
}

function jobReport(pairs: number, s: LabelJobSummary | null, unlabelled: number): TeacherJobReport {
  if (!s) {
    return { pairs, labelled: 0, cached: 0, duplicates: 0, failed: 0, remaining: pairs, stoppedBy: 'skipped', attempts: 0, cost: { ...ZERO_COST }, unlabelled };
  }
  return {
    pairs,
    labelled: s.labelled,
    cached: s.cached,
    duplicates: s.duplicates,
    failed: s.failed,
    remaining: s.remaining,
    stoppedBy: s.stoppedBy,
    attempts: s.attempts,
    cost: s.cost,
    unlabelled,
    ...(s.error ? { error: { kind: s.error.kind, message: s.error.message } } : {}),
  };
}

/** The teacher's distributions for the pairs that have a label in the cache (row-major n×5), and which pairs those are. */
function readLabels(cache: LabelCache, teacher: Teacher, judged: readonly JudgedPair[]): { pairs: JudgedPair[]; probs: Float32Array } {
  const found: Array<{ j: JudgedPair; d: readonly number[] }> = [];
  for (const j of judged) {
    const label = cache.get(labelKey(teacher, j.pair.queryText, j.pair.itemText));
    if (label) found.push({ j, d: label.distribution });
  }
  const probs = new Float32Array(found.length * 5);
  found.forEach(({ d }, i) => probs.set(d, i * 5));
  return { pairs: found.map((f) => f.j), probs };
}

function teacherAsRanker(pairs: readonly JudgedPair[], probs: Float32Array, measure: string): TeacherEvalReport['rerank'] {
  const run: Run = new Map();
  const qrels: Qrels = new Map();
  pairs.forEach((j, i) => {
    const q = j.pair.queryId;
    if (!run.has(q)) {
      run.set(q, []);
      qrels.set(q, new Map());
    }
    run.get(q)!.push({ itemId: j.pair.itemId, score: expectedLevel(probs, i) });
    qrels.get(q)!.set(j.pair.itemId, j.gain);
  });
  const ev = evaluateRun(run, qrels, [measure]);
  return { measure, value: ev.mean[measure] ?? NaN, queries: ev.queries };
}

export function teacherAgreement(probs: ArrayLike<number>, truth: readonly number[], truthExpected: readonly number[]): TeacherAgreement {
  const agreement = labelAgreement(probs, truth, truthExpected);
  return { ...agreement, metrics: { ...agreement.metrics, NLL: meanNll(probs, truth) } };
}

/** Competition ranks (1 = highest value; equal values share the smaller rank; NaN ranks last). */
function ranks(values: readonly number[]): number[] {
  const v = values.map((x) => (Number.isNaN(x) ? -Infinity : x));
  return v.map((x) => 1 + v.filter((y) => y > x).length);
}

function systemAgreement(systems: readonly TeacherEvalSystem[], pairs: readonly JudgedPair[], calibrated: Float32Array, measure: string): SystemAgreement {
  const names = new Set<string>();
  for (const s of systems) {
    if (names.has(s.name)) {
      throw new DistilrankError('DUPLICATE_ID', `system "${s.name}" is listed twice`, { field: 'systems', hint: 'give each system its own name' });
    }
    names.add(s.name);
  }
  const human: Qrels = new Map();
  const teacher: Qrels = new Map();
  let agree = 0;
  pairs.forEach((j, i) => {
    const e = expectedLevel(calibrated, i);
    const gain = Math.min(5, Math.max(1, Math.round(e))) - 1;
    if (gain === j.gain) agree += 1;
    const { queryId, itemId } = j.pair;
    if (!human.has(queryId)) human.set(queryId, new Map());
    if (!teacher.has(queryId)) teacher.set(queryId, new Map());
    human.get(queryId)!.set(itemId, j.gain);
    teacher.get(queryId)!.set(itemId, gain);
  });
  const queries = [...human.keys()].sort();
  const humanScores = systems.map((s) => evaluateRun(s.run, human, [measure], { queries }).mean[measure]!);
  const teacherScores = systems.map((s) => evaluateRun(s.run, teacher, [measure], { queries }).mean[measure]!);
  const rh = ranks(humanScores);
  const rt = ranks(teacherScores);
  let tau = NaN;
  let note: string | undefined;
  if (systems.length < 3) note = `${systems.length} system${systems.length === 1 ? '' : 's'}: a ranking agreement needs at least 3`;
  else if (!queries.length) note = 'no evaluation query has a labelled pair: no ranking agreement';
  else {
    tau = kendallTau(humanScores, teacherScores);
    if (Number.isNaN(tau)) note = 'every system scores the same under human or teacher qrels: τ is undefined';
  }
  return {
    measure,
    queries: queries.length,
    pairs: pairs.length,
    gainAgreement: pairs.length ? agree / pairs.length : NaN,
    systems: systems.map((s, i) => ({ name: s.name, human: humanScores[i]!, teacher: teacherScores[i]!, rankHuman: rh[i]!, rankTeacher: rt[i]! })),
    kendallTau: tau,
    ...(note ? { note } : {}),
  };
}

/**
 * Run the teacher on the judged pairs of both splits (through the label cache: cached pairs are not
 * requested), fit the calibration on the calibration split, and report agreement with the human
 * levels of the evaluation split, raw and calibrated. Pairs left without a label (failures, budget
 * stop) are left out, and counted in `jobs.*.unlabelled`. When the calibration job stops on a fatal
 * error or an abort, the evaluation job is skipped: the report says so (`stoppedBy`, `error`), and
 * the caller decides whether that is an error (the CLI: TEACHER_FAILED).
 */
export async function evaluateTeacher(opts: EvaluateTeacherOptions): Promise<TeacherEvalReport> {
  const { dataset, teacher, cache } = opts;
  const judgmentSet = opts.judgmentSet ?? dataset.defaultJudgmentSet;
  if (!dataset.judgmentSets.includes(judgmentSet)) throw unknownName('judgment set', judgmentSet, dataset.judgmentSets);
  const calibrationSplit = opts.calibrationSplit ?? 'dev';
  const evalSplit = opts.evalSplit ?? 'test';
  const measure = opts.measure ?? 'nDCG@10';
  const notes: string[] = [];
  if (calibrationSplit === evalSplit) notes.push(`calibrated and evaluated on the same split (${evalSplit}): the calibrated numbers are optimistic`);

  const calJudged = judgedPairs(dataset, calibrationSplit, judgmentSet, opts.itemTextBudget);
  const evalJudged = judgedPairs(dataset, evalSplit, judgmentSet, opts.itemTextBudget);
  if (!evalJudged.length) {
    throw new DistilrankError('BAD_INPUT', `the ${evalSplit} split of ${dataset} has no judged pairs (judgment set ${judgmentSet})`, {
      field: 'split',
      hint: 'evaluate on a split with judged queries, or ingest the data set with other split fractions',
    });
  }

  const job = (stage: 'calibration' | 'evaluation', judged: readonly JudgedPair[], budget: LabelBudget | undefined) =>
    runLabelJob({
      cache,
      teacher,
      pairs: judged.map((j) => j.pair),
      dataset: evalRefDataset(dataset.name),
      ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
      ...(budget ? { budget } : {}),
      ...(opts.retry ? { retry: opts.retry } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.clock ? { clock: opts.clock } : {}),
      ...(opts.onProgress ? { onProgress: (p: LabelProgress) => opts.onProgress!(stage, p) } : {}),
    });
  const calJob = await job('calibration', calJudged, opts.budget);
  const evalJob =
    calJob.stoppedBy === 'fatal' || calJob.stoppedBy === 'aborted' ? null : await job('evaluation', evalJudged, remainingBudget(opts.budget, calJob.cost));

  const cal = readLabels(cache, teacher, calJudged);
  const ev = readLabels(cache, teacher, evalJudged);
  const calibration = fitCalibration(
    cal.probs,
    cal.pairs.map((j) => j.level),
    opts.calibration,
  );
  if (calibration.note) notes.push(calibration.note);
  const calibrated = applyCalibration(calibration, ev.probs);
  const truth = ev.pairs.map((j) => j.level);
  const truthExpected = ev.pairs.map((j) => j.expected);
  const jobs = {
    calibration: jobReport(calJudged.length, calJob, calJudged.length - cal.pairs.length),
    evaluation: jobReport(evalJudged.length, evalJob, evalJudged.length - ev.pairs.length),
  };
  for (const [stage, j] of Object.entries(jobs)) {
    if (j.unlabelled) notes.push(`${stage}: ${j.unlabelled} of ${j.pairs} judged pairs have no teacher label (stopped: ${j.stoppedBy}) and are left out`);
  }
  const evalCost = evalJob ? evalJob.cost : { ...ZERO_COST };
  const report: TeacherEvalReport = {
    dataset: dataset.name,
    teacher: teacher.name,
    model: teacher.model,
    promptVersion: teacher.promptVersion,
    judgmentSet,
    splits: { calibration: calibrationSplit, evaluation: evalSplit },
    pairs: { calibration: cal.pairs.length, evaluation: ev.pairs.length },
    calibration,
    raw: teacherAgreement(ev.probs, truth, truthExpected),
    calibrated: teacherAgreement(calibrated, truth, truthExpected),
    jobs,
    cost: { calibration: calJob.cost, evaluation: evalCost, total: addCost(calJob.cost, evalCost) },
    rerank: teacherAsRanker(ev.pairs, ev.probs, measure),
    notes,
  };
  if (opts.systems) {
    report.systems = systemAgreement(opts.systems, ev.pairs, calibrated, measure);
    if (report.systems.note) notes.push(report.systems.note);
  }
  return report;
}

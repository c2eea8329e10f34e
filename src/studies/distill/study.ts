/**
 * The distillation study: the two tables that tell a user whether a teacher is worth it, on their own
 * data set, from one call (`distilrank distill`, `demo`, `npm run bench:distill`):
 *
 * 1. the scaling curve — the student on human labels only, then on human + teacher labels at 1×, 2×,
 *    5×, 10× … the number of human-labelled training pairs, evaluated on human test labels only;
 * 2. the ROI table — per model (BM25, student-human, student-distilled, the teacher): quality,
 *    latency per pair and per query, cost per 1,000 queries, the share of the teacher's gain over
 *    BM25 the model keeps, and how many times cheaper than the teacher it is.
 *
 * Teacher labels come from the budgeted, cached labelling job (src/label), so rerunning the study
 * never pays twice; the pool is the top K BM25 candidates of the training queries, with K just large
 * enough for the largest multiple. Each multiple takes a prefix of one seeded order of the labels, so
 * a larger multiple adds labels rather than reshuffling them.
 */
import { join } from 'node:path';
import { calibrateRanker, evaluate, evaluateLabels, percentile } from '../../eval/index.ts';
import {
  buildPool,
  itemText,
  runLabelJob,
  seededPairOrder,
  type LabelBudget,
  type LabelCache,
  type LabelJobSummary,
  type LabelProgress,
} from '../../label/index.ts';
import { Bm25Ranker, type LevelPredictor, type Ranker } from '../../retrieve/index.ts';
import type { Dataset } from '../../store/index.ts';
import { DEFAULT_NEGATIVES, readStudentArtifact, StudentRanker, trainStudent, writeStudentArtifact, type NegativeSampling } from '../../student/index.ts';
import type { Teacher } from '../../teacher/index.ts';
import { evaluateTeacher, type TeacherEvalReport } from '../teacher-eval/evaluate-teacher.ts';

export const DEFAULT_MULTIPLES: readonly number[] = [1, 2, 5, 10];
/** What one core-hour of CPU costs, for the cost of local models (an on-demand cloud vCPU, roughly). */
export const DEFAULT_CPU_USD_PER_HOUR = 0.04;
/** Candidates scored per query in the latency and cost columns (a typical re-ranking depth). */
export const ROI_CANDIDATES = 100;
/** How deep in BM25's ranking the teacher's pool reaches (the student re-ranks BM25's top 200). */
export const POOL_DEPTH = 200;

export interface DistillStudyOptions {
  dataset: Dataset;
  teacher: Teacher;
  /** True when the teacher costs money per call (its cost column comes from its recorded token prices). */
  teacherIsPriced: boolean;
  cache: LabelCache;
  /** Student artifacts go to OUTDIR/student-human and OUTDIR/student-distilled-<m>x. */
  outDir: string;
  multiples?: readonly number[];
  /** Loss weight of teacher rows (human rows weigh 1). */
  teacherWeight?: number;
  /**
   * Sampled unjudged BM25 candidates as L1 rows in the distilled students too (default: the human-only
   * student's DEFAULT_NEGATIVES, so every row of the curve differs only in its teacher labels; perQuery
   * 0 turns them off). A sampled pair the teacher has labelled takes the teacher's label.
   */
  negatives?: NegativeSampling;
  judgmentSet?: string;
  /** Labelling job settings for the pool and for the teacher's test pairs. */
  concurrency?: number;
  budget?: LabelBudget;
  /** Test queries whose candidates are timed (students, BM25; default 300). */
  latencyQueries?: number;
  /** Test queries whose candidates the (unpriced) teacher judges for its latency (default 20). */
  teacherLatencyQueries?: number;
  cpuUsdPerHour?: number;
  /** A human-only student already trained on this data set (its artifact folder): evaluated, not retrained. */
  humanStudent?: { dir: string; trainSeconds: number };
  onStage?: (stage: string) => void;
  onProgress?: (stage: string, p: LabelProgress) => void;
}

export interface ScalingRow {
  /** 'human' or 'human+teacher' at a multiple. */
  labels: string;
  multiple: number;
  humanPairs: number;
  teacherPairs: number;
  rerank: number;
  retrieval: number;
  accuracy: number;
  kappaQuadratic: number;
  trainSeconds: number;
  artifact: string;
}

export interface RoiRow {
  model: string;
  kind: 'baseline' | 'student' | 'teacher';
  rerank: number;
  /** NaN for the teacher (judging the whole retrieval depth of every test query is not measured). */
  retrieval: number;
  kappaQuadratic: number;
  usPerPair: number;
  p50MsPerQuery: number;
  p99MsPerQuery: number;
  usdPerThousandQueries: number;
  /** How the cost was measured. */
  costBasis: string;
  /** (model − BM25) / (teacher − BM25) on rerank nDCG@10 and on κ; NaN for BM25, the teacher, and where the teacher does not beat BM25. */
  shareOfTeacherGain: { rerank: number; kappa: number };
  /** Teacher cost ÷ this model's cost. */
  cheaperThanTeacher: number;
}

export interface DistillStudy {
  dataset: string;
  teacher: { name: string; model: string; promptVersion: string };
  pool: { k: number; pairs: number; candidates: number; job: LabelJobSummary; seconds: number };
  teacherEval: TeacherEvalReport;
  curve: ScalingRow[];
  /** The distilled row with the best rerank + retrieval nDCG@10 sum. */
  best: ScalingRow;
  roi: RoiRow[];
  cpuUsdPerHour: number;
  notes: string[];
}

/** Timing of `score` over ROI_CANDIDATES BM25 candidates for each query; CPU seconds from process.cpuUsage. */
async function timeScoring(pools: ReadonlyArray<{ text: string; ids: string[] }>, score: (q: string, ids: readonly string[]) => unknown) {
  const times: number[] = [];
  let pairs = 0;
  const cpu0 = process.cpuUsage();
  for (const p of pools) {
    const s = performance.now();
    await score(p.text, p.ids);
    times.push(performance.now() - s);
    pairs += p.ids.length;
  }
  const cpu = process.cpuUsage(cpu0);
  const total = times.reduce((a, b) => a + b, 0);
  return {
    usPerPair: pairs ? (total * 1000) / pairs : NaN,
    p50: percentile(times, 0.5),
    p99: percentile(times, 0.99),
    cpuSecondsPerQuery: (cpu.user + cpu.system) / 1e6 / Math.max(1, pools.length),
  };
}

export async function runDistillStudy(o: DistillStudyOptions): Promise<DistillStudy> {
  const { dataset, teacher, cache } = o;
  const multiples = [...(o.multiples ?? DEFAULT_MULTIPLES)].sort((a, b) => a - b);
  const cpuUsdPerHour = o.cpuUsdPerHour ?? DEFAULT_CPU_USD_PER_HOUR;
  const stage = (s: string) => o.onStage?.(s);
  const notes: string[] = [];
  const bm25 = new Bm25Ranker(dataset);
  const job = { ...(o.concurrency ? { concurrency: o.concurrency } : {}), ...(o.budget ? { budget: o.budget } : {}) };
  const opened: StudentRanker[] = [];

  const evalStudent = async (dir: string) => {
    const s = await StudentRanker.load(dataset, dir);
    opened.push(s);
    const ev = (protocol: 'rerank' | 'retrieval') =>
      evaluate({ dataset, split: 'test', protocol, ranker: s, ...(o.judgmentSet ? { judgmentSet: o.judgmentSet } : {}) });
    const re = (await ev('rerank')).report;
    const rt = (await ev('retrieval')).report;
    const lab = await evaluateLabels({ dataset, split: 'test', predictor: s, ...(o.judgmentSet ? { judgmentSet: o.judgmentSet } : {}) });
    return { s, rerank: re.metrics['nDCG@10']!, retrieval: rt.metrics['nDCG@10']!, accuracy: lab.metrics.accuracy, kappa: lab.metrics.kappa_quadratic };
  };

  try {
    // 1. The human-only student.
    let t0 = performance.now();
    let humanDir: string;
    let humanSeconds: number;
    let humanPairs: number;
    if (o.humanStudent) {
      humanDir = o.humanStudent.dir;
      humanSeconds = o.humanStudent.trainSeconds;
      humanPairs = readStudentArtifact(humanDir).card.split.train.pairs;
    } else {
      stage('training the student on human labels');
      const human = await trainStudent({ dataset, ...(o.judgmentSet ? { judgmentSet: o.judgmentSet } : {}) });
      humanSeconds = (performance.now() - t0) / 1000;
      humanDir = join(o.outDir, 'student-human');
      writeStudentArtifact(humanDir, human.onnx, human.card);
      humanPairs = human.card.split.train.pairs;
    }
    const humanEval = await evalStudent(humanDir);
    const curve: ScalingRow[] = [
      {
        labels: 'human',
        multiple: 0,
        humanPairs,
        teacherPairs: 0,
        rerank: humanEval.rerank,
        retrieval: humanEval.retrieval,
        accuracy: humanEval.accuracy,
        kappaQuadratic: humanEval.kappa,
        trainSeconds: humanSeconds,
        artifact: humanDir,
      },
    ];

    // 2. Teacher labels for the pool: a seeded sample of the top POOL_DEPTH BM25 candidates of the
    // training queries, as large as the largest multiple needs. The pool reaches as deep as the
    // retrieval protocol re-ranks, so the student sees the teacher's view of deep candidates too.
    const trainQueries = dataset.storedQueries('train').length;
    const k = POOL_DEPTH;
    const wanted = Math.round(multiples[multiples.length - 1]! * humanPairs);
    const full = buildPool(dataset, { k, queries: 'train' });
    const pool = seededPairOrder(full).slice(0, wanted);
    stage(
      `teacher ${teacher.name} labels the pool: ${pool.length} of the ${full.length} pairs of the top ${k} BM25 candidates of ${trainQueries} training queries`,
    );
    t0 = performance.now();
    const poolJob = await runLabelJob({
      cache,
      teacher,
      pairs: pool,
      dataset: dataset.name,
      ...job,
      ...(o.onProgress ? { onProgress: (p: LabelProgress) => o.onProgress!('pool', p) } : {}),
    });
    const poolSeconds = (performance.now() - t0) / 1000;
    if (poolJob.stoppedBy !== 'done')
      notes.push(`the pool's labelling job stopped early (${poolJob.stoppedBy}): ${poolJob.remaining} of ${pool.length} pairs are unlabelled`);
    const texts = new Map(dataset.storedQueries().map((q) => [q.id, q.text] as const));
    const inPool = new Set(pool.map((p) => `${p.queryId}\0${p.itemId}`));
    const labels = seededPairOrder(
      cache
        .labelsFor(dataset.name, teacher.name, teacher.model, teacher.promptVersion)
        .filter((r) => texts.has(r.queryId) && inPool.has(`${r.queryId}\0${r.itemId}`))
        .map((r) => ({ queryId: r.queryId, queryText: r.queryText ?? texts.get(r.queryId)!, itemId: r.itemId, distribution: r.distribution })),
    );

    // 3. The scaling curve.
    let best: ScalingRow | null = null;
    let lastN = -1;
    for (const m of multiples) {
      const n = Math.min(labels.length, Math.round(m * humanPairs));
      if (n === lastN) {
        notes.push(
          `${m}×: the pool holds only ${labels.length} teacher labels (${(labels.length / humanPairs).toFixed(1)}× the human pairs), the same as the previous multiple: skipped`,
        );
        continue;
      }
      lastN = n;
      stage(`training the student on human + ${n} teacher labels (${m}×)`);
      t0 = performance.now();
      const trained = await trainStudent({
        dataset,
        labels: 'human+teacher',
        negatives: o.negatives ?? DEFAULT_NEGATIVES,
        ...(o.judgmentSet ? { judgmentSet: o.judgmentSet } : {}),
        teacher: { labels: labels.slice(0, n), weight: o.teacherWeight ?? 1, name: teacher.name, model: teacher.model, promptVersion: teacher.promptVersion },
      });
      const secs = (performance.now() - t0) / 1000;
      const dir = join(o.outDir, `student-distilled-${m}x`);
      writeStudentArtifact(dir, trained.onnx, trained.card);
      const ev = await evalStudent(dir);
      const row: ScalingRow = {
        labels: 'human+teacher',
        multiple: m,
        humanPairs,
        teacherPairs: trained.card.teacher?.pairs ?? 0,
        rerank: ev.rerank,
        retrieval: ev.retrieval,
        accuracy: ev.accuracy,
        kappaQuadratic: ev.kappa,
        trainSeconds: secs,
        artifact: dir,
      };
      curve.push(row);
      if (!best || row.rerank + row.retrieval > best.rerank + best.retrieval) best = row;
    }
    if (!best) throw new Error('no multiple was trained');

    // 4. The teacher against held-out human labels (calibration on dev, agreement and rerank on test).
    stage(`teacher ${teacher.name} judges the dev and test judged pairs`);
    const teacherEval = await evaluateTeacher({
      dataset,
      teacher,
      cache,
      ...(o.judgmentSet ? { judgmentSet: o.judgmentSet } : {}),
      ...job,
      ...(o.onProgress ? { onProgress: (s: string, p: LabelProgress) => o.onProgress!(`teacher ${s}`, p) } : {}),
    });

    // 5. ROI: quality, latency and cost per model.
    stage('timing every model on the test queries');
    const testQueries = dataset.storedQueries('test');
    const pools = testQueries.slice(0, o.latencyQueries ?? 300).map((q) => ({ text: q.text, ids: bm25.retrieve(q.text, ROI_CANDIDATES).map((c) => c.itemId) }));
    const cpuCost = (cpuSecondsPerQuery: number) => (cpuSecondsPerQuery * 1000 * cpuUsdPerHour) / 3600;
    const bestStudent = opened[curve.indexOf(best)]!;
    const models: Array<{ model: string; kind: RoiRow['kind']; ranker: Ranker; levels: LevelPredictor; rerank?: number; retrieval?: number }> = [
      { model: 'bm25', kind: 'baseline', ranker: bm25, levels: await calibrateRanker(bm25, dataset, 'train', o.judgmentSet) },
      { model: 'student (human)', kind: 'student', ranker: humanEval.s, levels: humanEval.s, rerank: humanEval.rerank, retrieval: humanEval.retrieval },
      {
        model: `student (distilled ${best.multiple}×)`,
        kind: 'student',
        ranker: bestStudent,
        levels: bestStudent,
        rerank: best.rerank,
        retrieval: best.retrieval,
      },
    ];
    const roi: RoiRow[] = [];
    for (const m of models) {
      const rerank = m.rerank ?? (await evaluate({ dataset, split: 'test', protocol: 'rerank', ranker: m.ranker })).report.metrics['nDCG@10']!;
      const retrieval = m.retrieval ?? (await evaluate({ dataset, split: 'test', protocol: 'retrieval', ranker: m.ranker })).report.metrics['nDCG@10']!;
      const kappa = (await evaluateLabels({ dataset, split: 'test', predictor: m.levels, ...(o.judgmentSet ? { judgmentSet: o.judgmentSet } : {}) })).metrics
        .kappa_quadratic;
      const t = await timeScoring(pools, (q, ids) => m.ranker.score(q, ids));
      roi.push({
        model: m.model,
        kind: m.kind,
        rerank,
        retrieval,
        kappaQuadratic: kappa,
        usPerPair: t.usPerPair,
        p50MsPerQuery: t.p50,
        p99MsPerQuery: t.p99,
        usdPerThousandQueries: cpuCost(t.cpuSecondsPerQuery),
        costBasis: 'CPU time',
        shareOfTeacherGain: { rerank: NaN, kappa: NaN },
        cheaperThanTeacher: NaN,
      });
    }

    // The teacher: priced teachers from their recorded calls (no new spending), local ones timed here.
    let teacherRow: RoiRow;
    const base = {
      model: `teacher (${teacher.name}: ${teacher.model})`,
      kind: 'teacher' as const,
      rerank: teacherEval.rerank.value,
      retrieval: NaN,
      kappaQuadratic: teacherEval.raw.metrics.kappa_quadratic,
    };
    const totals = cache.totals({ teacher: teacher.name, model: teacher.model, promptVersion: teacher.promptVersion });
    // A teacher that costs money is priced from its recorded calls; one that costs only compute (a
    // local model, or an LLM run here at $0) is timed on this machine.
    if (o.teacherIsPriced && totals.cost.usd > 0) {
      const perPair = (x: number) => (totals.labels ? x / totals.labels : NaN);
      teacherRow = {
        ...base,
        usPerPair: perPair(totals.cost.seconds) * 1e6,
        p50MsPerQuery: NaN,
        p99MsPerQuery: NaN,
        usdPerThousandQueries: perPair(totals.cost.usd) * ROI_CANDIDATES * 1000,
        costBasis: `tokens × configured price (${totals.labels} recorded calls, ${Math.round(perPair(totals.cost.inputTokens + totals.cost.outputTokens))} tokens/pair)`,
        shareOfTeacherGain: { rerank: NaN, kappa: NaN },
        cheaperThanTeacher: 1,
      };
    } else {
      const sample = pools.slice(0, o.teacherLatencyQueries ?? 20);
      const itemTexts = new Map<string, string>();
      for (const it of dataset.storedItems([...new Set(sample.flatMap((p) => p.ids))])) itemTexts.set(it.id, itemText(it));
      const t = await timeScoring(sample, async (q, ids) => {
        for (const id of ids) await teacher.judge({ queryId: '', queryText: q, itemId: id, itemText: itemTexts.get(id) ?? '' });
      });
      teacherRow = {
        ...base,
        usPerPair: t.usPerPair,
        p50MsPerQuery: t.p50,
        p99MsPerQuery: t.p99,
        usdPerThousandQueries: cpuCost(t.cpuSecondsPerQuery),
        costBasis: `CPU time (${sample.length} queries)`,
        shareOfTeacherGain: { rerank: NaN, kappa: NaN },
        cheaperThanTeacher: 1,
      };
    }
    const bm = roi[0]!;
    for (const r of roi) {
      if (r.kind !== 'baseline') {
        // A share of a gain the teacher does not have is no number (NaN, printed n/a).
        const share = (x: number, base: number, teach: number) => (teach > base ? (x - base) / (teach - base) : NaN);
        r.shareOfTeacherGain = {
          rerank: share(r.rerank, bm.rerank, teacherRow.rerank),
          kappa: share(r.kappaQuadratic, bm.kappaQuadratic, teacherRow.kappaQuadratic),
        };
      }
      r.cheaperThanTeacher = teacherRow.usdPerThousandQueries / r.usdPerThousandQueries;
    }
    if (teacherRow.rerank <= bm.rerank)
      notes.push(
        `the teacher does not beat BM25 on rerank nDCG@10 (${teacherRow.rerank.toFixed(4)} vs ${bm.rerank.toFixed(4)}): shares of its gain are not meaningful`,
      );
    roi.push(teacherRow);

    return {
      dataset: dataset.name,
      teacher: { name: teacher.name, model: teacher.model, promptVersion: teacher.promptVersion },
      pool: { k, pairs: pool.length, candidates: full.length, job: poolJob, seconds: poolSeconds },
      teacherEval,
      curve,
      best,
      roi,
      cpuUsdPerHour,
      notes,
    };
  } finally {
    for (const s of opened) await s.close();
  }
}

/**
 * Teacher evaluation: calibration of teacher distributions to the human scale (temperature + bias on
 * log-probabilities: recovers a known distortion, identity on calibrated input, identity with a note
 * on too few pairs), the teacher-vs-human agreement report on a tiny in-test store with deterministic
 * in-test teachers (hand-computed metrics, labels paid once through the label cache, calibration
 * fixing a biased teacher, Kendall τ of system orderings, budgets) and the SVG charts.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confusionSvg, escapeXml, lineSvg } from '../src/eval/plot.ts';
import type { Run } from '../src/metrics/measures.ts';
import { LabelCache } from '../src/label/index.ts';
import type { LevelDistribution } from '../src/core/index.ts';
import type { Store } from '../src/store/index.ts';
import { type DatasetBundle } from '../src/ingest/index.ts';
import { applyCalibration, fitCalibration, meanNll } from '../src/studies/teacher-eval/temperature.ts';
import { evalRefDataset, evaluateTeacher, type TeacherEvalSystem } from '../src/studies/teacher-eval/evaluate-teacher.ts';
import type { Teacher, TeacherJudgment, TeacherPair } from '../src/teacher/types.ts';
import { caught, ingestedStore, useTempDir } from './helpers.ts';
import { COLOURS, PRODUCTS, lcg, wordOverlapBundle } from './synth-catalogue.ts';

function softmax(z: readonly number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/**
 * n pairs whose human level is drawn from a calibrated distribution q (random logits), and a teacher
 * distribution p distorted from q so that calibrating p with (T, bias) gives back q exactly:
 * log p_k = T·(log q_k − b_k) + const.
 */
function synthetic(n: number, T: number, bias: readonly number[], seed = 7) {
  const rand = lcg(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const pred = new Float32Array(n * 5);
  const calibrated = new Float32Array(n * 5);
  const truth: number[] = [];
  for (let i = 0; i < n; i++) {
    const q = softmax([0, 1, 2, 3, 4].map(() => 1.2 * gauss()));
    let u = rand();
    let y = 5;
    for (let k = 0; k < 5; k++) {
      u -= q[k]!;
      if (u < 0) {
        y = k + 1;
        break;
      }
    }
    truth.push(y);
    const p = softmax(q.map((x, k) => T * (Math.log(x) - bias[k]!)));
    pred.set(p, i * 5);
    calibrated.set(q, i * 5);
  }
  return { pred, calibrated, truth };
}

describe('fitCalibration', () => {
  it('recovers a known temperature and bias from a distorted teacher', () => {
    const T = 2.5;
    const bias = [0, 0.8, -0.5, 0.3, -1.0];
    const { pred, calibrated, truth } = synthetic(4000, T, bias);
    const cal = fitCalibration(pred, truth);
    expect(cal.pairs).toBe(4000);
    expect(cal.note).toBeUndefined();
    expect(cal.nllAfter).toBeLessThan(cal.nllBefore - 0.5);
    expect(Math.abs(cal.temperature - T)).toBeLessThan(0.2);
    expect(cal.bias[0]).toBe(0);
    for (let k = 1; k < 5; k++) expect(Math.abs(cal.bias[k]! - bias[k]!)).toBeLessThan(0.2);
    // The fitted NLL is about that of the true calibrated distributions (it may be lower: it is fitted).
    expect(Math.abs(cal.nllAfter - meanNll(calibrated, truth))).toBeLessThan(0.01);
    expect(meanNll(applyCalibration(cal, pred), truth)).toBeCloseTo(cal.nllAfter, 5);
    // Deterministic, and JSON round-trips.
    expect(fitCalibration(pred, truth)).toEqual(cal);
    expect(JSON.parse(JSON.stringify(cal))).toEqual(cal);
  });

  it('leaves a calibrated teacher (nearly) alone', () => {
    const { calibrated, truth } = synthetic(4000, 1, [0, 0, 0, 0, 0], 11);
    const cal = fitCalibration(calibrated, truth);
    expect(Math.abs(cal.temperature - 1)).toBeLessThan(0.08);
    for (const b of cal.bias) expect(Math.abs(b)).toBeLessThan(0.12);
    expect(cal.nllAfter).toBeLessThanOrEqual(cal.nllBefore);
    expect(cal.nllBefore - cal.nllAfter).toBeLessThan(0.005);
  });

  it('is the identity, with a note, below 20 pairs', () => {
    const { pred, truth } = synthetic(19, 2.5, [0, 1, 0, 0, 0]);
    const cal = fitCalibration(pred, truth);
    expect(cal.temperature).toBe(1);
    expect(cal.bias).toEqual([0, 0, 0, 0, 0]);
    expect(cal.iterations).toBe(0);
    expect(cal.note).toMatch(/19 calibration pairs, fewer than 20: identity/);
    expect(cal.nllAfter).toBe(cal.nllBefore);
    const out = applyCalibration(cal, pred);
    for (let i = 0; i < pred.length; i++) expect(out[i]).toBeCloseTo(pred[i]!, 5);
    // With 20 it fits.
    const twenty = synthetic(20, 2.5, [0, 1, 0, 0, 0]);
    expect(fitCalibration(twenty.pred, twenty.truth).note).toBeUndefined();
    expect(fitCalibration(new Float32Array(0), []).note).toMatch(/0 calibration pairs/);
  });

  it('refuses mismatched lengths, levels off the scale and bad probabilities', () => {
    expect(caught(() => fitCalibration(new Float32Array(9), [1, 2])).code).toBe('BAD_INPUT');
    expect(caught(() => fitCalibration(new Float32Array(10).fill(0.2), [1, 6])).code).toBe('BAD_INPUT');
    expect(caught(() => fitCalibration([0.2, 0.2, 0.2, 0.2, NaN], [1])).code).toBe('BAD_INPUT');
    expect(caught(() => applyCalibration({ ...fitCalibration([], []), temperature: 0 }, [0.2, 0.2, 0.2, 0.2, 0.2])).code).toBe('BAD_INPUT');
  });

  it('handles zero probabilities and a teacher that is always right (finite parameters)', () => {
    const truth = Array.from({ length: 50 }, (_, i) => (i % 5) + 1);
    const pred = new Float32Array(250);
    truth.forEach((y, i) => (pred[i * 5 + y - 1] = 1));
    const cal = fitCalibration(pred, truth);
    expect(Number.isFinite(cal.temperature) && cal.temperature > 0).toBe(true);
    expect(cal.bias.every(Number.isFinite)).toBe(true);
    expect(cal.nllAfter).toBeLessThanOrEqual(cal.nllBefore);
  });
});

// ---------------------------------------------------------------------------------------------
// A tiny store: 8 colours × 8 products; a query is "colour product"; its judged items are the exact
// item (L5), three of the same product in other colours (L3), three of the same colour (L2) and three
// sharing no word (L1). 20 queries, split 20% / 40% / 40%: 8 dev and 8 test queries, 80 pairs each.

const DS = 'tiny';

const tinyBundle = (name = DS): DatasetBundle =>
  wordOverlapBundle(name, {
    colours: COLOURS,
    products: PRODUCTS.slice(0, 8),
    seed: 3,
    queries: 20,
    queryIdDigits: 2,
    item: () => ({ fields: {} }),
    description: 'tiny synthetic catalogue',
  });

/** A deterministic teacher that knows the human level of each pair and answers `answer(level)`. */
class LookupTeacher implements Teacher {
  readonly name = 'lookup';
  readonly promptVersion = 'p1';
  calls = 0;
  constructor(
    private readonly levels: ReadonlyMap<string, number>,
    private readonly answer: (level: number) => LevelDistribution,
    readonly model = 'biased',
  ) {}

  judge(pair: TeacherPair): Promise<TeacherJudgment> {
    this.calls += 1;
    const level = this.levels.get(`${pair.queryId}|${pair.itemId}`);
    if (level === undefined) throw new Error(`no human level for ${pair.queryId} ${pair.itemId}`);
    return Promise.resolve({
      distribution: this.answer(level),
      cost: { calls: 1, inputTokens: 10, outputTokens: 1, seconds: 0, usd: 0.001 },
      method: 'lookup',
    });
  }
}

/** 0.6 on one level, 0.1 on each other. */
const peaked = (level: number, top = 0.6): LevelDistribution => {
  const rest = (1 - top) / 4;
  const d: LevelDistribution = [rest, rest, rest, rest, rest];
  d[level - 1] = top;
  return d;
};
/** Right, except that L5 pairs are called L4. */
const biased = (level: number) => peaked(level === 5 ? 4 : level);

const tmp = useTempDir('distilrank-teacher-eval-');
let store: Store;
let levels: Map<string, number>;
const freshCache = () => LabelCache.open(tmp.fresh('labels', '.sqlite'));

beforeAll(() => {
  store = ingestedStore(join(tmp.path, 'store.sqlite'), tinyBundle(), { splitFractions: { train: 0.2, dev: 0.4, test: 0.4 } });
  levels = new Map(store.judgments(DS).map((j) => [`${j.queryId}|${j.itemId}`, j.level]));
});
afterAll(() => {
  store.close();
});

describe('evaluateTeacher', () => {
  it('reports hand-computed agreement, pays each pair once, and calibration fixes a biased teacher', async () => {
    const N = store.queries(DS, 'test').length;
    const nDev = store.queries(DS, 'dev').length;
    expect(N).toBe(8);
    expect(nDev).toBe(8);
    const cache = freshCache();
    try {
      const teacher = new LookupTeacher(levels, biased);
      const report = await evaluateTeacher({ dataset: store.dataset(DS), teacher, cache, calibrationSplit: 'dev', evalSplit: 'test', concurrency: 2 });
      expect(report).toMatchObject({ dataset: DS, teacher: 'lookup', model: 'biased', promptVersion: 'p1', judgmentSet: 'default' });
      expect(report.splits).toEqual({ calibration: 'dev', evaluation: 'test' });
      expect(report.pairs).toEqual({ calibration: 10 * nDev, evaluation: 10 * N });
      expect(teacher.calls).toBe(10 * (N + nDev));
      expect(report.cost.total.calls).toBe(10 * (N + nDev));
      expect(report.cost.calibration.usd).toBeCloseTo(0.001 * 10 * nDev, 10);
      expect(report.jobs.evaluation).toMatchObject({ pairs: 10 * N, labelled: 10 * N, cached: 0, unlabelled: 0, stoppedBy: 'done' });

      // Raw: per query 3×L1, 3×L2, 3×L3 right, the L5 item called L4.
      const raw = report.raw;
      expect(raw.pairs).toBe(10 * N);
      expect(raw.confusion).toEqual([
        [3 * N, 0, 0, 0, 0],
        [0, 3 * N, 0, 0, 0],
        [0, 0, 3 * N, 0, 0],
        [0, 0, 0, 0, 0],
        [0, 0, 0, N, 0],
      ]);
      expect(raw.metrics.accuracy).toBeCloseTo(0.9, 10);
      // F1: 1, 1, 1 for L1–L3; 0 for L4 (predicted, never true) and L5 (true, never predicted).
      expect(raw.metrics.macro_F1).toBeCloseTo(0.6, 10);
      // κ: p_o = 0.9, p_e = 3 × 0.3 × 0.3 = 0.27.
      expect(raw.metrics.kappa).toBeCloseTo((0.9 - 0.27) / (1 - 0.27), 10);
      // Quadratic κ: observed Σw·O/n = 0.1 (weight 1 on the L5→L4 cell); expected Σ(i−j)² r_i c_j = 2.38.
      expect(raw.metrics.kappa_quadratic).toBeCloseTo(1 - 0.1 / 2.38, 10);
      // Expected level 0.5·pred + 1.5: errors 1.0 (L1), 0.5 (L2), 0 (L3), 1.5 (L5).
      expect(raw.metrics.RMSE_expected_level).toBeCloseTo(Math.sqrt((3 * 1 + 3 * 0.25 + 0 + 2.25) / 10), 5);
      expect(raw.metrics.NLL).toBeCloseTo(0.9 * -Math.log(0.6) + 0.1 * -Math.log(0.1), 5);
      // As a ranker of each query's judged items: the raw expected level is increasing in the true
      // level (L5 → "L4" still ranks above L3), so every query's order is ideal.
      expect(report.rerank).toEqual({ measure: 'nDCG@10', value: 1, queries: N });

      // Calibrated on dev: the bias moves "L4" answers to L5.
      expect(report.calibration.pairs).toBe(10 * nDev);
      expect(report.calibration.nllAfter).toBeLessThan(report.calibration.nllBefore);
      expect(report.calibration.bias[4]!).toBeGreaterThan(report.calibration.bias[3]!);
      expect(report.calibrated.metrics.accuracy).toBe(1);
      expect(report.calibrated.metrics.NLL).toBeLessThan(raw.metrics.NLL);
      expect(report.calibrated.metrics.RMSE_expected_level).toBeLessThan(raw.metrics.RMSE_expected_level);
      expect(report.calibrated.confusion[4]).toEqual([0, 0, 0, 0, N]);
      expect(report.notes).toEqual([]);

      // Evaluation labels are referenced apart from the data set (never distillation data), and cached.
      expect(cache.labelsFor(DS, 'lookup', 'biased', 'p1')).toEqual([]);
      expect(cache.labelsFor(evalRefDataset(DS), 'lookup', 'biased', 'p1')).toHaveLength(10 * (N + nDev));

      // A second run asks the teacher nothing and reports the same numbers, at no cost.
      const again = await evaluateTeacher({ dataset: store.dataset(DS), teacher, cache, calibrationSplit: 'dev', evalSplit: 'test' });
      expect(teacher.calls).toBe(10 * (N + nDev));
      expect(again.cost.total.calls).toBe(0);
      expect(again.cost.total.usd).toBe(0);
      expect(again.jobs.calibration.cached).toBe(10 * nDev);
      expect(again.jobs.evaluation.cached).toBe(10 * N);
      expect({ ...again, cost: report.cost, jobs: report.jobs }).toEqual(report);
      // The report is JSON.
      expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    } finally {
      cache.close();
    }
  });

  it('ranks systems alike with teacher and human qrels: Kendall τ = 1 when the qrels agree', async () => {
    const cache = freshCache();
    try {
      const teacher = new LookupTeacher(levels, (l) => peaked(l, 0.96), 'sharp');
      // Three systems on the test split's judged items, of distinct quality.
      const make = (score: (level: number) => number): Run => {
        const run: Run = new Map();
        for (const j of store.judgments(DS, { split: 'test' })) {
          const list = run.get(j.queryId) ?? [];
          list.push({ itemId: j.itemId, score: score(j.level) });
          run.set(j.queryId, list);
        }
        return run;
      };
      const systems: TeacherEvalSystem[] = [
        { name: 'reversed', run: make((l) => -l) },
        { name: 'perfect', run: make((l) => l) },
        { name: 'middling', run: make((l) => ({ 1: 2, 2: 3, 3: 5, 4: 1, 5: 4 })[l]!) },
      ];
      const report = await evaluateTeacher({ dataset: store.dataset(DS), teacher, cache, systems });
      const s = report.systems!;
      expect(s.measure).toBe('nDCG@10');
      expect(s.queries).toBe(8);
      expect(s.gainAgreement).toBe(1);
      expect(s.kendallTau).toBe(1);
      expect(s.note).toBeUndefined();
      expect(s.systems.map((x) => x.name)).toEqual(['reversed', 'perfect', 'middling']);
      expect(s.systems.map((x) => x.rankHuman)).toEqual([3, 1, 2]);
      expect(s.systems.map((x) => x.rankTeacher)).toEqual([3, 1, 2]);
      for (const x of s.systems) expect(x.teacher).toBeCloseTo(x.human, 12);
      expect(s.systems[1]!.human).toBeCloseTo(1, 12);
      expect(new Set(s.systems.map((x) => x.human.toFixed(6))).size).toBe(3);

      // A teacher that swaps L1 and L5 orders the systems the other way round.
      const swapped = new LookupTeacher(levels, (l) => peaked(l === 1 ? 5 : l === 5 ? 1 : l, 0.96), 'swapped');
      const cache2 = freshCache();
      try {
        const r2 = await evaluateTeacher({ dataset: store.dataset(DS), teacher: swapped, cache: cache2, systems, calibration: { minPairs: 1e9 } });
        expect(r2.systems!.gainAgreement).toBeCloseTo(0.6, 10);
        expect(r2.systems!.systems.map((x) => x.rankTeacher)).toEqual([1, 3, 2]);
        expect(r2.systems!.kendallTau).toBe(-1);
      } finally {
        cache2.close();
      }

      // Fewer than three systems: NaN, with a note (cached labels: no calls).
      const calls = teacher.calls;
      const two = await evaluateTeacher({ dataset: store.dataset(DS), teacher, cache, systems: systems.slice(0, 2) });
      expect(teacher.calls).toBe(calls);
      expect(two.systems!.kendallTau).toBeNaN();
      expect(two.systems!.note).toMatch(/2 systems: a ranking agreement needs at least 3/);
      expect(two.notes).toContain(two.systems!.note);
      await expect(evaluateTeacher({ dataset: store.dataset(DS), teacher, cache, systems: [systems[0]!, systems[0]!] })).rejects.toMatchObject({
        code: 'DUPLICATE_ID',
      });
    } finally {
      cache.close();
    }
  });

  it('keeps to the budget across both jobs and reports the unlabelled pairs', async () => {
    const cache = freshCache();
    try {
      const teacher = new LookupTeacher(levels, biased);
      const report = await evaluateTeacher({ dataset: store.dataset(DS), teacher, cache, budget: { calls: 100 }, concurrency: 1 });
      expect(teacher.calls).toBe(100);
      expect(report.cost.total.calls).toBe(100);
      expect(report.jobs.calibration).toMatchObject({ labelled: 80, stoppedBy: 'done', unlabelled: 0 });
      expect(report.jobs.evaluation).toMatchObject({ labelled: 20, stoppedBy: 'budget', unlabelled: 60 });
      expect(report.pairs).toEqual({ calibration: 80, evaluation: 20 });
      expect(report.raw.pairs).toBe(20);
      expect(report.notes.some((n) => /evaluation: 60 of 80 judged pairs have no teacher label \(stopped: budget\)/.test(n))).toBe(true);
      // Resuming pays only for the rest.
      const rest = await evaluateTeacher({ dataset: store.dataset(DS), teacher, cache, concurrency: 1 });
      expect(teacher.calls).toBe(160);
      expect(rest.cost.total.calls).toBe(60);
      expect(rest.pairs.evaluation).toBe(80);
    } finally {
      cache.close();
    }
  });

  it('refuses an unknown judgment set and a split without judgments', async () => {
    const cache = freshCache();
    try {
      const teacher = new LookupTeacher(levels, biased);
      await expect(evaluateTeacher({ dataset: store.dataset(DS), teacher, cache, judgmentSet: 'nope' })).rejects.toMatchObject({ code: 'UNKNOWN_NAME' });
      expect(caught(() => store.dataset('absent')).code).toBe('STORE_NOT_FOUND'); // no handle, so nothing to evaluate
      store.ingest(tinyBundle('notest'), { splitFractions: { train: 0.5, dev: 0.5, test: 0 } });
      await expect(evaluateTeacher({ dataset: store.dataset('notest'), teacher, cache })).rejects.toMatchObject({
        code: 'BAD_INPUT',
        details: { field: 'split' },
      });
      expect(teacher.calls).toBe(0);
    } finally {
      cache.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// SVG

/** Tags balance (self-closing ones aside), and the document is one <svg> element. */
function checkSvg(svg: string): void {
  expect(svg.startsWith('<svg ')).toBe(true);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  const stack: string[] = [];
  let roots = 0;
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w-]*)([^<>]*?)(\/?)>/g)) {
    const [, close, name, , self] = m;
    if (self) {
      if (!stack.length) roots += 1;
      continue;
    }
    if (close) expect(stack.pop()).toBe(name);
    else {
      if (!stack.length) roots += 1;
      stack.push(name!);
    }
  }
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
  // No stray markup characters in text or attributes.
  expect(svg.replace(/<[^<>]*>/g, '')).not.toMatch(/[<>]/);
}

describe('SVG charts', () => {
  it('confusionSvg draws every count, shaded by row share, with axis labels', () => {
    const m = [
      [120, 7, 0, 0, 3],
      [9, 88, 14, 2, 0],
      [1, 11, 63, 17, 4],
      [0, 2, 19, 141, 36],
      [0, 0, 5, 44, 212],
    ];
    const svg = confusionSvg(m, {
      title: 'Teacher vs human <test>',
      rowLabel: 'human level',
      colLabel: 'teacher level',
      labels: ['L1', 'L2', 'L3', 'L4', 'L5'],
    });
    checkSvg(svg);
    for (const row of m) for (const c of row) expect(svg).toContain(`>${c}</text>`);
    expect(svg.match(/<rect [^>]*stroke=/g)).toHaveLength(25);
    for (const label of ['L1', 'L5', 'human level', 'teacher level', 'Teacher vs human &lt;test&gt;']) expect(svg).toContain(`>${label}<`);
    // Row-normalised: a cell holding its whole row is full blue, an empty row stays white.
    const small = confusionSvg(
      [
        [0, 5],
        [0, 0],
      ],
      { title: 't', rowLabel: 'r', colLabel: 'c', labels: ['a', 'b'] },
    );
    checkSvg(small);
    expect(small.match(/fill="#2166ac" stroke/g)).toHaveLength(1);
    expect(small.match(/fill="#ffffff" stroke/g)).toHaveLength(3);
    expect(confusionSvg(m, { title: 't', rowLabel: 'r', colLabel: 'c', labels: ['L1', 'L2', 'L3', 'L4', 'L5'] })).toBe(
      confusionSvg(m, { title: 't', rowLabel: 'r', colLabel: 'c', labels: ['L1', 'L2', 'L3', 'L4', 'L5'] }),
    );
    expect(caught(() => confusionSvg([[1, 2]], { title: 't', rowLabel: 'r', colLabel: 'c', labels: ['a'] })).code).toBe('BAD_INPUT');
    expect(caught(() => confusionSvg([[-1]], { title: 't', rowLabel: 'r', colLabel: 'c', labels: ['a'] })).code).toBe('BAD_INPUT');
  });

  it('lineSvg draws series with a legend, skipping non-finite points', () => {
    const svg = lineSvg(
      [
        {
          name: 'student nDCG@10',
          points: [
            { x: 1, y: 0.61 },
            { x: 2, y: 0.64 },
            { x: 5, y: 0.66 },
            { x: 10, y: 0.67 },
            { x: 100, y: NaN },
          ],
        },
        {
          name: 'teacher & human',
          points: [
            { x: 1, y: 0.7 },
            { x: 100, y: 0.7 },
          ],
        },
      ],
      { title: 'Scaling', xLabel: 'labelled pairs (× human)', yLabel: 'nDCG@10', logX: true },
    );
    checkSvg(svg);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg.match(/<circle /g)).toHaveLength(6);
    expect(svg).toContain('>student nDCG@10<');
    expect(svg).toContain(`>${escapeXml('teacher & human')}<`);
    for (const t of ['1', '2', '5', '10', '100']) expect(svg).toContain(`>${t}</text>`);
    expect(svg).not.toContain('NaN');
    const many = lineSvg([{ name: 'dense', points: Array.from({ length: 30 }, (_, i) => ({ x: i * 3.5, y: Math.sin(i) })) }], {
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
    });
    checkSvg(many);
    expect(many.match(/<circle /g)).toHaveLength(30);
    expect(lineSvg([{ name: 'flat', points: [{ x: 1, y: 0.5 }] }], { title: 't', xLabel: 'x', yLabel: 'y' })).toContain('<circle ');
    expect(caught(() => lineSvg([{ name: 'x', points: [{ x: 0, y: 1 }] }], { title: 't', xLabel: 'x', yLabel: 'y', logX: true })).code).toBe('BAD_INPUT');
  });
});

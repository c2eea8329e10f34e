import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  accuracy,
  averagePrecision,
  cohenKappa,
  confusionMatrix,
  evaluateRun,
  kendallTau,
  macroF1,
  ndcgAt,
  parseMeasure,
  precisionAt,
  recallAt,
  reciprocalRank,
  rmse,
  sortRanking,
  type Qrels,
  type Run,
  type ScoredItem,
} from '../src/metrics/measures.ts';
import { readQrels, readRun } from '../src/metrics/trec.ts';
import { caught } from './helpers.ts';

const gains = (entries: Record<string, number>) => new Map(Object.entries(entries));

describe('sortRanking', () => {
  it('orders by score descending, ties by item id in descending strcmp order (trec_eval)', () => {
    const items: ScoredItem[] = [
      { itemId: 'a', score: 1 },
      { itemId: 'c', score: 2 },
      { itemId: 'b', score: 1 },
      { itemId: 'B', score: 1 },
      { itemId: 'd', score: -1 },
    ];
    expect(sortRanking(items).map((it) => it.itemId)).toEqual(['c', 'b', 'a', 'B', 'd']);
  });

  it('returns a new array and leaves the input alone', () => {
    const items: ScoredItem[] = [
      { itemId: 'a', score: 1 },
      { itemId: 'b', score: 2 },
    ];
    const sorted = sortRanking(items);
    expect(sorted).not.toBe(items);
    expect(items.map((it) => it.itemId)).toEqual(['a', 'b']);
  });

  it('rejects a NaN score', () => {
    expect(caught(() => sortRanking([{ itemId: 'x', score: NaN }])).code).toBe('BAD_INPUT');
  });
});

describe('nDCG', () => {
  const q = gains({ a: 3, b: 2, c: 0, d: 1 });

  it('uses linear gain and 1/log2(rank+1) from rank 1 (trec_eval 9.x ndcg_cut)', () => {
    expect(ndcgAt(['a', 'x', 'b'], q, 3)).toBeCloseTo((3 / Math.log2(2) + 2 / Math.log2(4)) / (3 / Math.log2(2) + 2 / Math.log2(3) + 1 / Math.log2(4)), 12);
  });

  it('cuts both DCG and the ideal DCG at K', () => {
    expect(ndcgAt(['b', 'a', 'd'], q, 2)).toBeCloseTo((2 / Math.log2(2) + 3 / Math.log2(3)) / (3 / Math.log2(2) + 2 / Math.log2(3)), 12);
  });

  it('builds the ideal from all judged items, retrieved or not', () => {
    expect(ndcgAt(['a'], q, 10)).toBeCloseTo(3 / (3 / Math.log2(2) + 2 / Math.log2(3) + 1 / Math.log2(4)), 12);
  });

  it('uses 2^gain - 1 for nDCG_exp (Burges et al.)', () => {
    expect(ndcgAt(['b', 'a'], q, 2, 'exp')).toBeCloseTo(
      ((2 ** 2 - 1) / Math.log2(2) + (2 ** 3 - 1) / Math.log2(3)) / ((2 ** 3 - 1) / Math.log2(2) + (2 ** 2 - 1) / Math.log2(3)),
      12,
    );
  });

  it('treats negative gains as 0, as trec_eval', () => {
    const neg = gains({ a: -1, b: 1 });
    expect(ndcgAt(['a', 'b'], neg, 2)).toBeCloseTo(1 / Math.log2(3) / (1 / Math.log2(2)), 12);
  });

  it('is 0 when nothing relevant is judged (ideal DCG 0)', () => {
    expect(ndcgAt(['a', 'b'], gains({ a: 0, b: -1 }), 10)).toBe(0);
    expect(ndcgAt(['a'], new Map(), 10)).toBe(0);
    expect(ndcgAt(['a'], gains({ a: 0 }), 10, 'exp')).toBe(0);
  });

  it('is 0 for an empty ranking and handles K larger than the list', () => {
    expect(ndcgAt([], q, 5)).toBe(0);
    expect(ndcgAt(['a', 'b', 'd'], q, 100)).toBe(1);
  });
});

describe('precision, recall, AP, RR', () => {
  const q = gains({ a: 2, b: 1, c: 0, d: 1, e: 2 });
  const ranking = ['x', 'a', 'c', 'b', 'y'];

  it('P@K divides by K even when fewer than K are retrieved (trec_eval P)', () => {
    expect(precisionAt(ranking, q, 2)).toBe(1 / 2);
    expect(precisionAt(ranking, q, 5)).toBe(2 / 5);
    expect(precisionAt(ranking, q, 10)).toBe(2 / 10);
    expect(precisionAt([], q, 10)).toBe(0);
  });

  it('P(rel=R)@K counts gain >= R as relevant', () => {
    expect(precisionAt(ranking, q, 5, 2)).toBe(1 / 5);
  });

  it('R@K divides by all relevant judged; 0 when none is relevant', () => {
    expect(recallAt(ranking, q, 5)).toBe(2 / 4);
    expect(recallAt(ranking, q, 5, 2)).toBe(1 / 2);
    expect(recallAt(ranking, gains({ a: 0 }), 5)).toBe(0);
    expect(recallAt([], q, 5)).toBe(0);
  });

  it('AP sums precision at each relevant retrieved over all relevant judged (trec_eval map)', () => {
    expect(averagePrecision(ranking, q)).toBeCloseTo((1 / 2 + 2 / 4) / 4, 12);
    expect(averagePrecision(ranking, q, 2)).toBeCloseTo(1 / 2 / 2, 12);
  });

  it('AP@K keeps the full denominator (trec_eval map_cut)', () => {
    expect(averagePrecision(ranking, q, 1, 3)).toBeCloseTo(1 / 2 / 4, 12);
  });

  it('AP is 0 with no relevant judged or an empty ranking', () => {
    expect(averagePrecision(ranking, gains({ a: 0 }))).toBe(0);
    expect(averagePrecision([], q)).toBe(0);
  });

  it('RR is the reciprocal rank of the first relevant; 0 when none is retrieved', () => {
    expect(reciprocalRank(ranking, q)).toBe(1 / 2);
    expect(reciprocalRank(['b', 'a'], q, 2)).toBe(1 / 2);
    expect(reciprocalRank(['x', 'c'], q)).toBe(0);
    expect(reciprocalRank([], q)).toBe(0);
    expect(reciprocalRank(['x', 'a'], q, 1, 1)).toBe(0);
  });
});

describe('parseMeasure', () => {
  it('parses the supported forms, rel defaulting to 1', () => {
    expect(parseMeasure('nDCG@10')).toEqual({ name: 'nDCG@10', kind: 'nDCG', k: 10 });
    expect(parseMeasure('nDCG_exp@5')).toEqual({ name: 'nDCG_exp@5', kind: 'nDCG_exp', k: 5 });
    expect(parseMeasure('P@5')).toEqual({ name: 'P@5', kind: 'P', rel: 1, k: 5 });
    expect(parseMeasure('P(rel=2)@5')).toEqual({ name: 'P(rel=2)@5', kind: 'P', rel: 2, k: 5 });
    expect(parseMeasure('R(rel=3)@100')).toEqual({ name: 'R(rel=3)@100', kind: 'R', rel: 3, k: 100 });
    expect(parseMeasure('AP')).toEqual({ name: 'AP', kind: 'AP', rel: 1, k: null });
    expect(parseMeasure('AP(rel=2)@10')).toEqual({ name: 'AP(rel=2)@10', kind: 'AP', rel: 2, k: 10 });
    expect(parseMeasure('RR(rel=2)')).toEqual({ name: 'RR(rel=2)', kind: 'RR', rel: 2, k: null });
  });

  it.each(['ndcg@10', 'nDCG', 'nDCG(rel=2)@10', 'P', 'P@0', 'P@05', 'P(rel=0)@5', 'MAP', 'AP@', 'RR@-1', ' P@5', ''])(
    'rejects %j with UNKNOWN_NAME and a hint listing the valid forms',
    (name) => {
      const e = caught(() => parseMeasure(name));
      expect(e.code).toBe('UNKNOWN_NAME');
      expect(e.message).toContain(`"${name}"`);
      expect(e.details.hint).toContain('nDCG@K');
      expect(e.details.hint).toContain('P(rel=R)@K');
    },
  );
});

describe('evaluateRun', () => {
  const run: Run = new Map([
    [
      'q1',
      [
        { itemId: 'a', score: 1 },
        { itemId: 'b', score: 2 },
      ],
    ],
    ['q2', [{ itemId: 'c', score: 1 }]],
    ['q9', [{ itemId: 'a', score: 1 }]],
  ]);
  const qrels: Qrels = new Map([
    ['q1', gains({ a: 1 })],
    ['q2', gains({ c: 2 })],
    ['q3', gains({ a: 1 })],
  ]);

  it('averages over queries in both run and qrels by default (trec_eval)', () => {
    const r = evaluateRun(run, qrels, ['RR', 'P@1']);
    expect(r.queries).toBe(2);
    expect([...r.perQuery.keys()]).toEqual(['q1', 'q2']);
    expect(r.perQuery.get('q1')).toEqual({ RR: 1 / 2, 'P@1': 0 });
    expect(r.perQuery.get('q2')).toEqual({ RR: 1, 'P@1': 1 });
    expect(r.mean).toEqual({ RR: (1 / 2 + 1) / 2, 'P@1': (0 + 1) / 2 });
  });

  it('with opts.queries averages exactly those, missing run entries scoring 0 (trec_eval -c)', () => {
    const r = evaluateRun(run, qrels, ['RR'], { queries: ['q3', 'q1', 'q2', 'q1'] });
    expect(r.queries).toBe(3);
    expect(r.perQuery.get('q3')).toEqual({ RR: 0 });
    expect(r.mean.RR).toBeCloseTo((1 / 2 + 1 + 0) / 3, 12);
  });

  it('has mean NaN for every measure when no query is evaluated (empty run)', () => {
    const r = evaluateRun(new Map(), qrels, ['nDCG@10', 'AP']);
    expect(r.queries).toBe(0);
    expect(r.perQuery.size).toBe(0);
    expect(r.mean['nDCG@10']).toBeNaN();
    expect(r.mean.AP).toBeNaN();
  });

  it('validates measure names before evaluating', () => {
    expect(caught(() => evaluateRun(run, qrels, ['nDCG@10', 'MRR'])).code).toBe('UNKNOWN_NAME');
  });

  it('rejects an item ranked twice for one query', () => {
    const dup: Run = new Map([
      [
        'q1',
        [
          { itemId: 'a', score: 1 },
          { itemId: 'a', score: 2 },
        ],
      ],
    ]);
    const e = caught(() => evaluateRun(dup, qrels, ['AP']));
    expect(e.code).toBe('DUPLICATE_ID');
    expect(e.message).toContain('"a"');
  });
});

describe('trec_eval fixture (test/fixtures/trec)', () => {
  const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/trec/${name}`, import.meta.url));
  const run = readRun(fixture('run.txt'));
  const qrels = readQrels(fixture('qrels.txt'));
  const measures = ['nDCG@10', 'P@5', 'AP', 'RR'];

  // Rankings by score, ties by docno descending (rank column ignored), with qrels gains:
  //   q1: d1(3) dX(-) d4(1) d2(2) d3(0) d5(-)   relevant judged: d1 d2 d4 d9 -> 4
  //   q2: d6(-) d5(0) d1(1)                      relevant judged: d1 -> 1
  //   q3: d7(0) d8(-)                            relevant judged: none
  // Expected values follow trec_eval 9.x: ndcg_cut.10 (gain = rel, discount log2(i+2) for
  // 0-based i, ideal over all judged docs), P.5 (divide by 5), map, recip_rank.
  const expected: Record<string, Record<string, number>> = {
    q1: {
      // ndcg_cut.10
      'nDCG@10': (3 / Math.log2(2) + 1 / Math.log2(4) + 2 / Math.log2(5)) / (3 / Math.log2(2) + 2 / Math.log2(3) + 2 / Math.log2(4) + 1 / Math.log2(5)),
      'P@5': 3 / 5, // P.5
      AP: (1 / 1 + 2 / 3 + 3 / 4) / 4, // map
      RR: 1 / 1, // recip_rank
    },
    q2: {
      'nDCG@10': 1 / Math.log2(4) / (1 / Math.log2(2)),
      'P@5': 1 / 5,
      AP: 1 / 3 / 1,
      RR: 1 / 3,
    },
    q3: { 'nDCG@10': 0, 'P@5': 0, AP: 0, RR: 0 },
  };

  it('scores each query as trec_eval 9.x does', () => {
    const r = evaluateRun(run, qrels, measures);
    expect([...r.perQuery.keys()]).toEqual(['q1', 'q2', 'q3']); // q4: no run entry; q5: no qrels
    for (const [q, values] of Object.entries(expected)) {
      for (const m of measures) expect(r.perQuery.get(q)![m]).toBeCloseTo(values[m]!, 12);
    }
  });

  it('averages over the 3 queries in both files (trec_eval all)', () => {
    const r = evaluateRun(run, qrels, measures);
    expect(r.queries).toBe(3);
    for (const m of measures) {
      expect(r.mean[m]).toBeCloseTo((expected.q1![m]! + expected.q2![m]! + expected.q3![m]!) / 3, 12);
    }
  });

  it('counts the unretrieved judged query q4 as 0 with the qrels query list (trec_eval -c)', () => {
    const r = evaluateRun(run, qrels, measures, { queries: [...qrels.keys()] });
    expect(r.queries).toBe(4);
    expect(r.perQuery.get('q4')).toEqual({ 'nDCG@10': 0, 'P@5': 0, AP: 0, RR: 0 });
    for (const m of measures) {
      expect(r.mean[m]).toBeCloseTo((expected.q1![m]! + expected.q2![m]! + expected.q3![m]! + 0) / 4, 12);
    }
  });
});

describe('label agreement', () => {
  const truth = [0, 0, 1, 1, 2, 2];
  const pred = [0, 1, 1, 1, 2, 0];
  const classes = [0, 1, 2];

  it('accuracy; empty input is NaN', () => {
    expect(accuracy(truth, pred)).toBe(4 / 6);
    expect(accuracy([], [])).toBeNaN();
  });

  it('confusionMatrix has truth rows and predicted columns; empty input gives zeros', () => {
    expect(confusionMatrix(truth, pred, classes)).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 1],
    ]);
    expect(confusionMatrix([], [], [0, 1])).toEqual([
      [0, 0],
      [0, 0],
    ]);
  });

  it('confusionMatrix rejects labels outside classes and repeated classes', () => {
    expect(caught(() => confusionMatrix([0, 3], [0, 0], classes)).message).toContain('3');
    expect(caught(() => confusionMatrix([0], [0], [0, 0])).code).toBe('BAD_INPUT');
  });

  it('macroF1 averages 2TP/(2TP+FP+FN), leaving out classes with no support and no predictions', () => {
    expect(macroF1(truth, pred, classes)).toBeCloseTo((2 / 4 + 4 / 5 + 2 / 3) / 3, 12);
    // class 2 has neither support nor predictions: excluded (sklearn zero_division=np.nan)
    expect(macroF1([0, 0, 1, 1], [0, 1, 1, 1], [0, 1, 2])).toBeCloseTo((2 / 3 + 4 / 5) / 2, 12);
    // class 1 has support but is never predicted: F1 = 0, included
    expect(macroF1([0, 1], [0, 0], [0, 1])).toBeCloseTo((2 / 3 + 0) / 2, 12);
    expect(macroF1([], [], [0, 1])).toBeNaN();
  });

  it('cohenKappa, unweighted: (po - pe) / (1 - pe)', () => {
    const pe = (2 * 2 + 2 * 3 + 2 * 1) / 36;
    expect(cohenKappa(truth, pred, classes, 'none')).toBeCloseTo((4 / 6 - pe) / (1 - pe), 12);
  });

  it('cohenKappa, quadratic weights (i - j)^2 by class position', () => {
    // observed weighted disagreement: cell (0,1) weight 1, cell (2,0) weight 4
    // expected cells: rows all 2, cols [2, 3, 1], n = 6 -> E[i][j] = cols[j] / 3
    expect(cohenKappa(truth, pred, classes, 'quadratic')).toBeCloseTo(
      1 - (1 * 1 + 4 * 1) / (1 * 1 + 4 * (1 / 3) + (1 * (2 / 3) + 1 * (1 / 3)) + (4 * (2 / 3) + 1 * 1)),
      12,
    );
  });

  it('cohenKappa is 1 when both raters use one single class (chance agreement 1), NaN when empty', () => {
    expect(cohenKappa([1, 1, 1], [1, 1, 1], classes, 'none')).toBe(1);
    expect(cohenKappa([1, 1, 1], [1, 1, 1], classes, 'quadratic')).toBe(1);
    expect(cohenKappa([], [], classes, 'none')).toBeNaN();
  });

  it('cohenKappa is negative for systematic disagreement', () => {
    expect(cohenKappa([0, 1], [1, 0], [0, 1], 'none')).toBe(-1);
  });

  it('rmse; empty input is NaN; non-finite values are rejected', () => {
    expect(rmse([1, 2, 3], [1, 3, 5])).toBeCloseTo(Math.sqrt((0 + 1 + 4) / 3), 12);
    expect(rmse([], [])).toBeNaN();
    expect(caught(() => rmse([1, NaN], [1, 2])).code).toBe('BAD_INPUT');
  });

  it('kendallTau is tau-b: (C - D) / sqrt((n0 - n1)(n0 - n2))', () => {
    // pairs: 3 concordant, 1 discordant, 1 tied in a only, 1 tied in b only; n0 = 6
    expect(kendallTau([1, 2, 2, 3], [1, 3, 2, 2])).toBeCloseTo((3 - 1) / Math.sqrt((6 - 1) * (6 - 1)), 12);
    expect(kendallTau([1, 2, 3], [3, 2, 1])).toBe(-1);
    expect(kendallTau([1, 2, 3], [10, 20, 30])).toBe(1);
  });

  it('kendallTau is NaN for fewer than 2 items or a constant input', () => {
    expect(kendallTau([], [])).toBeNaN();
    expect(kendallTau([1], [2])).toBeNaN();
    expect(kendallTau([1, 1, 1], [1, 2, 3])).toBeNaN();
  });

  it.each([
    ['accuracy', () => accuracy([1], [])],
    ['confusionMatrix', () => confusionMatrix([1], [], [1])],
    ['macroF1', () => macroF1([1], [], [1])],
    ['cohenKappa', () => cohenKappa([1], [], [1], 'none')],
    ['rmse', () => rmse([1], [])],
    ['kendallTau', () => kendallTau([1], [])],
  ])('%s rejects arrays of different lengths with BAD_INPUT', (_name, f) => {
    const e = caught(f);
    expect(e.code).toBe('BAD_INPUT');
    expect(e.message).toContain('(1 and 0)');
  });
});

describe('properties', () => {
  const ids = fc.integer({ min: 0, max: 20 }).map((n) => `d${n}`);
  const judged = fc.array(fc.tuple(ids, fc.integer({ min: -1, max: 4 })), { maxLength: 15 }).map((pairs) => new Map(pairs));
  const ranking = fc.uniqueArray(ids, { maxLength: 20 });
  const k = fc.integer({ min: 1, max: 25 });
  const gainKind = fc.constantFrom('linear' as const, 'exp' as const);

  it('nDCG lies in [0, 1]', () => {
    fc.assert(
      fc.property(ranking, judged, k, gainKind, (r, g, kk, kind) => {
        const v = ndcgAt(r, g, kk, kind);
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1 + 1e-12);
      }),
    );
  });

  it('the ideal ranking scores exactly 1', () => {
    fc.assert(
      fc.property(judged, k, gainKind, (g, kk, kind) => {
        fc.pre([...g.values()].some((x) => x > 0));
        const ideal = [...g.keys()].sort((a, b) => g.get(b)! - g.get(a)!);
        expect(ndcgAt(ideal, g, kk, kind)).toBe(1);
      }),
    );
  });

  it('the order in which a run lists its items does not change any metric', () => {
    const items = fc.uniqueArray(
      fc.record({ itemId: ids, score: fc.integer({ min: 0, max: 5 }) }), // small range: ties happen
      { selector: (it) => it.itemId, maxLength: 15 },
    );
    const measures = ['nDCG@5', 'nDCG_exp@10', 'P@3', 'R(rel=2)@5', 'AP', 'RR'];
    fc.assert(
      fc.property(
        items.chain((xs) => fc.tuple(fc.constant(xs), fc.shuffledSubarray(xs, { minLength: xs.length }))),
        judged,
        ([original, shuffled], g) => {
          const qrels: Qrels = new Map([['q', g]]);
          const a = evaluateRun(new Map([['q', original]]), qrels, measures);
          const b = evaluateRun(new Map([['q', shuffled]]), qrels, measures);
          expect(b.perQuery).toEqual(a.perQuery);
        },
      ),
    );
  });

  const labels = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 40 });
  const pairs = fc
    .array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 })), { maxLength: 40 })
    .map((ps) => [ps.map((p) => p[0]), ps.map((p) => p[1])] as const);
  const five = [0, 1, 2, 3, 4];

  it('kappa of identical arrays is 1, both weightings', () => {
    fc.assert(
      fc.property(labels, fc.constantFrom('none' as const, 'quadratic' as const), (xs, w) => {
        expect(cohenKappa(xs, xs, five, w)).toBeCloseTo(1, 12);
      }),
    );
  });

  it('the confusion matrix sums to n', () => {
    fc.assert(
      fc.property(pairs, ([t, p]) => {
        const total = confusionMatrix(t, p, five)
          .flat()
          .reduce((s, x) => s + x, 0);
        expect(total).toBe(t.length);
      }),
    );
  });

  it('macroF1 and accuracy lie in [0, 1] on non-empty input', () => {
    fc.assert(
      fc.property(pairs, ([t, p]) => {
        fc.pre(t.length > 0);
        for (const v of [macroF1(t, p, five), accuracy(t, p)]) {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
        }
      }),
    );
  });

  it('kendallTau (O(n log n)) equals the O(n^2) pair count of tau-b', () => {
    const tauB = (a: number[], b: number[]): number => {
      let c = 0;
      let d = 0;
      let tiesA = 0;
      let tiesB = 0;
      for (let i = 0; i < a.length; i++) {
        for (let j = i + 1; j < a.length; j++) {
          const s = Math.sign(a[i]! - a[j]!) * Math.sign(b[i]! - b[j]!);
          if (s > 0) c++;
          if (s < 0) d++;
          if (a[i] === a[j]) tiesA++;
          if (b[i] === b[j]) tiesB++;
        }
      }
      const n0 = (a.length * (a.length - 1)) / 2;
      return (c - d) / Math.sqrt((n0 - tiesA) * (n0 - tiesB));
    };
    fc.assert(
      fc.property(pairs, ([a, b]) => {
        const expected = tauB([...a], [...b]);
        const actual = kendallTau(a, b);
        if (Number.isNaN(expected)) expect(actual).toBeNaN();
        else expect(actual).toBeCloseTo(expected, 12);
      }),
    );
  });
});

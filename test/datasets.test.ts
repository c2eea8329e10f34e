/**
 * The built-in data set adapters against the real data in DATA_DIR (read-only): counts, judgment
 * sets, native scales and their mappings, and an end-to-end BM25 evaluation on cranfield.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRANFIELD_CODES, DATASETS, HOME_DEPOT_MEAN_1_3, QUEPID_0_3, datasetAdapter } from '../src/ingest/datasets/index.ts';
import { DistilrankError } from '../src/core/errors.ts';
import { evaluate } from '../src/eval/evaluate.ts';
import { softLabel, type Level } from '../src/core/index.ts';
import { Bm25Ranker } from '../src/retrieve/index.ts';
import { Store } from '../src/store/index.ts';
import { type DatasetBundle } from '../src/ingest/index.ts';
import { DATA_DIR, builtInBundle, caught, useTempDir } from './helpers.ts';

const tmp = useTempDir('distilrank-datasets-');
let store: Store;

beforeAll(() => {
  store = Store.open(join(tmp.path, 'store.db'), { create: true });
});
afterAll(() => {
  store.close();
});

const bySet = (b: DatasetBundle): Map<string, number> => {
  const m = new Map<string, number>();
  for (const j of b.judgments) m.set(j.source ?? 'default', (m.get(j.source ?? 'default') ?? 0) + 1);
  return m;
};

it('the registry names the three built-in data sets', () => {
  expect(Object.keys(DATASETS).sort()).toEqual(['cranfield', 'home-depot', 'icecat-chorus']);
  expect(datasetAdapter('cranfield').files).toContain('raw/cranqrel');
  expect(() => datasetAdapter('msmarco')).toThrow(DistilrankError);
});

describe('icecat-chorus', () => {
  let bundle: DatasetBundle;
  beforeAll(() => {
    bundle = builtInBundle('icecat-chorus');
    store.ingest(bundle);
  });

  it('has 19,406 items and the judgment sets supahands (default), broad and haystack', () => {
    expect(bundle.items).toHaveLength(19_406);
    expect(store.itemCount('icecat-chorus')).toBe(19_406);
    const info = store.dataset('icecat-chorus');
    expect(info.defaultJudgmentSet).toBe('supahands');
    expect(bundle.defaultJudgmentSet).toBe('supahands');
    expect(info.judgmentSets).toEqual(['broad', 'haystack', 'supahands']);
    expect(bySet(bundle).get('supahands')).toBe(3_188);
    expect(bySet(bundle).get('broad')).toBeGreaterThan(0);
    expect(bySet(bundle).get('haystack')).toBeGreaterThan(0);
    expect(info.judgments).toBe(bundle.judgments.length);
    expect(info.scale.name).toBe('quepid-0-3');
  });

  it('supahands: 3,188 judgments with 3 raters each; soft labels exactly where raters disagree', () => {
    const js = store.judgments('icecat-chorus'); // the default set
    expect(js).toHaveLength(3_188);
    let disagree = 0;
    for (const j of js) {
      expect(j.judgmentSet).toBe('supahands');
      expect(j.raters).toHaveLength(3);
      const levels = j.raters!.map((r) => QUEPID_0_3.toLevel(r.grade));
      expect(j.soft).toEqual(softLabel(levels));
      expect(j.soft!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(j.level).toBe(QUEPID_0_3.toLevel(j.nativeGrade));
      expect(j.gain).toBe(j.level - 1);
      const distinct = new Set(levels).size;
      if (distinct > 1) {
        disagree += 1;
        expect(Math.max(...j.soft!)).toBeLessThan(1);
      } else {
        expect(Math.max(...j.soft!)).toBe(1);
      }
    }
    expect(disagree).toBeGreaterThan(100);
  });

  it('items carry title, brand field and attributes from products.jsonl', () => {
    const first = bundle.items[0]!;
    expect(first.title).not.toBe('');
    expect(first.origin).toEqual({ file: join(DATA_DIR, 'icecat-chorus', 'products.jsonl'), line: 1 });
    expect(bundle.items.every((it) => it.id !== '' && typeof it.title === 'string')).toBe(true);
    expect(bundle.items.filter((it) => it.fields?.brand).length).toBeGreaterThan(10_000);
  });

  it('Quepid mapping: 0→L1, 1→L3, 2→L4, 3→L5; other grades are UNKNOWN_GRADE', () => {
    expect([0, 1, 2, 3].map((g) => QUEPID_0_3.toLevel(g))).toEqual([1, 3, 4, 5]);
    expect(QUEPID_0_3.higherIsBetter).toBe(true);
    for (const g of [4, -1, 1.5]) expect(caught(() => QUEPID_0_3.toLevel(g)).code).toBe('UNKNOWN_GRADE');
  });
});

describe('home-depot', () => {
  let bundle: DatasetBundle;
  beforeAll(() => {
    bundle = builtInBundle('home-depot');
  });

  it('has 54,667 items, 11,793 queries and 74,062 judgments (whitespace variants merged)', () => {
    expect(bundle.items).toHaveLength(54_667);
    expect(bundle.queries).toHaveLength(11_793);
    expect(bundle.judgments).toHaveLength(74_062);
    expect(bySet(bundle)).toEqual(new Map([['kaggle', 74_062]]));
    expect(new Set(bundle.items.map((i) => i.id)).size).toBe(54_667);
    expect(new Set(bundle.judgments.map((j) => `${j.queryId}\0${j.itemId}`)).size).toBe(74_062);
  });

  it('ingests without skipped judgments', () => {
    const r = store.ingest(bundle);
    expect(r).toMatchObject({ items: 54_667, queries: 11_793, judgments: 74_062, judgmentsSkipped: 0 });
    expect(store.dataset('home-depot').defaultJudgmentSet).toBe('kaggle');
  });

  it('linear mapping of the 1–3 mean, rounded half up', () => {
    const cases: Array<[number, Level]> = [
      [1, 1],
      [1.25, 2], // scaled 1.5: half rounds up
      [1.33, 2],
      [4 / 3, 2],
      [1.5, 2],
      [1.67, 2],
      [5 / 3, 2],
      [1.75, 3], // scaled 2.5: half rounds up
      [2, 3],
      [2.25, 4], // scaled 3.5
      [2.33, 4],
      [2.5, 4],
      [2.67, 4],
      [2.75, 5], // scaled 4.5
      [3, 5],
    ];
    for (const [g, l] of cases) expect(HOME_DEPOT_MEAN_1_3.toLevel(g), `grade ${g}`).toBe(l);
    // the cases above follow 1 + (g − 1)·2, rounded half up
    for (const [g, l] of cases) expect(Math.floor(1 + (g - 1) * 2 + 0.5 + 1e-9)).toBe(l);
  });

  it('out-of-range or non-finite grades are UNKNOWN_GRADE', () => {
    for (const g of [3.5, 0.99, 0, Number.NaN, Infinity]) {
      expect(caught(() => HOME_DEPOT_MEAN_1_3.toLevel(g)).code).toBe('UNKNOWN_GRADE');
    }
  });
});

describe('cranfield', () => {
  let bundle: DatasetBundle;
  beforeAll(() => {
    bundle = builtInBundle('cranfield');
    store.ingest(bundle);
  });

  it('has 1,400 items, 225 queries and 1,837 judgments', () => {
    expect(bundle.items).toHaveLength(1_400);
    expect(bundle.queries).toHaveLength(225);
    expect(bundle.judgments).toHaveLength(1_837);
    expect(store.dataset('cranfield')).toMatchObject({ items: 1_400, queries: 225, judgments: 1_837, defaultJudgmentSet: 'cleverdon' });
    expect(bundle.queries.map((q) => q.id)).toEqual(Array.from({ length: 225 }, (_, i) => String(i + 1)));
  });

  it('query 1 and its judgments: code −1 → L5, code 4 → L2', () => {
    expect(bundle.queries[0]).toMatchObject({
      id: '1',
      text: 'what similarity laws must be obeyed when constructing aeroelastic models of heated high speed aircraft .',
    });
    const q1 = new Map(
      store
        .judgments('cranfield', { judgmentSet: 'cleverdon' })
        .filter((j) => j.queryId === '1')
        .map((j) => [j.itemId, j]),
    );
    expect(q1.get('486')).toMatchObject({ nativeGrade: -1, level: 5, gain: 4, soft: null, raters: null });
    expect(q1.get('13')).toMatchObject({ nativeGrade: 4, level: 2, gain: 1 });
    expect(q1.get('184')).toMatchObject({ nativeGrade: 2, level: 4 });
    expect(q1.get('12')).toMatchObject({ nativeGrade: 3, level: 3 });
    expect([1, 2, 3, 4, -1].map((g) => CRANFIELD_CODES.toLevel(g))).toEqual([5, 4, 3, 2, 5]);
    expect(CRANFIELD_CODES.higherIsBetter).toBe(false);
    expect(caught(() => CRANFIELD_CODES.toLevel(5)).code).toBe('UNKNOWN_GRADE');
  });

  it('items hold title and abstract; document 1 is the first record', () => {
    expect(bundle.items[0]).toMatchObject({ id: '1', language: 'en' });
    expect(bundle.items[0]!.title).toMatch(/^experimental investigation of the aerodynamics of a wing in a slipstream/);
    expect(bundle.items[0]!.description?.length).toBeGreaterThan(100);
  });

  it('BM25 under both protocols on the test split', async () => {
    const ranker = new Bm25Ranker(store.dataset('cranfield'));
    const testJudgments = store.judgments('cranfield', { split: 'test' });
    const judged = new Map<string, Set<string>>();
    for (const j of testJudgments) {
      if (!judged.has(j.queryId)) judged.set(j.queryId, new Set());
      judged.get(j.queryId)!.add(j.itemId);
    }
    const testQueries = store.queries('cranfield', 'test');
    const expectedQueries = testQueries.filter((q) => judged.has(q.id)).length;
    expect(expectedQueries).toBeGreaterThan(30);

    const rerank = await evaluate({ dataset: store.dataset('cranfield'), split: 'test', protocol: 'rerank', ranker });
    const retrieval = await evaluate({ dataset: store.dataset('cranfield'), split: 'test', protocol: 'retrieval', ranker });
    for (const ev of [rerank, retrieval]) {
      expect(ev.report.queries).toBe(expectedQueries);
      expect(ev.report.judgmentSet).toBe('cleverdon');
      expect(ev.report.model).toBe('bm25');
      expect(Object.keys(ev.report.metrics).length).toBeGreaterThan(0);
      for (const [name, v] of Object.entries(ev.report.metrics)) {
        expect(v, name).toBeGreaterThanOrEqual(0);
        expect(v, name).toBeLessThanOrEqual(1);
      }
    }
    expect(rerank.report.depth).toBeNull();
    expect(retrieval.report.depth).toBe(100);
    expect(rerank.report.metrics['nDCG@10']!).toBeGreaterThan(retrieval.report.metrics['nDCG@10']!);
    // BM25 is far better than nothing on Cranfield
    expect(retrieval.report.metrics['nDCG@10']!).toBeGreaterThan(0.2);

    // rerank ranks exactly each query's judged items, once each
    expect(new Set(rerank.run.keys())).toEqual(new Set(judged.keys()));
    for (const [qid, ranked] of rerank.run) {
      const ids = ranked.map((r) => r.itemId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(new Set(ids)).toEqual(judged.get(qid));
    }
    // retrieval returns at most depth items per query
    for (const ranked of retrieval.run.values()) expect(ranked.length).toBeLessThanOrEqual(100);
  });
});

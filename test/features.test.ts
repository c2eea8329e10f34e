/**
 * Features: the registry and its id, the stemmer against FTS5's own, hand-computed feature values on
 * a small catalogue (BM25, coverage, exact/phrase, trigrams, numbers, units, brand, lengths, IDF,
 * leave-one-out priors), BM25 agreeing with the store's FTS5 BM25, multilingual text, NaN-free rows
 * on degenerate input, and unknown ids.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistilrankError } from '../src/core/errors.ts';
import { FEATURES, FEATURE_SET_ID, FeatureExtractor, featureNames, featureSetId, quantitiesIn, UNITS } from '../src/features/index.ts';
import { ftsMatchExpression } from '../src/retrieve/index.ts';
import { Store } from '../src/store/index.ts';
import { type DatasetBundle } from '../src/ingest/index.ts';
import { analyze, cjkBigrams, porterStem, tokenize } from '../src/text/index.ts';
import { TEST_SCALE, builtInBundle, ingestedStore, useTempDir } from './helpers.ts';

function bundle(
  name: string,
  items: DatasetBundle['items'],
  queries: DatasetBundle['queries'] = [{ id: 'q0', text: 'x' }],
  judgments: DatasetBundle['judgments'] = [],
): DatasetBundle {
  return { name, description: 'test', source: '/test', mapping: TEST_SCALE, defaultJudgmentSet: 'default', items, queries, judgments };
}

const SHOP_ITEMS: DatasetBundle['items'] = [
  { id: 'p1', title: 'Dell 27 inch Monitor', description: 'IPS monitor with stand', fields: { brand: 'Dell' } },
  { id: 'p2', title: 'Samsung 24 in. Monitor', description: 'LED monitor', fields: { brand: 'Samsung' } },
  { id: 'p3', title: 'red walrus mug' },
  { id: 'p4', title: 'blue teapot with infuser', description: 'porcelain teapot' },
  { id: 'p5', title: 'Seagate 1TB external drive', fields: { brand: 'Seagate', capacity: '1 TB' } },
  { id: 'p6', title: '', description: '' },
  { id: 'p7', title: 'Kühlschrank mini', description: 'kleiner Kühlschrank', language: 'de' },
  { id: 'p8', title: '冷蔵庫', language: 'ja' },
  { id: 'p9', title: '小型冷蔵庫 静音', language: 'ja' },
  { id: 'p10', title: '电冰箱 双门', language: 'zh' },
  { id: 'p11', title: 'Acme monitor arm', attributes: { brand: 'Acme' } },
  { id: 'p12', title: 'Black & Decker drill', fields: { brand: 'Black & Decker' } },
];
const SHOP_IDS = SHOP_ITEMS.map((i) => i.id);

const tmp = useTempDir('distilrank-features-');
let store: Store;
let fx: FeatureExtractor;
/** Extractor whose priors see every judgment of the shop. */
let fxPriors: FeatureExtractor;

beforeAll(() => {
  store = ingestedStore(
    join(tmp.path, 'features.db'),
    bundle(
      'shop',
      SHOP_ITEMS,
      [
        { id: 'q1', text: 'dell monitor' },
        { id: 'q2', text: 'teapot' },
        { id: 'q3', text: 'monitor' },
      ],
      [
        { queryId: 'q1', itemId: 'p1', grade: 3 }, // gain 4
        { queryId: 'q3', itemId: 'p1', grade: 1 }, // gain 2
        { queryId: 'q1', itemId: 'p2', grade: 0 }, // gain 0
      ],
    ),
  );
  fx = FeatureExtractor.fromStore(store.dataset('shop'));
  fxPriors = FeatureExtractor.fromStore(store.dataset('shop'), { priorJudgments: store.judgments('shop') });
});
afterAll(() => {
  store.close();
});

const col = (name: string): number => {
  const i = featureNames().indexOf(name);
  if (i < 0) throw new Error(`no feature ${name}`);
  return i;
};

/** Feature `name` of each item for one query, by item id. */
function features(
  ex: FeatureExtractor,
  query: string | { id?: string; text: string },
  ids: readonly string[] = SHOP_IDS,
): (name: string) => Record<string, number> {
  const q = typeof query === 'string' ? { text: query } : query;
  const rows = ex.extract(q, ids);
  return (name: string) => Object.fromEntries(ids.map((id, r) => [id, rows[r * FEATURES.length + col(name)]!]));
}
const one = (ex: FeatureExtractor, query: string, id: string, name: string): number => features(ex, query, [id])(name)[id]!;

// Lucene IDF and BM25 as the registry documents them, written out here independently.
const idf = (n: number, N: number): number => Math.log(1 + (N - n + 0.5) / (n + 0.5));
const bm25Term = (tf: number, len: number, avg: number, n: number, N: number): number => (idf(n, N) * tf * 2.2) / (tf + 1.2 * (1 - 0.75 + (0.75 * len) / avg));

describe('registry', () => {
  it('is frozen, ordered, uniquely named and described in one sentence each', () => {
    expect(Object.isFrozen(FEATURES)).toBe(true);
    expect(FEATURES.every((f) => Object.isFrozen(f))).toBe(true);
    expect(new Set(featureNames()).size).toBe(FEATURES.length);
    expect(FeatureExtractor.dim).toBe(FEATURES.length);
    expect(fx.names).toEqual(featureNames());
    for (const f of FEATURES) {
      expect(f.description).toMatch(/^[^\n]+\.$/);
      expect(Number.isInteger(f.version) && f.version >= 1).toBe(true);
    }
    expect(featureNames()).toEqual(
      expect.arrayContaining([
        'bm25_title',
        'bm25_all',
        'coverage_all',
        'exact_title',
        'phrase_title',
        'trigram_jaccard_title',
        'twotower_cosine',
        'emb_sim_2',
      ]),
    );
  });

  it('FEATURE_SET_ID is a short hash that changes with any version, name or order change', () => {
    expect(FEATURE_SET_ID).toMatch(/^[0-9a-f]{12}$/);
    expect(featureSetId(FEATURES.map((f) => ({ ...f })))).toBe(FEATURE_SET_ID);
    const bumped = FEATURES.map((f, i) => (i === 3 ? { ...f, version: f.version + 1 } : f));
    expect(featureSetId(bumped)).not.toBe(FEATURE_SET_ID);
    const renamed = FEATURES.map((f, i) => (i === 0 ? { ...f, name: `${f.name}_v2` } : f));
    expect(featureSetId(renamed)).not.toBe(FEATURE_SET_ID);
    const swapped = [FEATURES[1]!, FEATURES[0]!, ...FEATURES.slice(2)];
    expect(featureSetId(swapped)).not.toBe(FEATURE_SET_ID);
    expect(fx.featureSetId).toBe(FEATURE_SET_ID);
  });
});

describe('text: stemming and n-grams', () => {
  it('stems English as Porter does and leaves other scripts alone', () => {
    const cases: Record<string, string> = {
      monitors: 'monitor',
      monitor: 'monitor',
      caresses: 'caress',
      ponies: 'poni',
      cats: 'cat',
      agreed: 'agre',
      motoring: 'motor',
      hopping: 'hop',
      filing: 'file',
      happy: 'happi',
      relational: 'relat',
      generalizations: 'gener',
      electrical: 'electr',
      adjustable: 'adjust',
      controll: 'control',
      sky: 'sky',
      led: 'led',
      tv: 'tv',
    };
    for (const [w, s] of Object.entries(cases)) expect(porterStem(w), w).toBe(s);
    for (const w of ['冷蔵庫', '电冰箱', 'москва', 'ελληνικά', '냉장고', 'ドライヤー']) expect(porterStem(w)).toBe(w);
    expect(analyze('Kühlschränke')).toEqual(analyze('Kühlschrank'));
    expect(analyze('Monitors, LEDs')).toEqual(['monitor', 'led']);
  });

  it('produces exactly the terms of the store FTS5 tokenizer (porter unicode61 remove_diacritics 2)', () => {
    const text =
      'monitors monitoring relational conditional hopeful goodness adjustable replacement adoption communism ' +
      'effective bowdlerize feed agreed plastered motoring sing conflated troubled sized hopping tanned falling ' +
      'hissing fizzed failing filing happy sky caresses ponies ties caress cats generalizations oscillators ' +
      'Kühlschrank kühlschränke Größe Straße café naïve résumé Nẵng ﬁle ＡＢＣ 冷蔵庫 小型冷蔵庫 ドライヤー 电冰箱 냉장고 ' +
      'Ελληνικά Москва 27in 1tb 2x4 12-gauge ll all ill eyes dying lying skies news';
    const words = [...new Set(tokenize(text))];
    const db = new Database(':memory:');
    try {
      db.exec("CREATE VIRTUAL TABLE f USING fts5(x, tokenize='porter unicode61 remove_diacritics 2'); CREATE VIRTUAL TABLE v USING fts5vocab(f, 'instance')");
      const ins = db.prepare('INSERT INTO f (rowid, x) VALUES (?, ?)');
      words.forEach((w, i) => ins.run(i + 1, w));
      const fts = new Map<number, string[]>();
      for (const r of db.prepare('SELECT doc, term FROM v').all() as { doc: number; term: string }[]) fts.set(r.doc, [...(fts.get(r.doc) ?? []), r.term]);
      words.forEach((w, i) => expect(analyze(w), w).toEqual(fts.get(i + 1)));
    } finally {
      db.close();
    }
  });

  it('makes character bigrams of CJK runs only', () => {
    expect(cjkBigrams('小型冷蔵庫 静音')).toEqual(['小型', '型冷', '冷蔵', '蔵庫', '静音']);
    expect(cjkBigrams('鞋')).toEqual(['鞋']);
    expect(cjkBigrams('red mug')).toEqual([]);
  });

  it('reads numbers with units in the documented spellings', () => {
    const q = (t: string) => quantitiesIn(t).map((x) => `${x.value} ${UNITS[x.unit]}`);
    for (const t of ['27 inch', '27in', '27"', "27''", '27-in.', '27 inches']) expect(q(t), t).toEqual(['27 inch']);
    expect(q('1tb')).toEqual(['1 tb']);
    expect(q('500 GB')).toEqual(['500 gb']);
    expect(q('1.9 cu. ft.')).toEqual(['1.9 cuft']);
    expect(q('2 ink')).toEqual([]);
  });
});

describe('feature values on a hand-built catalogue', () => {
  it('BM25 of a one-term query matches the formula, per field and over all text', () => {
    // "teapot": titles — 11 non-empty (p6 is empty), teapot in 1 (p4, 4 tokens); descriptions — 4
    // non-empty, teapot in 1 (p4 "porcelain teapot", 2 tokens); all text — 12 items, p6 empty.
    const titleLens = SHOP_ITEMS.map((i) => analyze(i.title).length).filter((n) => n > 0);
    expect(titleLens).toHaveLength(11);
    const avgTitle = titleLens.reduce((a, b) => a + b, 0) / titleLens.length;
    const descLens = SHOP_ITEMS.map((i) => analyze(i.description ?? '').length).filter((n) => n > 0);
    expect(descLens).toEqual([4, 2, 2, 2]);
    const allLens = SHOP_ITEMS.map((i) => analyze([i.title, i.description ?? '', ...Object.values(i.fields ?? {})].join(' ')).length).filter((n) => n > 0);
    const avgAll = allLens.reduce((a, b) => a + b, 0) / allLens.length;
    const f = features(fx, 'teapot');
    expect(f('bm25_title').p4).toBeCloseTo(bm25Term(1, 4, avgTitle, 1, 11), 5);
    expect(f('bm25_description').p4).toBeCloseTo(bm25Term(1, 2, 2.5, 1, 4), 5);
    expect(f('bm25_all').p4).toBeCloseTo(bm25Term(2, 6, avgAll, 1, 11), 5);
    expect(f('bm25_fields').p4).toBe(0);
    expect(f('bm25_title').p3).toBe(0);
    // Other text fields: p1 "Dell", p2 "Samsung", p5 "Seagate" + "1 TB", p12 "Black & Decker".
    expect(one(fx, 'seagate', 'p5', 'bm25_fields')).toBeCloseTo(bm25Term(1, 3, 7 / 4, 1, 4), 5);
    expect(one(fx, 'seagate', 'p5', 'coverage_fields')).toBe(1);
    // Stopwords are not query terms: "the teapot" scores as "teapot".
    expect(one(fx, 'the teapot', 'p4', 'bm25_title')).toBeCloseTo(f('bm25_title').p4!, 6);
  });

  it('coverage per field, IDF-weighted coverage and query IDF statistics', () => {
    const f = features(fx, 'blue teapot kettle');
    expect(f('coverage_title').p4).toBeCloseTo(2 / 3, 6);
    expect(f('coverage_description').p4).toBeCloseTo(1 / 3, 6);
    expect(f('coverage_fields').p4).toBe(0);
    expect(f('coverage_all').p4).toBeCloseTo(2 / 3, 6);
    // Over all text: N = 11 non-empty items; blue in 1, teapot in 1, kettle in none.
    const [blue, teapot, kettle] = [idf(1, 11), idf(1, 11), idf(0, 11)];
    expect(f('coverage_all_idf').p4).toBeCloseTo((blue + teapot) / (blue + teapot + kettle), 5);
    expect(f('query_idf_max').p4).toBeCloseTo(kettle, 5);
    expect(f('query_idf_min').p4).toBeCloseTo(teapot, 5);
    expect(f('query_idf_mean').p4).toBeCloseTo((blue + teapot + kettle) / 3, 5);
    expect(f('coverage_all').p3).toBe(0);
    // Plural and singular match through the stemmer.
    expect(one(fx, 'monitors', 'p1', 'coverage_title')).toBe(1);
  });

  it('exact and phrase match in the title', () => {
    const exact = (q: string) => one(fx, q, 'p3', 'exact_title');
    const phrase = (q: string) => one(fx, q, 'p3', 'phrase_title');
    expect(exact('red walrus mug')).toBe(1);
    expect(exact('Walrus MUGS')).toBe(1);
    expect(exact('mug walrus')).toBe(0);
    expect(exact('red mug')).toBe(0);
    expect(exact('walrus mu')).toBe(0); // whole terms only
    expect(phrase('red walrus')).toBe(1);
    expect(phrase('red walrus cup')).toBe(0.5);
    expect(phrase('walrus red mug')).toBe(0);
    expect(phrase('mug')).toBe(0); // no bigram at all
  });

  it('character trigram Jaccard between query and title', () => {
    // " mug " → 3 trigrams; " red walrus mug " → 14 distinct, 3 shared: 3 / (3 + 14 − 3).
    expect(one(fx, 'mug', 'p3', 'trigram_jaccard_title')).toBeCloseTo(3 / 14, 6);
    expect(one(fx, 'Red Walrus Mug', 'p3', 'trigram_jaccard_title')).toBeCloseTo(1, 6);
    expect(one(fx, 'teapot', 'p3', 'trigram_jaccard_title')).toBe(0);
  });

  it('numbers and units', () => {
    const f = features(fx, '27 inch monitor');
    expect(f('query_has_numbers')).toMatchObject({ p1: 1, p2: 1, p3: 1 });
    expect(f('numbers_matched')).toMatchObject({ p1: 1, p2: 0, p3: 0 });
    expect(f('units_matched')).toMatchObject({ p1: 1, p2: 0, p3: 0 });
    expect(f('units_conflict')).toMatchObject({ p1: 0, p2: 1, p3: 0 }); // p2 says 24 in.
    expect(one(fx, '27" monitor', 'p1', 'units_matched')).toBe(1);
    expect(one(fx, '27in monitor', 'p1', 'units_matched')).toBe(1);
    expect(one(fx, '1 tb drive', 'p5', 'units_matched')).toBe(1);
    expect(one(fx, '500 gb drive', 'p5', 'units_matched')).toBe(0);
    expect(one(fx, '500 gb drive', 'p5', 'units_conflict')).toBe(0); // p5 states tb, never gb
    expect(one(fx, '27 27 monitor 5', 'p1', 'numbers_matched')).toBe(0.5);
    const none = features(fx, 'monitor');
    expect(none('query_has_numbers').p1).toBe(0);
    expect(none('numbers_matched').p1).toBe(0);
  });

  it('brand asked for, and another brand asked for', () => {
    const f = features(fx, 'dell monitor');
    expect(f('brand_in_query')).toMatchObject({ p1: 1, p2: 0, p3: 0 });
    expect(f('other_brand_in_query')).toMatchObject({ p1: 0, p2: 1, p3: 1 });
    const g = features(fx, 'monitor');
    expect(Object.values(g('other_brand_in_query')).every((v) => v === 0)).toBe(true);
    expect(one(fx, 'black and decker drill', 'p12', 'brand_in_query')).toBe(1);
    expect(one(fx, 'black and decker drill', 'p12', 'other_brand_in_query')).toBe(0);
    expect(one(fx, 'black and decker drill', 'p1', 'other_brand_in_query')).toBe(1);
    expect(one(fx, 'acme arm', 'p11', 'brand_in_query')).toBe(1); // brand from attributes
    expect(one(fx, 'black drill', 'p12', 'brand_in_query')).toBe(0); // every brand term needed
  });

  it('lengths', () => {
    const f = features(fx, 'the red mug');
    expect(f('query_terms').p3).toBe(3);
    expect(f('title_terms_log').p3).toBeCloseTo(Math.log(4), 6);
    expect(f('title_terms_log').p6).toBe(0);
    expect(f('has_description')).toMatchObject({ p1: 1, p3: 0, p4: 1, p6: 0 });
  });

  it('embedding slots are zero and a reused out buffer is overwritten', () => {
    const out = new Float32Array(SHOP_IDS.length * FEATURES.length).fill(99);
    const rows = fx.extract({ text: 'dell monitor' }, SHOP_IDS, out);
    expect(rows).toBe(out);
    for (let r = 0; r < SHOP_IDS.length; r++) {
      expect(rows[r * FEATURES.length + col('twotower_cosine')]).toBe(0);
      expect(rows[r * FEATURES.length + col('emb_sim_2')]).toBe(0);
    }
    expect([...rows].includes(99)).toBe(false);
    expect(() => fx.extract({ text: 'x' }, SHOP_IDS, new Float32Array(3))).toThrow(RangeError);
  });
});

describe('item priors', () => {
  // Prior judgments: (q1, p1) gain 4, (q3, p1) gain 2, (q1, p2) gain 0; global mean 2.
  it('use every prior judgment for a query without id', () => {
    const f = features(fxPriors, 'dell monitor', ['p1', 'p2', 'p3']);
    expect(f('prior_judgments_log').p1).toBeCloseTo(Math.log1p(2), 6);
    expect(f('prior_gain_mean').p1).toBeCloseTo((6 + 3 * 2) / (2 + 3), 6);
    expect(f('prior_gain_mean').p2).toBeCloseTo((0 + 3 * 2) / (1 + 3), 6);
    expect(f('prior_judgments_log').p3).toBe(0);
    expect(f('prior_gain_mean').p3).toBeCloseTo(2, 6);
  });

  it("leave the pair's own judgment out when the query id is given", () => {
    const f = features(fxPriors, { id: 'q1', text: 'dell monitor' }, ['p1', 'p2', 'p3']);
    // p1 without (q1, p1): one judgment of gain 2; global without it: (2 + 0) / 2 = 1.
    expect(f('prior_judgments_log').p1).toBeCloseTo(Math.log1p(1), 6);
    expect(f('prior_gain_mean').p1).toBeCloseTo((2 + 3 * 1) / (1 + 3), 6);
    // p2 without (q1, p2): nothing left; global without it: (4 + 2) / 2 = 3.
    expect(f('prior_judgments_log').p2).toBe(0);
    expect(f('prior_gain_mean').p2).toBeCloseTo(3, 6);
    // Another query id that never judged p1 sees all of p1's judgments.
    expect(one(fxPriors, 'x', 'p1', 'prior_gain_mean')).toBeCloseTo(features(fxPriors, { id: 'q2', text: 'x' }, ['p1'])('prior_gain_mean').p1!, 6);
  });

  it('are neutral without prior judgments', () => {
    const f = features(fx, { id: 'q1', text: 'dell monitor' }, ['p1']);
    expect(f('prior_judgments_log').p1).toBe(0);
    expect(f('prior_gain_mean').p1).toBe(0);
  });
});

describe('multilingual text', () => {
  it('German: inflected and diacritic forms match; a query equal to the title matches fully', () => {
    const f = features(fx, 'kühlschränke', ['p7', 'p1']);
    expect(f('coverage_title').p7).toBe(1);
    expect(f('bm25_title').p7).toBeGreaterThan(0);
    expect(f('coverage_title').p1).toBe(0);
    const same = features(fx, 'Kühlschrank mini', ['p7']);
    expect(same('coverage_title').p7).toBe(1);
    expect(same('exact_title').p7).toBe(1);
    expect(same('phrase_title').p7).toBe(1);
  });

  it('Japanese and Chinese: equal titles match fully; CJK bigrams find words inside longer runs', () => {
    for (const [query, id] of [
      ['冷蔵庫', 'p8'],
      ['小型冷蔵庫 静音', 'p9'],
      ['电冰箱 双门', 'p10'],
    ] as const) {
      const f = features(fx, query, [id]);
      expect(f('coverage_title')[id], query).toBe(1);
      expect(f('coverage_all')[id], query).toBe(1);
      expect(f('exact_title')[id], query).toBe(1);
      expect(f('phrase_title')[id], query).toBe(1);
      expect(f('trigram_jaccard_title')[id], query).toBeCloseTo(1, 6);
      expect(f('bm25_title')[id], query).toBeGreaterThan(0);
    }
    // "冷蔵庫" inside "小型冷蔵庫": not the same token, but the same characters in order.
    const f = features(fx, '冷蔵庫', ['p9', 'p10', 'p3']);
    expect(f('coverage_title').p9).toBe(0);
    expect(f('exact_title').p9).toBe(1);
    expect(f('phrase_title').p9).toBe(1);
    expect(f('trigram_jaccard_title').p9).toBeGreaterThan(0);
    expect(f('phrase_title').p10).toBe(0);
    expect(f('trigram_jaccard_title').p3).toBe(0);
  });
});

describe('degenerate input', () => {
  const allFinite = (rows: Float32Array): boolean => rows.every((v) => Number.isFinite(v));

  it('empty, all-stopword and punctuation-only queries and empty titles give finite rows', () => {
    for (const q of ['', '   ', 'the of and', '!!! ???', 'a', '"', '冷蔵庫', '27" 1tb', 'dell dell dell']) {
      const rows = fx.extract({ text: q }, SHOP_IDS);
      expect(rows).toHaveLength(SHOP_IDS.length * FEATURES.length);
      expect(allFinite(rows), q).toBe(true);
    }
    const empty = features(fx, '');
    expect(Object.values(empty('bm25_all')).every((v) => v === 0)).toBe(true);
    expect(Object.values(empty('exact_title')).every((v) => v === 0)).toBe(true);
    // All stopwords: they become the query terms, as in BM25 retrieval.
    expect(one(fx, 'with', 'p4', 'coverage_title')).toBe(1);
    expect(one(fx, 'with', 'p6', 'coverage_title')).toBe(0);
  });

  it('any query text gives finite rows (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (text) => allFinite(fxPriors.extract({ id: 'q1', text }, SHOP_IDS))),
      { numRuns: 300 },
    );
  });

  it('an empty candidate list gives an empty matrix', () => {
    expect(fx.extract({ text: 'dell' }, [])).toHaveLength(0);
  });

  it('an unknown item id throws UNKNOWN_REFERENCE naming it', () => {
    let err: unknown;
    try {
      fx.extract({ text: 'dell' }, ['p1', 'nope-42']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DistilrankError);
    expect((err as DistilrankError).code).toBe('UNKNOWN_REFERENCE');
    expect((err as DistilrankError).message).toContain('nope-42');
    expect(fx.has('p1')).toBe(true);
    expect(fx.has('nope-42')).toBe(false);
  });

  it('fromStore refuses a data set that is not in the store', () => {
    expect(() => FeatureExtractor.fromStore(store.dataset('nothing-here'))).toThrow(expect.objectContaining({ code: 'STORE_NOT_FOUND' }));
  });
});

describe('BM25 over all text agrees with the store FTS5 BM25', () => {
  // Words the Porter stemmer maps consistently; documents of varied lengths and term frequencies.
  const WORDS = ['lamp', 'desk', 'chair', 'table', 'shelf', 'cable', 'light', 'wood', 'steel', 'glass'];
  let corpus: Store;
  let ex: FeatureExtractor;
  const EQUAL = { title: 1, description: 1, fields: 1 };

  beforeAll(() => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * n);
    };
    const text = (len: number): string => Array.from({ length: len }, () => WORDS[rand(WORDS.length)]).join(' ');
    const items: DatasetBundle['items'] = Array.from({ length: 40 }, (_, i) => ({
      id: `d${i}`,
      title: text(1 + rand(6)),
      ...(rand(2) ? { description: text(rand(12)) } : {}),
      ...(rand(3) === 0 ? { fields: { material: text(1 + rand(3)) } } : {}),
    }));
    corpus = Store.open(join(tmp.path, 'corpus.db'), { create: true });
    corpus.ingest(bundle('corpus', items));
    ex = FeatureExtractor.fromStore(corpus.dataset('corpus'));
  });
  afterAll(() => corpus.close());

  it('ranks every single-term query in the same order, scores proportional (same tf and length normalisation)', () => {
    const ids = corpus.itemIds('corpus');
    for (const w of [...WORDS, 'lamps', 'tables', 'chairs']) {
      const fts = corpus.bm25('corpus', ftsMatchExpression(w)!, { k: 1000, weights: EQUAL });
      expect(fts.length, w).toBeGreaterThan(0);
      const mine = features(ex, w, ids)('bm25_all');
      const matched = ids.filter((id) => mine[id]! > 0);
      expect(new Set(matched), w).toEqual(new Set(fts.map((r) => r.itemId)));
      // FTS5's IDF differs from Lucene's by a constant factor for one term: the ratio is constant.
      const ratios = fts.map((r) => r.score / mine[r.itemId]!);
      for (const x of ratios) expect(x / ratios[0]!, w).toBeCloseTo(1, 4);
      const order = [...matched].sort((a, b) => mine[b]! - mine[a]! || (a < b ? 1 : -1));
      const ftsOrder = [...fts].sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? 1 : -1)).map((r) => r.itemId);
      expect(order, w).toEqual(ftsOrder);
    }
  });

  it('scores two-term queries of equally frequent terms proportionally (same order)', () => {
    const ids = corpus.itemIds('corpus');
    const df = (w: string) => ids.filter((id) => one(ex, w, id, 'bm25_all') > 0).length;
    const byDf = new Map<number, string[]>();
    for (const w of WORDS) byDf.set(df(w), [...(byDf.get(df(w)) ?? []), w]);
    const pairs = [...byDf.values()].filter((ws) => ws.length >= 2).map((ws) => `${ws[0]} ${ws[1]}`);
    expect(pairs.length).toBeGreaterThan(0);
    for (const q of pairs) {
      const fts = corpus.bm25('corpus', ftsMatchExpression(q)!, { k: 1000, weights: EQUAL });
      const mine = features(ex, q, ids)('bm25_all');
      const ratios = fts.map((r) => r.score / mine[r.itemId]!);
      for (const x of ratios) expect(x / ratios[0]!, q).toBeCloseTo(1, 4);
    }
  });
});

describe('sliced build', () => {
  it('fromStoreSliced gives the event loop back while it builds, and computes the same features as fromStore', async () => {
    const s = Store.open(join(tmp.path, 'sliced.db'), { create: true });
    try {
      s.ingest(builtInBundle('cranfield'));
      const priorJudgments = s.judgments('cranfield', { split: 'train' });
      let ticks = 0;
      const timer = setInterval(() => (ticks += 1), 1);
      const sliced = await FeatureExtractor.fromStoreSliced(s.dataset('cranfield'), { priorJudgments });
      clearInterval(timer);
      // A build that never yielded would let the 1 ms timer fire at most once.
      expect(ticks).toBeGreaterThan(2);
      const whole = FeatureExtractor.fromStore(s.dataset('cranfield'), { priorJudgments });
      expect(sliced.itemCount).toBe(whole.itemCount);
      const ids = s.itemIds('cranfield').slice(0, 300);
      for (const q of s.queries('cranfield').slice(0, 20)) expect(sliced.extract(q, ids)).toEqual(whole.extract(q, ids));
    } finally {
      s.close();
    }
  }, 60_000);
});

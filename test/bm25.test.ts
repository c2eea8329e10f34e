/**
 * BM25 over FTS5: scores checked against a brute-force BM25 (FTS5's documented formula), a small
 * named ranking set, the query → MATCH expression translation, and the Ranker contract.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discreteMapping } from '../src/core/index.ts';
import { Bm25Ranker, MAX_QUERY_TERMS, ftsMatchExpression } from '../src/retrieve/index.ts';
import { Store } from '../src/store/index.ts';
import { type DatasetBundle, type FieldWeights } from '../src/ingest/index.ts';
import { useTempDir, withRawDb } from './helpers.ts';

const tmp = useTempDir('distilrank-bm25-');
const freshStore = (): Store => Store.open(tmp.fresh('bm25', '.db'), { create: true });

const MAPPING = discreteMapping('binary', 'binary', [
  [0, 1, '0 → L1'],
  [1, 5, '1 → L5'],
]);

interface TestItem {
  id: string;
  title: string;
  description?: string;
  fields?: Record<string, string>;
}

function bundle(name: string, items: readonly TestItem[], fieldWeights?: FieldWeights): DatasetBundle {
  return {
    name,
    description: 'test',
    source: 'test',
    mapping: MAPPING,
    defaultJudgmentSet: 'default',
    ...(fieldWeights ? { fieldWeights } : {}),
    items,
    queries: [{ id: 'q', text: 'anything' }],
    judgments: [],
  };
}

// ---------------------------------------------------------------------------------------------
// Oracle: BM25 exactly as FTS5's bm25() computes it (sqlite.org/fts5.html §5.1.1 and fts5_aux.c):
//   score(D, Q) = Σ_i IDF(q_i) · f(q_i, D)·(k1 + 1) / (f(q_i, D) + k1·(1 − b + b·|D|/avgdl))
//   IDF(q) = ln((N − n(q) + 0.5) / (n(q) + 0.5)), and IDF ≤ 0 is replaced by 1e-6
//   f(q, D) = Σ_columns weight_c · (occurrences of q in column c)
//   |D| = tokens of the row over all columns; avgdl = all tokens / N; k1 = 1.2, b = 0.75.
// store.bm25 returns −bm25(), so higher is better.

/** Words Porter stemming and unicode61 leave as they are (checked below against the index). */
const VOCAB = ['red', 'cat', 'box', 'sun', 'pen', 'cup', 'dog', 'map', 'hat', 'fox', 'jar', 'van'] as const;

function tokens(text: string | undefined): string[] {
  return text ? (text.toLowerCase().match(/[a-z0-9]+/g) ?? []) : [];
}

function columnsOf(it: TestItem): [string[], string[], string[]] {
  return [tokens(it.title), tokens(it.description), tokens(it.fields ? Object.values(it.fields).join('\n') : '')];
}

function oracleBm25(items: readonly TestItem[], queryTerms: readonly string[], w: FieldWeights): Map<string, number> {
  const k1 = 1.2;
  const b = 0.75;
  const weights = [w.title, w.description, w.fields];
  const cols = items.map(columnsOf);
  const N = items.length;
  const avgdl = cols.reduce((s, c) => s + c[0].length + c[1].length + c[2].length, 0) / N;
  const terms = [...new Set(queryTerms)];
  const idf = new Map<string, number>();
  for (const t of terms) {
    const nHit = cols.filter((c) => c.some((col) => col.includes(t))).length;
    const v = Math.log((N - nHit + 0.5) / (nHit + 0.5));
    idf.set(t, v <= 0 ? 1e-6 : v);
  }
  const out = new Map<string, number>();
  items.forEach((it, i) => {
    const c = cols[i]!;
    if (!terms.some((t) => c.some((col) => col.includes(t)))) return;
    const D = c[0].length + c[1].length + c[2].length;
    let score = 0;
    for (const t of terms) {
      const f = c.reduce((s, col, ci) => s + weights[ci]! * col.filter((x) => x === t).length, 0);
      score += (idf.get(t)! * (f * (k1 + 1))) / (f + k1 * (1 - b + (b * D) / avgdl));
    }
    out.set(it.id, score);
  });
  return out;
}

const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

describe('BM25 oracle', () => {
  it('the vocabulary is indexed unchanged by the porter/unicode61 tokenizer', () => {
    const s = freshStore();
    s.ingest(bundle('vocab', [{ id: 'a', title: VOCAB.join(' ') }]));
    const indexed = withRawDb(s.path, (db) => {
      db.exec("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, 'fts_vocab', 'row')");
      return (db.prepare('SELECT term FROM temp.vocab ORDER BY term').all() as { term: string }[]).map((r) => r.term);
    });
    expect(indexed).toEqual([...VOCAB].sort());
    s.close();
  });

  const word = fc.constantFrom(...VOCAB);
  const text = (max: number) => fc.array(word, { maxLength: max }).map((ws) => ws.join(' '));
  const item = fc.record(
    {
      title: text(4),
      description: text(6),
      fields: fc.dictionary(fc.constantFrom('brand', 'colour', 'material'), text(3), { maxKeys: 3 }),
    },
    { requiredKeys: ['title'] },
  );
  const corpus = fc.array(item, { minLength: 1, maxLength: 14 }).map((xs) => xs.map((x, i): TestItem => ({ id: `d${i}`, ...x })));
  const weight = fc.constantFrom(0.5, 1, 2, 3.5);
  const weights = fc.record({ title: weight, description: weight, fields: weight });
  const query = fc.array(word, { minLength: 1, maxLength: 3 });

  it('property: store.bm25 equals brute-force BM25 (scores to 1e-9, same ranking)', () => {
    fc.assert(
      fc.property(corpus, weights, query, fc.boolean(), (items, w, q, explicitWeights) => {
        const s = freshStore();
        try {
          // either the data set's stored weights or weights passed per call
          s.ingest(bundle('oracle', items, explicitWeights ? undefined : w));
          const match = ftsMatchExpression(q.join(' '));
          expect(match).not.toBeNull();
          const got = s.bm25('oracle', match!, { k: 1000, ...(explicitWeights ? { weights: w } : {}) });
          const want = oracleBm25(items, q, w);

          expect(got.map((r) => r.itemId).sort()).toEqual([...want.keys()].sort());
          for (const r of got) expect(close(r.score, want.get(r.itemId)!), `${r.itemId}: ${r.score} vs ${want.get(r.itemId)}`).toBe(true);
          // ranked best first
          for (let i = 1; i < got.length; i++) expect(got[i - 1]!.score).toBeGreaterThanOrEqual(got[i]!.score);

          // top-k: the k best scores, and every returned item is among the true top k (ties aside)
          const k = 3;
          const top = s.bm25('oracle', match!, { k, ...(explicitWeights ? { weights: w } : {}) });
          const wantSorted = [...want.values()].sort((a, b) => b - a);
          expect(top.length).toBe(Math.min(k, want.size));
          top.forEach((r, i) => expect(close(r.score, wantSorted[i]!)).toBe(true));
          const kth = wantSorted[Math.min(k, want.size) - 1] ?? Infinity;
          for (const r of top) expect(want.get(r.itemId)! >= kth - 1e-9 * Math.max(1, kth)).toBe(true);

          // the rerank path (restrictTo) scores with the same global statistics
          const some = items.filter((_, i) => i % 2 === 0).map((x) => x.id);
          const restricted = s.bm25('oracle', match!, { restrictTo: some, weights: w });
          expect(restricted.map((r) => r.itemId).sort()).toEqual(some.filter((id) => want.has(id)).sort());
          for (const r of restricted) expect(close(r.score, want.get(r.itemId)!)).toBe(true);
        } finally {
          s.close();
        }
      }),
      { numRuns: 80 },
    );
  });

  it('a term in more than half the rows gets the FTS5 IDF floor of 1e-6', () => {
    const s = freshStore();
    const items = [
      { id: 'a', title: 'cat' },
      { id: 'b', title: 'cat dog' },
      { id: 'c', title: 'fox' },
    ];
    s.ingest(bundle('floor', items));
    const w = { title: 1, description: 1, fields: 1 };
    const got = new Map(s.bm25('floor', '"cat"', { weights: w }).map((r) => [r.itemId, r.score]));
    // avgdl = 4/3; for "a": f = 1, |D| = 1
    const expectedA = (1e-6 * 2.2) / (1 + 1.2 * (0.25 + (0.75 * 1) / (4 / 3)));
    expect(close(got.get('a')!, expectedA)).toBe(true);
    expect(got.get('b')! < got.get('a')!).toBe(true);
    s.close();
  });
});

// ---------------------------------------------------------------------------------------------
// A named ranking set (in the spirit of MiniSearch's movie ranking set): each case has one item that
// must come first, and the comment says why. Default field weights: title 2, description 1, fields 1.

const PRODUCTS: TestItem[] = [
  { id: 'lantern-title', title: 'brass lantern', description: 'hanging candle holder' },
  { id: 'lantern-desc', title: 'candle holder', description: 'brass lantern hanging' },
  { id: 'kettle-3x', title: 'steel kettle', description: 'kettle kettle whistle' },
  { id: 'kettle-1x', title: 'glass teapot', description: 'kettle with infuser' },
  { id: 'monitor-27', title: 'Dell 27" Monitor (4K UHD)', description: 'IPS panel, USB-C', fields: { brand: 'Dell' } },
  { id: 'monitor-arm', title: 'monitor arm', description: 'holds one 24 inch monitor' },
  { id: 'coffee-book', title: 'The Art of Coffee', description: 'a book' },
  { id: 'fridge-de', title: 'Kühlschrank mini', description: 'kleiner Kühlschrank' },
  { id: 'fridge-ja', title: '冷蔵庫 小型' },
];

describe('ranking set', () => {
  let store: Store;
  let ranker: Bm25Ranker;
  beforeAll(() => {
    store = freshStore();
    store.ingest(bundle('products', PRODUCTS));
    ranker = new Bm25Ranker(store.dataset('products'));
  });
  afterAll(() => store.close());

  const top = (q: string): string | undefined => ranker.retrieve(q, 10)[0]?.itemId;

  it('title weight beats description: "lantern"', () => {
    // Both items hold "lantern" once and have 4 tokens; title weight 2 beats description weight 1.
    const r = ranker.retrieve('lantern', 10);
    expect(r.map((x) => x.itemId)).toEqual(['lantern-title', 'lantern-desc']);
    expect(r[0]!.score).toBeGreaterThan(r[1]!.score);
  });

  it('term frequency: "kettle"', () => {
    // Both rows have 5 tokens; kettle-3x holds "kettle" three times (once in the title).
    expect(ranker.retrieve('kettle', 10).map((x) => x.itemId)).toEqual(['kettle-3x', 'kettle-1x']);
  });

  it('the rarer term wins: "hanging whistle"', () => {
    // "whistle" is in one row (IDF ln(8.5/1.5) ≈ 1.73), "hanging" in two (IDF ln 3 ≈ 1.10), all in
    // descriptions with one occurrence and similar lengths: the whistle row must come first.
    const r = ranker.retrieve('hanging whistle', 10);
    expect(r[0]?.itemId).toBe('kettle-3x');
    expect(r.map((x) => x.itemId).sort()).toEqual(['kettle-3x', 'lantern-desc', 'lantern-title']);
  });

  it('a query of stopwords only still searches: "the of"', () => {
    // Stopwords are dropped only when something else remains; here "the" and "of" are kept.
    expect(ftsMatchExpression('the of')).toBe('"the" OR "of"');
    expect(ranker.retrieve('the of', 10).map((x) => x.itemId)).toEqual(['coffee-book']);
  });

  it('quotes and brackets do not break FTS5: `27" monitor (4k)`', () => {
    // "27" and "4k" occur only in the Dell monitor; "monitor" is in two rows.
    expect(() => ranker.retrieve('27" monitor (4k)', 10)).not.toThrow();
    expect(top('27" monitor (4k)')).toBe('monitor-27');
    expect(
      ranker
        .retrieve('27" monitor (4k)', 10)
        .map((x) => x.itemId)
        .sort(),
    ).toEqual(['monitor-27', 'monitor-arm']);
  });

  it('a query without terms returns nothing, and scores every candidate 0', () => {
    expect(ranker.retrieve('', 10)).toEqual([]);
    expect(ranker.retrieve('  !!! --- "" () ', 10)).toEqual([]);
    expect(ranker.score('?!', ['kettle-1x', 'fridge-ja'])).toEqual([
      { itemId: 'kettle-1x', score: 0 },
      { itemId: 'fridge-ja', score: 0 },
    ]);
  });

  it('non-Latin text: German with and without umlaut, Japanese', () => {
    // remove_diacritics 2 folds ü to u on both sides; unicode61 keeps 冷蔵庫 as one token.
    expect(top('Kühlschrank')).toBe('fridge-de');
    expect(top('kuhlschrank')).toBe('fridge-de');
    expect(top('KÜHLSCHRANK')).toBe('fridge-de');
    expect(top('冷蔵庫')).toBe('fridge-ja');
    expect(ranker.retrieve('冷蔵庫', 10)).toHaveLength(1);
  });

  it('the brand field is searched', () => {
    expect(top('dell')).toBe('monitor-27');
  });

  it('k limits the result', () => {
    expect(ranker.retrieve('monitor kettle lantern', 2)).toHaveLength(2);
    expect(ranker.retrieve('monitor kettle lantern', 100)).toHaveLength(6);
  });
});

// ---------------------------------------------------------------------------------------------

describe('ftsMatchExpression', () => {
  it('drops stopwords, keeps order, lower-cases', () => {
    expect(ftsMatchExpression('The Red cat and the BOX')).toBe('"red" OR "cat" OR "box"');
  });

  it('dedupes terms', () => {
    expect(ftsMatchExpression('cat Cat CAT dog cat')).toBe('"cat" OR "dog"');
  });

  it(`caps the terms at MAX_QUERY_TERMS (${MAX_QUERY_TERMS})`, () => {
    const words = Array.from({ length: MAX_QUERY_TERMS + 8 }, (_, i) => `w${i}`);
    const m = ftsMatchExpression(words.join(' '))!;
    expect(m.split(' OR ')).toEqual(words.slice(0, MAX_QUERY_TERMS).map((w) => `"${w}"`));
  });

  it('returns null when there are no terms', () => {
    expect(ftsMatchExpression('')).toBeNull();
    expect(ftsMatchExpression(' \t\n')).toBeNull();
    expect(ftsMatchExpression('"" -- ** () :: ^')).toBeNull();
  });

  it('quotes every term, so FTS5 syntax in queries is plain text', () => {
    expect(ftsMatchExpression('say "hi" NEAR(cat dog) title:cat dog* -box ^sun')).toBe(
      '"say" OR "hi" OR "near" OR "cat" OR "dog" OR "title" OR "box" OR "sun"',
    );
    // "or", "and", "not" are stopwords; alone they are kept — quoted, so not operators
    expect(ftsMatchExpression('OR AND NOT')).toBe('"or" OR "and" OR "not"');
    expect(ftsMatchExpression('27" monitor (4k)')).toBe('"27" OR "monitor" OR "4k"');
  });

  it('keeps non-Latin terms', () => {
    expect(ftsMatchExpression('Kühlschrank')).toBe('"kühlschrank"');
    // CJK: character bigrams then unigrams, as the index holds them (src/text/segment.ts).
    expect(ftsMatchExpression('冷蔵庫')).toBe('"冷蔵" OR "蔵庫" OR "冷" OR "蔵" OR "庫"');
    expect(ftsMatchExpression('Σοφία καφές')).toBe('"σοφία" OR "καφές"');
  });

  it('property: any text gives null or an expression FTS5 accepts', () => {
    const s = freshStore();
    s.ingest(bundle('fuzz', PRODUCTS));
    try {
      fc.assert(
        fc.property(
          fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 20 })),
          (q) => {
            const m = ftsMatchExpression(q);
            if (m === null) return;
            expect(m.split(' OR ').length).toBeLessThanOrEqual(MAX_QUERY_TERMS);
            expect(() => s.bm25('fuzz', m, { k: 5 })).not.toThrow();
          },
        ),
        { numRuns: 300 },
      );
    } finally {
      s.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('Bm25Ranker', () => {
  it('score returns every candidate exactly once, in order, 0 for non-matching, equal to retrieve scores', () => {
    const s = freshStore();
    s.ingest(bundle('products', PRODUCTS));
    const ranker = new Bm25Ranker(s.dataset('products'));
    const candidates = ['fridge-ja', 'kettle-1x', 'no-such-item', 'monitor-arm', 'kettle-3x', 'coffee-book'];
    const scored = ranker.score('kettle monitor', candidates);
    expect(scored.map((x) => x.itemId)).toEqual(candidates);
    const byId = new Map(scored.map((x) => [x.itemId, x.score]));
    expect(byId.get('fridge-ja')).toBe(0);
    expect(byId.get('no-such-item')).toBe(0);
    expect(byId.get('coffee-book')).toBe(0);
    const retrieved = new Map(ranker.retrieve('kettle monitor', 100).map((x) => [x.itemId, x.score]));
    for (const id of ['kettle-1x', 'monitor-arm', 'kettle-3x']) {
      expect(byId.get(id)!).toBeGreaterThan(0);
      expect(byId.get(id)!).toBeCloseTo(retrieved.get(id)!, 12);
    }
    expect(ranker.score('kettle', [])).toEqual([]);
    expect(ranker.name).toBe('bm25');
    s.close();
  });

  it('explicit weights override the data set weights', () => {
    const s = freshStore();
    s.ingest(bundle('products', PRODUCTS));
    // with description weighted far above title, the description "lantern" wins
    const r = new Bm25Ranker(s.dataset('products'), { title: 1, description: 10, fields: 1 });
    expect(r.retrieve('lantern', 10)[0]?.itemId).toBe('lantern-desc');
    s.close();
  });

  it('insertion order of items does not change rankings', () => {
    const forward = freshStore();
    const backward = freshStore();
    forward.ingest(bundle('products', PRODUCTS));
    backward.ingest(bundle('products', [...PRODUCTS].reverse()));
    const a = new Bm25Ranker(forward.dataset('products'));
    const b = new Bm25Ranker(backward.dataset('products'));
    const canon = (xs: { itemId: string; score: number }[]) =>
      [...xs].sort((x, y) => y.score - x.score || (x.itemId < y.itemId ? -1 : 1)).map((x) => [x.itemId, Number(x.score.toPrecision(12))]);
    for (const q of ['lantern', 'kettle', 'hanging whistle', 'monitor kettle lantern', 'the of', 'brass candle holder', 'Kühlschrank']) {
      const ra = a.retrieve(q, 100);
      expect(ra.length).toBeGreaterThan(0);
      expect(canon(b.retrieve(q, 100))).toEqual(canon(ra));
      const ids = PRODUCTS.map((p) => p.id);
      expect(canon(b.score(q, ids))).toEqual(canon(a.score(q, ids)));
    }
    forward.close();
    backward.close();
  });

  // Query terms and indexed text are both NFKC-folded, so compatibility forms find their items.
  it('an item is found by its own title when the title has compatibility characters', () => {
    const s = freshStore();
    const titles = ['ＵＳＢ ハブ', 'ｹｰﾌﾞﾙ', 'ﬁlter', 'x² meter'];
    s.ingest(
      bundle(
        'nfkc',
        titles.map((title, i) => ({ id: `t${i}`, title })),
      ),
    );
    const r = new Bm25Ranker(s.dataset('nfkc'));
    titles.forEach((t, i) => expect(r.retrieve(t, 5).map((x) => x.itemId)).toContain(`t${i}`));
    expect(r.retrieve('USB', 5).map((x) => x.itemId)).toContain('t0');
    s.close();
  });

  it('an item is found by its own title (scripts and diacritics that NFKC leaves alone)', () => {
    const s = freshStore();
    const titles = ['Kühlschrank', '冷蔵庫', 'cafe\u0301 noir', 'Straße', 'ΣΟΦΙΑ', 'İstanbul', 'e-mail wi‑fi'];
    s.ingest(
      bundle(
        'scripts',
        titles.map((title, i) => ({ id: `t${i}`, title })),
      ),
    );
    const r = new Bm25Ranker(s.dataset('scripts'));
    titles.forEach((t, i) =>
      expect(
        r.retrieve(t, 5).map((x) => x.itemId),
        t,
      ).toContain(`t${i}`),
    );
    s.close();
  });
});

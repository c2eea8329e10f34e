/**
 * The in-memory BM25 index against its oracle, FTS5 itself: the same items in the same order with
 * the same scores, on real catalogues and on random ones (ties included); phrase queries handed back
 * to FTS5; a sliced build that lets timers run and ends in the same index.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discreteMapping } from '../src/core/index.ts';
import { Bm25Index } from '../src/retrieve/bm25-index.ts';
import { Bm25Ranker, ftsMatchExpression } from '../src/retrieve/index.ts';
import { Store } from '../src/store/index.ts';
import { type DatasetBundle, type FieldWeights } from '../src/ingest/index.ts';
import { builtInBundle, useTempDir } from './helpers.ts';

const tmp = useTempDir('distilrank-bm25-index-');
const freshStore = (): Store => Store.open(tmp.fresh('idx', '.db'), { create: true });

const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

/** Index results equal FTS5's for every query: ids in order, scores to 1e-9; restricted scoring too. */
function expectParity(store: Store, dataset: string, index: Bm25Index, queries: readonly string[], k: number, weights: FieldWeights): number {
  let compared = 0;
  for (const q of queries) {
    const match = ftsMatchExpression(q);
    const got = index.search(q, k);
    if (!match) {
      expect(got).toEqual([]);
      continue;
    }
    const want = store.bm25(dataset, match, { k, weights });
    expect(got, q).not.toBeNull();
    expect(
      got!.map((r) => r.itemId),
      q,
    ).toEqual(want.map((r) => r.itemId));
    got!.forEach((r, i) => expect(close(r.score, want[i]!.score), `${q} ${r.itemId}: ${r.score} vs ${want[i]!.score}`).toBe(true));
    // Restricted scoring: matching candidates get FTS5's score, the others (and unknown ids) 0.
    const candidates = [...want.slice(0, 5).map((r) => r.itemId), 'no-such-item'];
    const restricted = new Map(store.bm25(dataset, match, { restrictTo: candidates, weights }).map((r) => [r.itemId, r.score]));
    for (const r of index.score(q, candidates)!) expect(close(r.score, restricted.get(r.itemId) ?? 0), `${q} ${r.itemId}`).toBe(true);
    compared += 1;
  }
  return compared;
}

describe('parity with FTS5 on real catalogues', () => {
  for (const name of ['icecat-chorus', 'cranfield']) {
    it(`${name}: every query, top 200`, () => {
      const store = freshStore();
      try {
        store.ingest(builtInBundle(name));
        const weights = store.dataset(name).fieldWeights;
        const index = Bm25Index.build(store.dataset(name), weights);
        const queries = store.queries(name).map((q) => q.text);
        expect(index.stats().items).toBe(store.itemCount(name));
        expect(expectParity(store, name, index, queries, 200, weights)).toBe(queries.length);
        expect(index.stats().deferred).toBe(0);
        index.close();
      } finally {
        store.close();
      }
    }, 60_000);
  }
});

const MAPPING = discreteMapping('binary', 'binary', [
  [0, 1, '0 → L1'],
  [1, 5, '1 → L5'],
]);

function bundle(name: string, items: DatasetBundle['items'], fieldWeights?: FieldWeights): DatasetBundle {
  return {
    name,
    description: 'test',
    source: 'test',
    mapping: MAPPING,
    defaultJudgmentSet: 'default',
    ...(fieldWeights ? { fieldWeights } : {}),
    items,
    queries: [{ id: 'q', text: 'x' }],
    judgments: [],
  };
}

describe('parity with FTS5 on random catalogues', () => {
  // Inflected words, so the porter stemmer merges some query terms ("boxes" and "box" are one term twice).
  const word = fc.constantFrom('box', 'boxes', 'red', 'reddish', 'cat', 'cats', 'lamp', 'lamps', 'the', 'x', '1', '2', 'running', 'run');
  const text = (max: number) => fc.array(word, { maxLength: max }).map((ws) => ws.join(' '));
  const item = fc.record(
    { title: text(4), description: text(8), fields: fc.dictionary(fc.constantFrom('brand', 'size'), text(3), { maxKeys: 2 }) },
    { requiredKeys: ['title'] },
  );
  // Duplicated items make equal scores: ties must come out in the same order as FTS5's.
  const corpus = fc.array(item, { minLength: 1, maxLength: 30 }).map((xs) => [...xs, ...xs.slice(0, 3)].map((x, i) => ({ id: `d${i}`, ...x })));
  const weight = fc.constantFrom(0.3, 1, 2, 3.5);
  const weights = fc.record({ title: weight, description: weight, fields: weight });
  const query = fc.array(word, { minLength: 1, maxLength: 4 }).map((ws) => ws.join(' '));

  it('property: same items, order and scores as store.bm25, for every k', () => {
    fc.assert(
      fc.property(corpus, weights, fc.array(query, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 40 }), (items, w, queries, k) => {
        const s = freshStore();
        try {
          s.ingest(bundle('rand', items, w));
          const index = Bm25Index.build(s.dataset('rand'), w);
          expectParity(s, 'rand', index, queries, k, w);
          index.close();
        } finally {
          s.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('phrases and the ranker', () => {
  let store: Store;
  let index: Bm25Index;
  const weights = { title: 2, description: 1, fields: 1 };
  beforeAll(() => {
    store = freshStore();
    store.ingest(
      bundle('mixed', [
        { id: 'hi', title: 'हिन्दी पुस्तक', description: 'किताब' },
        { id: 'lamp', title: 'desk lamp', description: 'a lamp for the desk' },
        { id: 'lamps', title: 'lamps', description: 'two lamps' },
      ]),
    );
    index = Bm25Index.build(store.dataset('mixed'), weights);
  });
  afterAll(() => {
    index.close();
    store.close();
  });

  it('a query term FTS5 splits into several tokens (a phrase) is handed back: null, counted as deferred', () => {
    // unicode61 splits Devanagari words at their vowel signs; the query term is one word to distilrank.
    expect(index.search('हिन्दी', 10)).toBeNull();
    expect(index.score('हिन्दी', ['hi'])).toBeNull();
    expect(index.stats().deferred).toBe(2);
  });

  it('Bm25Ranker with the index answers exactly as without it, phrases through FTS5', () => {
    const plain = new Bm25Ranker(store.dataset('mixed'), weights);
    const fast = new Bm25Ranker(store.dataset('mixed'), weights, { index });
    for (const q of ['हिन्दी', 'desk lamps', 'lamp', 'the', 'nothing here']) {
      const a = plain.retrieve(q, 10);
      const b = fast.retrieve(q, 10);
      expect(
        b.map((r) => r.itemId),
        q,
      ).toEqual(a.map((r) => r.itemId));
      b.forEach((r, i) => expect(close(r.score, a[i]!.score)).toBe(true));
      const ids = ['hi', 'lamp', 'lamps', 'unknown'];
      expect(fast.score(q, ids).map((r) => r.itemId)).toEqual(ids);
      fast.score(q, ids).forEach((r, i) => expect(close(r.score, plain.score(q, ids)[i]!.score)).toBe(true));
    }
    expect(plain.retrieve('हिन्दी', 10).map((r) => r.itemId)).toEqual(['hi']);
  });
});

describe('sliced build', () => {
  it('gives the event loop back while it builds, and builds the same index', async () => {
    const store = freshStore();
    try {
      store.ingest(builtInBundle('icecat-chorus'));
      const weights = store.dataset('icecat-chorus').fieldWeights;
      let ticks = 0;
      const timer = setInterval(() => (ticks += 1), 1);
      const sliced = await Bm25Index.buildSliced(store.dataset('icecat-chorus'), weights, 1);
      clearInterval(timer);
      expect(ticks).toBeGreaterThan(3);
      const whole = Bm25Index.build(store.dataset('icecat-chorus'), weights);
      expect(sliced.stats()).toEqual(whole.stats());
      for (const q of store
        .queries('icecat-chorus')
        .slice(0, 30)
        .map((x) => x.text))
        expect(sliced.search(q, 50)).toEqual(whole.search(q, 50));
      sliced.close();
      whole.close();
    } finally {
      store.close();
    }
  }, 60_000);
});

/**
 * The store: opening and refusing files, ingest (counts, stored judgments, splits), all-or-nothing
 * writes, idempotent re-ingest, and the deterministic query splits.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistilrankError } from '../src/core/errors.ts';
import { discreteMapping } from '../src/core/index.ts';
import { ftsMatchExpression } from '../src/retrieve/index.ts';
import { APPLICATION_ID } from '../src/store/schema.ts';
import { DEFAULT_SPLIT_SEED, SCHEMA_VERSION, SPLITS, Store, assignSplits, type Split, type SplitFractions } from '../src/store/index.ts';
import { type DatasetBundle } from '../src/ingest/index.ts';
import { caught, tempDir, useTempDir, withRawDb } from './helpers.ts';

const tmp = useTempDir('distilrank-store-');
const freshPath = (name = 'store'): string => tmp.fresh(name, '.db');

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

// ---------------------------------------------------------------------------------------------
// A small data set built here. Grade 9 is on the scale but deliberately dropped (level null).

const MAPPING = discreteMapping('test-0-3', 'test scale', [
  [0, 1, '0 → L1'],
  [1, 3, '1 → L3'],
  [2, 4, '2 → L4'],
  [3, 5, '3 → L5'],
  [9, null, '9 → dropped'],
]);

const ITEMS_FILE = '/data/items.jsonl';
const QUERIES_FILE = '/data/queries.tsv';
const JUDGMENTS_FILE = '/data/judgments.csv';

function smallBundle(): DatasetBundle {
  return {
    name: 'tiny-shop',
    description: 'six products',
    source: '/data',
    mapping: MAPPING,
    defaultJudgmentSet: 'default',
    items: [
      {
        id: 'i1',
        title: 'red walrus mug',
        description: 'a ceramic mug',
        fields: { brand: 'Acme' },
        attributes: { colour: 'red', ml: 350 },
        origin: { file: ITEMS_FILE, line: 1 },
      },
      { id: 'i2', title: 'blue teapot', description: 'porcelain teapot with infuser', language: 'en', origin: { file: ITEMS_FILE, line: 2 } },
      { id: 'i3', title: 'green kettle', imageUrl: 'https://example.com/i3.jpg', origin: { file: ITEMS_FILE, line: 3 } },
      { id: 'i4', title: 'Kühlschrank mini', description: 'kleiner Kühlschrank', language: 'de', origin: { file: ITEMS_FILE, line: 4 } },
      { id: 'i5', title: '冷蔵庫', language: 'ja', origin: { file: ITEMS_FILE, line: 5 } },
      { id: 'i6', title: 'red cable', fields: { brand: 'Cablo', colour: 'red' }, origin: { file: ITEMS_FILE, line: 6 } },
    ],
    queries: [
      { id: 'q1', text: 'red mug', origin: { file: QUERIES_FILE, line: 1 } },
      { id: 'q2', text: 'teapot', origin: { file: QUERIES_FILE, line: 2 } },
      { id: 'q3', text: 'kettle', origin: { file: QUERIES_FILE, line: 3 } },
      { id: 'q4', text: 'fridge', language: 'en', origin: { file: QUERIES_FILE, line: 4 } },
      { id: 'q5', text: 'cable', origin: { file: QUERIES_FILE, line: 5 } },
    ],
    judgments: [
      {
        queryId: 'q1',
        itemId: 'i1',
        grade: 3,
        raters: [
          { rater: 'r1', grade: 3 },
          { rater: 'r2', grade: 3 },
          { rater: 'r3', grade: 2 },
        ],
        origin: { file: JUDGMENTS_FILE, line: 2 },
      },
      { queryId: 'q1', itemId: 'i6', grade: 0, origin: { file: JUDGMENTS_FILE, line: 3 } },
      { queryId: 'q2', itemId: 'i2', grade: 2, raters: [{ rater: 'r1', grade: 2 }], origin: { file: JUDGMENTS_FILE, line: 4 } },
      { queryId: 'q3', itemId: 'i3', grade: 9, origin: { file: JUDGMENTS_FILE, line: 5 } },
      { queryId: 'q4', itemId: 'i4', grade: 1, origin: { file: JUDGMENTS_FILE, line: 6 } },
      // The same pair in another judgment set is not a duplicate.
      { queryId: 'q1', itemId: 'i1', grade: 1, source: 'crowd', origin: { file: JUDGMENTS_FILE, line: 7 } },
    ],
  };
}

const PROBE_QUERIES = ['red mug', 'teapot', 'kettle', 'Kühlschrank', '冷蔵庫', 'cable', 'walrus'];

/** Everything the store holds for one data set, read back through SQL and the store's API. */
function dump(store: Store, name: string): unknown {
  return withRawDb(store.path, (db) => ({
    info: store.dataset(name),
    items: db.prepare('SELECT rid, id, title, description, fields, attributes, image_url, language FROM items WHERE dataset = ? ORDER BY id').all(name),
    queries: db.prepare('SELECT * FROM queries WHERE dataset = ? ORDER BY id').all(name),
    judgments: db.prepare('SELECT * FROM judgments WHERE dataset = ? ORDER BY judgment_set, query_id, item_id').all(name),
    logEvents: db.prepare('SELECT * FROM log_events WHERE dataset = ? ORDER BY rowid').all(name),
    datasets: db.prepare('SELECT * FROM datasets ORDER BY name').all(),
    bm25: PROBE_QUERIES.map((q) => store.bm25(name, ftsMatchExpression(q)!, { k: 50 })),
  }));
}

function withoutRowidsAndTimes(d: unknown): unknown {
  return JSON.parse(JSON.stringify(d, (key, value: unknown) => (key === 'rid' || key === 'ingestedAt' || key === 'ingested_at' ? undefined : value)));
}

// ---------------------------------------------------------------------------------------------

describe('Store.open', () => {
  it('creates a new file marked with the application id and schema version, and reopens it', () => {
    const p = freshPath();
    const s = Store.open(p, { create: true });
    s.ingest(smallBundle());
    s.close();

    const raw = new Database(p, { readonly: true });
    expect(raw.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    expect(APPLICATION_ID).toBe(0x64726b31);
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    raw.close();

    const again = Store.open(p);
    expect(again.datasetNames()).toEqual(['tiny-shop']);
    expect(again.itemCount('tiny-shop')).toBe(6);
    again.close();

    // create on an existing store opens it; nothing is re-initialised
    const third = Store.open(p, { create: true });
    expect(third.itemCount('tiny-shop')).toBe(6);
    third.close();
  });

  it('refuses a store of another schema version and leaves its bytes unchanged', () => {
    const p = freshPath();
    Store.open(p, { create: true }).close();
    const raw = new Database(p);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    const before = sha256(p);

    for (const opts of [{}, { create: true }, { readonly: true }]) {
      const e = caught(() => Store.open(p, opts));
      expect(e.code).toBe('STORE_VERSION');
      expect(e.details.file).toBe(p);
      expect(e.message).toContain(String(SCHEMA_VERSION + 1));
      expect(e.details.hint ?? '').not.toBe('');
    }
    expect(sha256(p)).toBe(before);
  });

  it('refuses a foreign SQLite file and leaves it untouched', () => {
    const p = freshPath('foreign');
    const raw = new Database(p);
    raw.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me')");
    raw.close();
    const before = sha256(p);

    for (const opts of [{}, { create: true }]) {
      const e = caught(() => Store.open(p, opts));
      expect(e.code).toBe('STORE_VERSION');
      expect(e.details.file).toBe(p);
    }
    expect(sha256(p)).toBe(before);
    const check = new Database(p, { readonly: true });
    expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()).toEqual([{ name: 'notes' }]);
    expect(check.pragma('application_id', { simple: true })).toBe(0);
    check.close();
  });

  it('refuses a file that is not SQLite at all and leaves it untouched', () => {
    const p = freshPath('text');
    writeFileSync(p, 'id\ttitle\n1\tnot a database\n'.repeat(200));
    const before = sha256(p);
    for (const opts of [{}, { create: true }]) {
      const e = caught(() => Store.open(p, opts));
      expect(e.code).toBe('STORE_VERSION');
      expect(e.details.file).toBe(p);
    }
    expect(sha256(p)).toBe(before);
  });

  // A refused store must not be left open (a WAL-mode store would grow -wal/-shm side files).
  it('a refused store gets no side files (the connection is closed)', () => {
    const dir = tempDir('distilrank-refuse-');
    try {
      const p = join(dir.path, 'old.db');
      Store.open(p, { create: true }).close();
      const raw = new Database(p);
      raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
      raw.close();
      expect(readdirSync(dir.path)).toEqual(['old.db']);
      expect(() => Store.open(p)).toThrow(DistilrankError);
      expect(readdirSync(dir.path)).toEqual(['old.db']);
    } finally {
      dir.cleanup();
    }
  });

  it('without create, a missing file is FILE_NOT_FOUND and nothing is created', () => {
    const p = join(tmp.path, 'nested', 'missing.db');
    const e = caught(() => Store.open(p));
    expect(e.code).toBe('FILE_NOT_FOUND');
    expect(e.details.file).toBe(p);
    expect(existsSync(p)).toBe(false);
    expect(existsSync(join(tmp.path, 'nested'))).toBe(false);
  });

  it('create makes missing parent folders', () => {
    const p = join(tmp.path, 'a', 'b', 'store.db');
    const s = Store.open(p, { create: true });
    expect(s.datasetNames()).toEqual([]);
    s.close();
    expect(existsSync(p)).toBe(true);
  });

  it('names an absent data set with STORE_NOT_FOUND and lists what the store holds', () => {
    const s = Store.open(freshPath(), { create: true });
    s.ingest(smallBundle());
    const e = caught(() => s.dataset('nope'));
    expect(e.code).toBe('STORE_NOT_FOUND');
    expect(e.details.hint).toContain('tiny-shop');
    s.close();
  });
});

// ---------------------------------------------------------------------------------------------

describe('ingest', () => {
  it('stores counts, judgments (level, gain, soft label, raters) and splits', () => {
    const s = Store.open(freshPath(), { create: true });
    const progress: Array<[number, number]> = [];
    const r = s.ingest(smallBundle(), { onProgress: (d, t) => progress.push([d, t]) });
    expect(r).toEqual({
      dataset: 'tiny-shop',
      unchanged: false,
      items: 6,
      queries: 5,
      judgments: 5,
      judgmentsSkipped: 1,
      logEvents: 0,
      splits: r.splits,
    });
    expect(r.splits.train + r.splits.dev + r.splits.test).toBe(5);
    // 6 items + 5 queries + 5 written judgments; the last report is the total
    expect(progress.at(-1)).toEqual([16, 16]);

    const info = s.dataset('tiny-shop');
    expect(info).toMatchObject({
      name: 'tiny-shop',
      description: 'six products',
      source: '/data',
      defaultJudgmentSet: 'default',
      fieldWeights: { title: 2, description: 1, fields: 1 },
      splitSeed: DEFAULT_SPLIT_SEED,
      splitFractions: { train: 0.7, dev: 0.1, test: 0.2 },
      items: 6,
      queries: 5,
      judgments: 5,
      judgmentSets: ['crowd', 'default'],
    });
    expect(info.scale.name).toBe('test-0-3');
    expect(info.scale.higherIsBetter).toBe(true);
    expect(info.scale.rows.map((row) => [row.native, row.level])).toEqual([
      ['0', 1],
      ['1', 3],
      ['2', 4],
      ['3', 5],
      ['9', null],
    ]);
    expect(new Date(info.ingestedAt).toISOString()).toBe(info.ingestedAt);

    expect(s.judgments('tiny-shop')).toEqual([
      {
        queryId: 'q1',
        itemId: 'i1',
        judgmentSet: 'default',
        nativeGrade: 3,
        level: 5,
        gain: 4,
        // raters 3, 3, 2 → L5, L5, L4
        soft: [0, 0, 0, 1 / 3, 2 / 3],
        raters: [
          { rater: 'r1', grade: 3 },
          { rater: 'r2', grade: 3 },
          { rater: 'r3', grade: 2 },
        ],
      },
      { queryId: 'q1', itemId: 'i6', judgmentSet: 'default', nativeGrade: 0, level: 1, gain: 0, soft: null, raters: null },
      // one rater: raters kept, no soft label
      { queryId: 'q2', itemId: 'i2', judgmentSet: 'default', nativeGrade: 2, level: 4, gain: 3, soft: null, raters: [{ rater: 'r1', grade: 2 }] },
      { queryId: 'q4', itemId: 'i4', judgmentSet: 'default', nativeGrade: 1, level: 3, gain: 2, soft: null, raters: null },
    ]);
    expect(s.judgments('tiny-shop', { judgmentSet: 'crowd' })).toEqual([
      { queryId: 'q1', itemId: 'i1', judgmentSet: 'crowd', nativeGrade: 1, level: 3, gain: 2, soft: null, raters: null },
    ]);

    const stored = s.queries('tiny-shop');
    expect(stored.map((q) => q.id)).toEqual(['q1', 'q2', 'q3', 'q4', 'q5']);
    const expected = assignSplits(['q1', 'q2', 'q3', 'q4', 'q5']);
    for (const q of stored) expect(q.split).toBe(expected.get(q.id));
    for (const split of SPLITS) {
      expect(s.queries('tiny-shop', split).length).toBe(r.splits[split]);
      for (const j of s.judgments('tiny-shop', { split })) expect(expected.get(j.queryId)).toBe(split);
    }
    expect(stored.find((q) => q.id === 'q4')).toMatchObject({ text: 'fridge', language: 'en' });

    expect(s.items('tiny-shop', ['i6', 'i1', 'missing', 'i3'])).toEqual([
      { id: 'i6', title: 'red cable', description: null, fields: { brand: 'Cablo', colour: 'red' }, attributes: {}, imageUrl: null, language: null },
      {
        id: 'i1',
        title: 'red walrus mug',
        description: 'a ceramic mug',
        fields: { brand: 'Acme' },
        attributes: { colour: 'red', ml: 350 },
        imageUrl: null,
        language: null,
      },
      { id: 'i3', title: 'green kettle', description: null, fields: {}, attributes: {}, imageUrl: 'https://example.com/i3.jpg', language: null },
    ]);
    // fields are indexed: the brand finds its item
    expect(s.bm25('tiny-shop', '"cablo"').map((x) => x.itemId)).toEqual(['i6']);
    s.close();
  });

  it('keeps data sets apart and honours split seed and fractions', () => {
    const s = Store.open(freshPath(), { create: true });
    s.ingest(smallBundle());
    const other = { ...smallBundle(), name: 'other-shop', items: smallBundle().items.slice(0, 2), judgments: [] };
    const fractions: SplitFractions = { train: 0.2, dev: 0.2, test: 0.6 };
    const r = s.ingest(other, { splitSeed: 'seed-x', splitFractions: fractions });
    expect(r.splits).toEqual({ train: 1, dev: 1, test: 3 });
    expect(s.datasetNames()).toEqual(['other-shop', 'tiny-shop']);
    expect(s.itemCount('tiny-shop')).toBe(6);
    expect(s.itemCount('other-shop')).toBe(2);
    expect(s.dataset('other-shop')).toMatchObject({ splitSeed: 'seed-x', splitFractions: fractions, judgments: 0, judgmentSets: [] });
    const expected = assignSplits(
      other.queries.map((q) => q.id),
      'seed-x',
      fractions,
    );
    for (const q of s.queries('other-shop')) expect(q.split).toBe(expected.get(q.id));
    // BM25 of one data set never returns another's items
    expect(s.bm25('other-shop', '"cable" OR "kettle" OR "mug"').map((x) => x.itemId)).toEqual(['i1']);
    s.close();
  });

  it('rejects an invalid data set name with BAD_OPTION', () => {
    const s = Store.open(freshPath(), { create: true });
    expect(caught(() => s.ingest({ ...smallBundle(), name: 'Bad Name' })).code).toBe('BAD_OPTION');
    expect(caught(() => s.ingest({ ...smallBundle(), name: '-x' })).code).toBe('BAD_OPTION');
    expect(s.datasetNames()).toEqual([]);
    s.close();
  });
});

// ---------------------------------------------------------------------------------------------

describe('ingest is all or nothing', () => {
  let store: Store;
  let before: unknown;

  beforeAll(() => {
    store = Store.open(freshPath(), { create: true });
    store.ingest(smallBundle());
    before = dump(store, 'tiny-shop');
  });
  afterAll(() => store.close());

  const withItems = (items: DatasetBundle['items']): DatasetBundle => ({ ...smallBundle(), items });
  const withJudgments = (judgments: DatasetBundle['judgments']): DatasetBundle => ({ ...smallBundle(), judgments });

  const cases: Array<{ name: string; bundle: () => DatasetBundle; code: string; file: string; line: number; field?: string }> = [
    {
      name: 'a judgment naming an unknown item',
      bundle: () => withJudgments([...smallBundle().judgments, { queryId: 'q2', itemId: 'i99', grade: 1, origin: { file: JUDGMENTS_FILE, line: 8 } }]),
      code: 'UNKNOWN_REFERENCE',
      file: JUDGMENTS_FILE,
      line: 8,
      field: 'item',
    },
    {
      name: 'a judgment naming an unknown query',
      bundle: () => withJudgments([...smallBundle().judgments, { queryId: 'q99', itemId: 'i1', grade: 1, origin: { file: JUDGMENTS_FILE, line: 9 } }]),
      code: 'UNKNOWN_REFERENCE',
      file: JUDGMENTS_FILE,
      line: 9,
      field: 'query',
    },
    {
      name: 'a duplicate item id',
      bundle: () => withItems([...smallBundle().items, { id: 'i3', title: 'another kettle', origin: { file: ITEMS_FILE, line: 7 } }]),
      code: 'DUPLICATE_ID',
      file: ITEMS_FILE,
      line: 7,
      field: 'id',
    },
    {
      name: 'a grade that is not on the scale',
      bundle: () => withJudgments([...smallBundle().judgments, { queryId: 'q5', itemId: 'i6', grade: 4, origin: { file: JUDGMENTS_FILE, line: 10 } }]),
      code: 'UNKNOWN_GRADE',
      file: JUDGMENTS_FILE,
      line: 10,
      field: 'grade',
    },
    {
      name: 'a rater grade that is not on the scale',
      bundle: () =>
        withJudgments([
          ...smallBundle().judgments,
          {
            queryId: 'q5',
            itemId: 'i6',
            grade: 2,
            raters: [
              { rater: 'a', grade: 2 },
              { rater: 'b', grade: 7 },
            ],
            origin: { file: JUDGMENTS_FILE, line: 11 },
          },
        ]),
      code: 'UNKNOWN_GRADE',
      file: JUDGMENTS_FILE,
      line: 11,
      field: 'rater grade',
    },
    {
      name: 'a duplicate judgment pair',
      bundle: () => withJudgments([...smallBundle().judgments, { queryId: 'q2', itemId: 'i2', grade: 0, origin: { file: JUDGMENTS_FILE, line: 12 } }]),
      code: 'DUPLICATE_ID',
      file: JUDGMENTS_FILE,
      line: 12,
    },
    {
      name: 'a log event naming an unknown item',
      bundle: () => ({
        ...smallBundle(),
        logEvents: [{ queryText: 'mug', itemId: 'i77', action: 'click', time: 1_700_000_000_000, origin: { file: '/data/log.jsonl', line: 3 } }],
      }),
      code: 'UNKNOWN_REFERENCE',
      file: '/data/log.jsonl',
      line: 3,
      field: 'item_id',
    },
  ];

  for (const c of cases) {
    it(`refuses ${c.name} with ${c.code} at its file and line; the store keeps the first version`, () => {
      const e = caught(() => store.ingest(c.bundle()));
      expect(e.code).toBe(c.code);
      expect(e.details.file).toBe(c.file);
      expect(e.details.line).toBe(c.line);
      if (c.field !== undefined) expect(e.details.field).toBe(c.field);
      expect(e.details.hint ?? '').not.toBe('');
      expect(dump(store, 'tiny-shop')).toEqual(before);
    });
  }

  it('an invalid log event time is refused before anything is written', () => {
    const bad: DatasetBundle = {
      ...smallBundle(),
      logEvents: [{ queryText: 'mug', itemId: 'i1', action: 'click', time: Number.NaN, origin: { file: 'logs.jsonl', line: 2 } }],
    };
    expect(() => store.ingest(bad)).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT', details: expect.objectContaining({ file: 'logs.jsonl', line: 2, field: 'time' }) }),
    );
    expect(dump(store, 'tiny-shop')).toEqual(before);
  });

  it('a failure in the middle of the write (an item whose title is not text) rolls everything back', () => {
    // Validation does not type-check titles (the loaders do); the write fails on the last item,
    // after the new version's data set row, FTS table and earlier items were already written.
    const items = smallBundle().items.map((it) => ({ ...it, title: `${it.title} zebra` }));
    items[items.length - 1] = { ...items[items.length - 1]!, title: null as unknown as string };
    const bad: DatasetBundle = { ...smallBundle(), description: 'replacement that must not land', items };
    expect(() => store.ingest(bad)).toThrow();
    expect(dump(store, 'tiny-shop')).toEqual(before);
    expect(store.bm25('tiny-shop', '"zebra"')).toEqual([]);
  });

  it('an exception from the progress callback at the last record rolls everything back', () => {
    const changed: DatasetBundle = { ...smallBundle(), items: smallBundle().items.map((it) => ({ ...it, title: `${it.title} zebra` })) };
    expect(() =>
      store.ingest(changed, {
        onProgress: (done, total) => {
          if (done === total) throw new Error('interrupted');
        },
      }),
    ).toThrow('interrupted');
    expect(dump(store, 'tiny-shop')).toEqual(before);
    expect(store.bm25('tiny-shop', '"zebra"')).toEqual([]);

    // and the failed attempt left nothing behind that blocks a later ingest
    const r = store.ingest(changed);
    expect(r.unchanged).toBe(false);
    expect(store.bm25('tiny-shop', '"zebra"').length).toBe(6);
    store.ingest(smallBundle());
    // same content as the first version again (only rowids and ingested_at may differ)
    expect(withoutRowidsAndTimes(dump(store, 'tiny-shop'))).toEqual(withoutRowidsAndTimes(before));
  });
});

// ---------------------------------------------------------------------------------------------

describe('re-ingest', () => {
  it('of the same bundle is a no-op: unchanged, ingested_at kept', async () => {
    const s = Store.open(freshPath(), { create: true });
    const first = s.ingest(smallBundle());
    const at = s.dataset('tiny-shop').ingestedAt;
    const snapshot = dump(s, 'tiny-shop');
    await new Promise((resolve) => setTimeout(resolve, 15));
    // a fresh but equal bundle object; origins differ and do not count
    const again = smallBundle();
    const second = s.ingest({ ...again, items: again.items.map((it) => ({ ...it, origin: { file: '/elsewhere.jsonl', line: 99 } })) });
    expect(second).toEqual({ ...first, unchanged: true });
    expect(s.dataset('tiny-shop').ingestedAt).toBe(at);
    expect(dump(s, 'tiny-shop')).toEqual(snapshot);
    // another split seed is another ingest
    expect(s.ingest(smallBundle(), { splitSeed: 'other' }).unchanged).toBe(false);
    expect(s.dataset('tiny-shop').splitSeed).toBe('other');
    s.close();
  });

  it('of a changed bundle replaces the data set: the new title is searchable, the old one is not', () => {
    const s = Store.open(freshPath(), { create: true });
    s.ingest(smallBundle());
    expect(s.bm25('tiny-shop', '"walrus"').map((x) => x.itemId)).toEqual(['i1']);
    const changed = smallBundle();
    changed.items = changed.items.map((it) => (it.id === 'i1' ? { ...it, title: 'red narwhal mug' } : it));
    const r = s.ingest(changed);
    expect(r.unchanged).toBe(false);
    expect(s.bm25('tiny-shop', '"walrus"')).toEqual([]);
    expect(s.bm25('tiny-shop', '"narwhal"').map((x) => x.itemId)).toEqual(['i1']);
    expect(s.items('tiny-shop', ['i1'])[0]?.title).toBe('red narwhal mug');
    expect(s.itemCount('tiny-shop')).toBe(6);
    expect(s.dataset('tiny-shop').judgments).toBe(5);
    // the FTS index holds exactly one row per item (the old rows are gone, not shadowed)
    expect(
      s
        .bm25('tiny-shop', '"red"')
        .map((x) => x.itemId)
        .sort(),
    ).toEqual(['i1', 'i6']);
    s.close();
  });
});

// ---------------------------------------------------------------------------------------------

describe('assignSplits', () => {
  const ids = Array.from({ length: 37 }, (_, i) => `query-${i}`);

  it('is deterministic and independent of input order', () => {
    const a = assignSplits(ids);
    expect(assignSplits(ids)).toEqual(a);
    const shuffled = fc.sample(fc.shuffledSubarray(ids, { minLength: ids.length, maxLength: ids.length }), { numRuns: 5, seed: 42 });
    for (const order of shuffled) {
      expect(order).not.toEqual(ids);
      expect(new Map([...assignSplits(order)].sort())).toEqual(new Map([...a].sort()));
    }
  });

  it('cuts exact counts: test = round(n × test), dev = round(n × dev), the rest train', () => {
    const count = (m: Map<string, Split>, s: Split) => [...m.values()].filter((x) => x === s).length;
    const m = assignSplits(ids); // 37 × 0.2 = 7.4, 37 × 0.1 = 3.7
    expect([count(m, 'train'), count(m, 'dev'), count(m, 'test')]).toEqual([26, 4, 7]);
    const m2 = assignSplits(ids.slice(0, 10), 's', { train: 0.5, dev: 0.25, test: 0.25 }); // 2.5 rounds up
    expect([count(m2, 'train'), count(m2, 'dev'), count(m2, 'test')]).toEqual([4, 3, 3]);
    expect(assignSplits([]).size).toBe(0);
  });

  it('differs between seeds', () => {
    const many = Array.from({ length: 100 }, (_, i) => `q${i}`);
    const a = assignSplits(many, 'seed-a');
    const b = assignSplits(many, 'seed-b');
    expect([...a.values()].sort()).toEqual([...b.values()].sort());
    expect([...a].filter(([id, s]) => b.get(id) !== s).length).toBeGreaterThan(10);
  });

  it('refuses fractions that are negative or do not sum to 1', () => {
    for (const f of [
      { train: 0.7, dev: 0.1, test: 0.3 },
      { train: 1.2, dev: -0.2, test: 0 },
      { train: Number.NaN, dev: 0.5, test: 0.5 },
    ]) {
      const e = caught(() => assignSplits(ids, 's', f));
      expect(e.code).toBe('BAD_OPTION');
      expect(e.details.field).toBe('split');
    }
  });

  it('property: every id gets exactly one split and the counts match the fractions', () => {
    const fractions = fc
      .tuple(fc.nat(10), fc.nat(10))
      .filter(([a, b]) => a + b <= 10)
      .map(([t, d]): SplitFractions => ({ test: t / 10, dev: d / 10, train: (10 - t - d) / 10 }));
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ maxLength: 12 }), { maxLength: 200 }), fc.string({ maxLength: 8 }), fractions, (qids, seed, f) => {
        const m = assignSplits(qids, seed, f);
        expect(m.size).toBe(qids.length);
        for (const id of qids) expect(SPLITS).toContain(m.get(id));
        const n = qids.length;
        const counts = { train: 0, dev: 0, test: 0 };
        for (const s of m.values()) counts[s] += 1;
        // test and dev are rounded half up in that order; when both round up past n (e.g. 5 queries
        // at test 0.1, dev 0.9), dev gets what is left. Every count is within one of n × fraction.
        expect(counts.test).toBe(Math.round(n * f.test));
        expect(counts.dev).toBe(Math.min(Math.round(n * f.dev), n - counts.test));
        expect(counts.train).toBe(n - counts.test - counts.dev);
        for (const s of SPLITS) expect(Math.abs(counts[s] - n * f[s])).toBeLessThanOrEqual(1);
        if (f.train === 0) expect(counts.train).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('golden: five fixed ids under the default seed', () => {
    // Pins cross-machine stability of the split (SHA-256 of seed + "\0" + id, cut at exact counts).
    // Computed once from the implementation; a change of hashing or ordering breaks this on purpose,
    // because it would move queries between train and test in every existing store.
    expect(DEFAULT_SPLIT_SEED).toBe('distilrank-1');
    expect(Object.fromEntries(assignSplits(['q1', 'q2', 'q3', 'q4', 'q5']))).toEqual({
      q1: 'train',
      q2: 'test',
      q3: 'train',
      q4: 'dev',
      q5: 'train',
    });
  });
});

/**
 * The Store conformance suite: what any store implementation must do, as one function of a factory,
 * so a second implementation (another engine, an in-memory store) registers the same checks.
 *
 * 1. Ingest is idempotent: the same bundle twice (in one session, after a reopen, after another
 *    version of the data set was ingested in between, into a second store) reads back the same
 *    DatasetInfo, queries with their splits, judgments of every set, items and BM25 results.
 * 2. Foreign files are refused untouched: a label cache (LabelCache.open), a plain text file, the
 *    SQLite database of another application, and garbage files (one newline byte, as `echo > f`
 *    leaves; 4 KiB of NUL bytes; random bytes) are each refused with a DistilrankError carrying a code,
 *    the file and a hint, whichever way the store is opened (plain, create, readonly); the file's bytes
 *    are the same afterwards and no side file (-wal, -shm, -journal) is left beside it.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistilrankError, discreteMapping } from '../../src/core/index.ts';
import type { DatasetBundle } from '../../src/ingest/index.ts';
import { LabelCache } from '../../src/label/index.ts';
import { ftsMatchExpression } from '../../src/retrieve/index.ts';
import { SPLITS, type Store } from '../../src/store/index.ts';
import { tempDir } from '../helpers.ts';
import { known, type Deviations } from './known.ts';

export interface StoreOpenOptions {
  create?: boolean;
  readonly?: boolean;
}

/**
 * Opens the implementation's store at `path` (creating it with `create`). The suite calls it with
 * fresh paths for new stores and with the paths of foreign files to check refusals; it never opens
 * a file any other way.
 */
export type StoreFactory = (path: string, opts?: StoreOpenOptions) => Store;

/** What an implementation may be excused from (see ./known.ts). */
export type StoreDeviation = 'oneByteFile' | 'readonlySideFiles';

// ---------------------------------------------------------------------------------------------
// The data set: small, but with everything a store keeps — two judgment sets, raters, a grade the
// scale drops, several languages, fields, attributes, an image, log events — and BM25 ties.

const MAPPING = discreteMapping('conformance-0-3', 'conformance scale', [
  [0, 1, '0 → L1'],
  [1, 2, '1 → L2'],
  [2, 4, '2 → L4'],
  [3, 5, '3 → L5'],
  [9, null, '9 → dropped'],
]);

export const DATASET = 'conformance-shop';

/** The bundle; `variant` retitles two items and drops a judgment (another version of the data set). */
export function conformanceBundle(variant = false): DatasetBundle {
  const items: DatasetBundle['items'][number][] = [
    { id: 'i01', title: 'red ceramic mug', description: 'a mug for tea', fields: { brand: 'Acme' }, attributes: { colour: 'red', ml: 350 } },
    { id: 'i02', title: 'blue ceramic mug', description: 'a mug for coffee', fields: { brand: 'Acme' } },
    { id: 'i03', title: 'green kettle', imageUrl: 'https://example.com/i03.jpg' },
    { id: 'i04', title: 'steel kettle', description: 'whistling kettle' },
    { id: 'i05', title: 'Kühlschrank mini', description: 'kleiner Kühlschrank', language: 'de' },
    { id: 'i06', title: '冷蔵庫', language: 'ja' },
    // i07 … i10 share one title: BM25 ties among them
    { id: 'i10', title: 'walnut lamp' },
    { id: 'i07', title: 'walnut lamp' },
    { id: 'i09', title: 'walnut lamp' },
    { id: 'i08', title: 'walnut lamp' },
  ];
  if (variant) {
    items[0] = { ...items[0]!, title: 'red porcelain cup' };
    items[6] = { ...items[6]!, title: 'oak lamp' };
  }
  const queries = [
    { id: 'q1', text: 'ceramic mug' },
    { id: 'q2', text: 'kettle' },
    { id: 'q3', text: 'Kühlschrank', language: 'de' },
    { id: 'q4', text: 'walnut lamp' },
    { id: 'q5', text: '冷蔵庫', language: 'ja' },
    { id: 'q6', text: 'red mug' },
  ];
  const judgments: DatasetBundle['judgments'][number][] = [
    {
      queryId: 'q1',
      itemId: 'i01',
      grade: 3,
      raters: [
        { rater: 'r1', grade: 3 },
        { rater: 'r2', grade: 2 },
      ],
    },
    { queryId: 'q1', itemId: 'i02', grade: 3 },
    { queryId: 'q1', itemId: 'i03', grade: 0 },
    { queryId: 'q2', itemId: 'i03', grade: 2 },
    { queryId: 'q2', itemId: 'i04', grade: 9 },
    { queryId: 'q3', itemId: 'i05', grade: 3 },
    { queryId: 'q4', itemId: 'i07', grade: 2 },
    { queryId: 'q5', itemId: 'i06', grade: 3 },
    { queryId: 'q6', itemId: 'i01', grade: 1 },
    // another judgment set for the same pairs is not a duplicate
    { queryId: 'q1', itemId: 'i01', grade: 1, source: 'crowd' },
    { queryId: 'q6', itemId: 'i02', grade: 0, source: 'crowd' },
  ];
  if (variant) judgments.splice(2, 1);
  return {
    name: DATASET,
    description: 'the store conformance data set',
    source: '/conformance',
    mapping: MAPPING,
    defaultJudgmentSet: 'default',
    items,
    queries,
    judgments,
    logEvents: [
      { queryText: 'ceramic mug', itemId: 'i01', action: 'click', position: 1, time: 1_700_000_000_000 },
      { queryText: 'kettle', itemId: 'i04', action: 'impression', time: 1_700_000_100_000, extra: { session: 's1' } },
    ],
  };
}

const PROBES = ['ceramic mug', 'kettle', 'walnut lamp', 'Kühlschrank', '冷蔵庫', 'red', 'lamp kettle mug'];

/** Everything the store gives back for the data set, through its own API. */
function snapshot(
  store: Store,
  dataset = DATASET,
): {
  info: ReturnType<Store['dataset']>;
  names: string[];
  queries: unknown;
  bySplit: unknown;
  judgments: unknown;
  items: unknown;
  itemIds: string[];
  logEvents: unknown;
  bm25: unknown;
} {
  const info = store.dataset(dataset);
  const itemIds = store.itemIds(dataset);
  return {
    info,
    names: store.datasetNames(),
    queries: store.queries(dataset),
    bySplit: Object.fromEntries(SPLITS.map((s) => [s, store.queries(dataset, s).map((q) => q.id)])),
    judgments: Object.fromEntries(info.judgmentSets.map((set) => [set, store.judgments(dataset, { judgmentSet: set })])),
    items: store.items(dataset, itemIds),
    itemIds,
    logEvents: [...store.logEvents(dataset)],
    bm25: PROBES.map((q) => store.bm25(dataset, ftsMatchExpression(q)!, { k: 50 })),
  };
}

/** A snapshot without the one value a real re-ingest may change: when it happened. */
function content(s: ReturnType<typeof snapshot>): unknown {
  const { ingestedAt: _ingestedAt, ...info } = s.info;
  return { ...s, info };
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

// ---------------------------------------------------------------------------------------------
// Foreign files, each made in its own empty folder.

interface ForeignFile {
  what: string;
  make(path: string): void;
  deviation?: StoreDeviation;
}

export const FOREIGN_FILES: readonly ForeignFile[] = [
  { what: 'a label cache (LabelCache.open)', make: (p) => LabelCache.open(p).close(), deviation: 'readonlySideFiles' },
  { what: 'a plain text file', make: (p) => writeFileSync(p, 'query_id\titem_id\tgrade\nq1\ti1\t3\n'.repeat(40)) },
  {
    what: 'the SQLite database of another application',
    make: (p) => {
      const db = new Database(p);
      db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me')");
      db.pragma('application_id = 1234');
      db.close();
    },
  },
  { what: 'a one-byte garbage file (a newline, as `echo > FILE` leaves)', make: (p) => writeFileSync(p, '\n'), deviation: 'oneByteFile' },
  { what: 'a file of 4 KiB of NUL bytes', make: (p) => writeFileSync(p, Buffer.alloc(4096)) },
  {
    what: 'a file of random bytes',
    make: (p) => {
      let s = 12345;
      writeFileSync(p, Buffer.from(Array.from({ length: 1500 }, () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 16) & 0xff)));
    },
  },
];

const OPEN_MODES: ReadonlyArray<{ label: string; opts: StoreOpenOptions }> = [
  { label: 'open', opts: {} },
  { label: 'open with create', opts: { create: true } },
  { label: 'open readonly', opts: { readonly: true } },
];

// ---------------------------------------------------------------------------------------------

/**
 * Register the Store conformance suite for one implementation. `deviations`: checks this
 * implementation is known to fail (see ./known.ts), keyed by StoreDeviation.
 */
export function storeConformance(name: string, factory: StoreFactory, deviations: Deviations<StoreDeviation> = {}): void {
  describe(`Store conformance: ${name}`, () => {
    let tmp: { path: string; cleanup: () => void };
    let n = 0;
    const freshPath = (label: string): string => join(tmp.path, `${label}-${++n}.db`);
    beforeAll(() => {
      tmp = tempDir('distilrank-store-conformance-');
    });
    afterAll(() => tmp.cleanup());

    describe('ingesting the same bundle twice is idempotent', () => {
      it('in one session: the second ingest reports unchanged with the same counts, and everything reads back the same', () => {
        const store = factory(freshPath('twice'), { create: true });
        try {
          const first = store.ingest(conformanceBundle());
          const before = snapshot(store);
          const second = store.ingest(conformanceBundle());
          const after = snapshot(store);
          expect(first.unchanged).toBe(false);
          expect(second).toEqual({ ...first, unchanged: true });
          expect(after).toEqual(before);
          // the counts the ingest reports are the ones the store holds
          expect(before.info).toMatchObject({ items: first.items, queries: first.queries, judgments: first.judgments });
          expect(before.info.items).toBe(10);
          expect(before.info.queries).toBe(6);
          expect(first.judgmentsSkipped).toBe(1); // grade 9 is dropped by the scale
          expect(before.info.judgments).toBe(10);
          expect(before.info.judgmentSets).toEqual(['crowd', 'default']);
          expect(Object.values(first.splits).reduce((a, b) => a + b, 0)).toBe(6);
          // BM25 finds something for the probes (a store that indexed nothing would pass the equalities)
          expect((before.bm25 as unknown[][]).filter((r) => r.length > 0).length).toBeGreaterThanOrEqual(5);
        } finally {
          store.close();
        }
      });

      it('after a reopen, and after another version of the data set was ingested in between', () => {
        const path = freshPath('reopen');
        const a = factory(path, { create: true });
        a.ingest(conformanceBundle());
        const before = snapshot(a);
        a.close();

        const b = factory(path);
        try {
          expect(snapshot(b)).toEqual(before);
          expect(b.ingest(conformanceBundle()).unchanged).toBe(true);
          expect(snapshot(b)).toEqual(before);

          const other = b.ingest(conformanceBundle(true));
          expect(other.unchanged).toBe(false);
          const changed = snapshot(b);
          expect(content(changed)).not.toEqual(content(before)); // the variant really differs
          expect(changed.info.judgments).toBe(before.info.judgments - 1);

          const back = b.ingest(conformanceBundle());
          expect(back.unchanged).toBe(false);
          expect(content(snapshot(b))).toEqual(content(before));
        } finally {
          b.close();
        }
      });

      it('into a second, new store: the same content (ingest is deterministic, splits included)', () => {
        const a = factory(freshPath('first'), { create: true });
        const b = factory(freshPath('second'), { create: true });
        try {
          a.ingest(conformanceBundle());
          b.ingest(conformanceBundle());
          expect(content(snapshot(b))).toEqual(content(snapshot(a)));
        } finally {
          a.close();
          b.close();
        }
      });

      it('a data set beside it is not touched by re-ingesting this one', () => {
        const store = factory(freshPath('beside'), { create: true });
        try {
          const other = { ...conformanceBundle(true), name: 'conformance-other' };
          store.ingest(other);
          const otherBefore = snapshot(store, other.name);
          store.ingest(conformanceBundle());
          store.ingest(conformanceBundle(true));
          store.ingest(conformanceBundle());
          expect(snapshot(store, other.name)).toEqual({ ...otherBefore, names: ['conformance-other', DATASET] });
        } finally {
          store.close();
        }
      });
    });

    describe('foreign files are refused untouched', () => {
      for (const file of FOREIGN_FILES) {
        for (const mode of OPEN_MODES) {
          const excused = file.deviation === 'oneByteFile' && !mode.opts.readonly ? deviations.oneByteFile : undefined;
          known(excused)(`${file.what}, ${mode.label}: a DistilrankError with a code, the file and a hint; the same bytes after`, () => {
            const dir = join(tmp.path, `foreign-${++n}`);
            const path = join(dir, 'file.db');
            mkdirSync(dir);
            file.make(path);
            const before = sha256(path);
            let err: unknown;
            try {
              factory(path, mode.opts).close();
            } catch (e) {
              err = e;
            }
            expect(sha256(path)).toBe(before);
            expect(err).toBeInstanceOf(DistilrankError);
            const e = err as DistilrankError;
            expect(e.code).toBe('STORE_VERSION');
            expect(e.details.file).toBe(path);
            expect(e.details.hint ?? '').not.toBe('');
            expect(e.message).toMatch(/not a distilrank store/);
          });

          const sideExcused = file.deviation === 'readonlySideFiles' && mode.opts.readonly ? deviations.readonlySideFiles : undefined;
          known(sideExcused)(`${file.what}, ${mode.label}: no side file is left beside it`, () => {
            const dir = join(tmp.path, `side-${++n}`);
            const path = join(dir, 'file.db');
            mkdirSync(dir);
            file.make(path);
            const listed = readdirSync(dir).sort();
            try {
              factory(path, mode.opts).close();
            } catch {
              // the refusal itself is checked above
            }
            expect(readdirSync(dir).sort()).toEqual(listed);
          });
        }
      }
    });
  });
}

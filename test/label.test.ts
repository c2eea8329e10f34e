/**
 * Labelling: item text, the label cache (round trip, key sensitivity, refusing other files), the
 * candidate pool (no evaluation query, deterministic) and the labelling job (each pair paid once,
 * concurrency, retries, rate limits, malformed answers, fatal errors, budgets, abort). The teachers
 * here are written in this file: deterministic, with scripted failures, and an injected clock so
 * waits are recorded instead of slept.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LABEL_CACHE_APPLICATION_ID,
  LabelCache,
  buildPool,
  itemText,
  labelKey,
  runLabelJob,
  type JobClock,
  type LabelJobOptions,
  type LabelProgress,
} from '../src/label/index.ts';
import { type LevelDistribution } from '../src/core/index.ts';
import { Store, type StoredItem } from '../src/store/index.ts';
import { type DatasetBundle } from '../src/ingest/index.ts';
import { type Teacher, type TeacherJudgment, type TeacherPair } from '../src/teacher/types.ts';
import { CallError, type CallCost } from '../src/jobs/index.ts';
import { caught, useTempDir } from './helpers.ts';
import { shopBundle } from './synth-catalogue.ts';

const tmp = useTempDir('distilrank-label-');
const fresh = (name = 'labels'): string => tmp.fresh(name, '.sqlite');

const sha256File = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

// ---------------------------------------------------------------------------------------------
// Test teachers

type Outcome = 'ok' | CallError | Error | { distribution: unknown };
const COST: CallCost = { calls: 1, inputTokens: 100, outputTokens: 5, seconds: 0.01, usd: 0.01 };

function distributionFor(pair: TeacherPair): LevelDistribution {
  const level = createHash('sha1').update(pair.queryText).update('\0').update(pair.itemText).digest()[0]! % 5;
  const d: LevelDistribution = [0.05, 0.05, 0.05, 0.05, 0.05];
  d[level] = 0.8;
  return d;
}

/**
 * A deterministic teacher. `script(pair, n)` decides the n-th call (1-based) for a pair; by default
 * every call succeeds. With `delayMs`, calls take that long in real time (so they overlap).
 */
class ScriptedTeacher implements Teacher {
  readonly name = 'scripted';
  calls: TeacherPair[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private readonly perPair = new Map<string, number>();

  constructor(
    private readonly script: (pair: TeacherPair, n: number) => Outcome = () => 'ok',
    private readonly delayMs = 0,
    readonly model = 'model-a',
    readonly promptVersion = 'p1',
    private readonly cost: CallCost = COST,
  ) {}

  async judge(pair: TeacherPair): Promise<TeacherJudgment> {
    this.calls.push(pair);
    const id = `${pair.queryId}/${pair.itemId}`;
    const n = (this.perPair.get(id) ?? 0) + 1;
    this.perPair.set(id, n);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      else await Promise.resolve();
      const outcome = this.script(pair, n);
      if (outcome instanceof Error) throw outcome;
      if (outcome === 'ok') return { distribution: distributionFor(pair), method: 'scripted', cost: { ...this.cost } };
      return { distribution: outcome.distribution as LevelDistribution, method: 'scripted', cost: { ...this.cost } };
    } finally {
      this.inFlight -= 1;
    }
  }

  callsFor(queryId: string, itemId: string): number {
    return this.perPair.get(`${queryId}/${itemId}`) ?? 0;
  }
}

/** A clock whose sleeps return at once and advance time; every wait is recorded. */
function fakeClock(): JobClock & { waits: number[] } {
  let t = 1_000_000;
  const waits: number[] = [];
  return {
    waits,
    now: () => t,
    sleep: (ms) => {
      waits.push(ms);
      t += ms;
      return Promise.resolve();
    },
  };
}

function makePairs(n: number, prefix = ''): TeacherPair[] {
  return Array.from({ length: n }, (_, i) => ({
    queryId: `q${i % 7}`,
    queryText: `${prefix}query ${i % 7}`,
    itemId: `i${i}`,
    itemText: `title: item number ${i}`,
  }));
}

function job(cache: LabelCache, teacher: Teacher, pairs: TeacherPair[], extra: Partial<LabelJobOptions> = {}) {
  return runLabelJob({
    cache,
    teacher,
    pairs,
    dataset: 'shop',
    concurrency: 3,
    retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1000 },
    clock: fakeClock(),
    ...extra,
  });
}

// ---------------------------------------------------------------------------------------------

describe('itemText', () => {
  const item: StoredItem = {
    id: 'i1',
    title: '  Red   walrus mug ',
    description: 'A ceramic\nmug.',
    fields: { brand: 'Acme', bullets: 'dishwasher safe' },
    attributes: { ml: 350, colour: 'red', tags: ['kitchen', 'gift'], nested: { a: 1 }, sale: true },
    imageUrl: null,
    language: null,
  };

  it('lists title, description, fields and scalar attributes as name: value lines, deterministically', () => {
    expect(itemText(item)).toBe(
      [
        'title: Red walrus mug',
        'description: A ceramic mug.',
        'brand: Acme',
        'bullets: dishwasher safe',
        'colour: red',
        'ml: 350',
        'sale: yes',
        'tags: kitchen, gift',
      ].join('\n'),
    );
    const reordered: StoredItem = {
      ...item,
      fields: { bullets: 'dishwasher safe', brand: 'Acme' },
      attributes: { sale: true, tags: ['kitchen', 'gift'], colour: 'red', ml: 350 },
    };
    expect(itemText(reordered)).toBe(itemText(item));
  });

  it('keeps within the character budget, cutting the first line that does not fit', () => {
    const long: StoredItem = { ...item, description: 'word '.repeat(1000) };
    const text = itemText(long, 200);
    expect(text.length).toBeLessThanOrEqual(200);
    expect(text.startsWith('title: Red walrus mug\ndescription: word word')).toBe(true);
    expect(text.endsWith('…')).toBe(true);
    expect(text).not.toContain('brand');
  });
});

// ---------------------------------------------------------------------------------------------

describe('LabelCache', () => {
  const teacher = { name: 'llm', model: 'model-a', promptVersion: 'p1' };
  const judgment: TeacherJudgment = {
    distribution: [0.1, 0.2, 0.3, 0.3, 0.1],
    method: 'logprobs',
    cost: { calls: 1, inputTokens: 120, outputTokens: 3, seconds: 0.4, usd: 0.002 },
  };

  it('round-trips a label across reopening, and any change to the key is a miss', () => {
    const path = fresh();
    const key = labelKey(teacher, 'red mug', 'title: red walrus mug');
    let cache = LabelCache.open(path);
    expect(cache.get(key)).toBeUndefined();
    expect(cache.put(key, judgment, { dataset: 'shop', queryId: 'q1', itemId: 'i1', queryText: 'red mug' }, 2)).toBe(true);
    cache.close();

    cache = LabelCache.open(path);
    const got = cache.get(key)!;
    expect(got.distribution).toEqual(judgment.distribution);
    expect(got.method).toBe('logprobs');
    expect(got.cost).toEqual(judgment.cost);
    expect(got.attempts).toBe(2);
    expect(Number.isNaN(Date.parse(got.createdAt))).toBe(false);

    const misses = [
      labelKey({ ...teacher, promptVersion: 'p2' }, 'red mug', 'title: red walrus mug'),
      labelKey({ ...teacher, model: 'model-b' }, 'red mug', 'title: red walrus mug'),
      labelKey({ ...teacher, name: 'onnx' }, 'red mug', 'title: red walrus mug'),
      labelKey(teacher, 'red mug', 'title: red walrus mug\nbrand: Acme'),
      labelKey(teacher, 'red mugs', 'title: red walrus mug'),
    ];
    for (const k of misses) {
      expect(cache.has(k)).toBe(false);
      expect(cache.get(k)).toBeUndefined();
    }
    expect(cache.has(labelKey(teacher, 'red mug', 'title: red walrus mug'))).toBe(true);

    // A second put of the same key keeps the first label.
    expect(cache.put(key, { ...judgment, distribution: [1, 0, 0, 0, 0] })).toBe(false);
    expect(cache.get(key)!.distribution).toEqual(judgment.distribution);
    cache.close();
  });

  it('refuses a distribution that is not one', () => {
    const cache = LabelCache.open(fresh());
    const key = labelKey(teacher, 'q', 'i');
    expect(() => cache.put(key, { ...judgment, distribution: [0.5, 0.5, 0.5, 0, 0] })).toThrow(/distribution/);
    expect(() => cache.put(key, { ...judgment, distribution: [Number.NaN, 1, 0, 0, 0] })).toThrow(/distribution/);
    expect(cache.count()).toBe(0);
    cache.close();
  });

  it('reports totals, labels per data set (shared labels answer several pairs) and exports JSONL', () => {
    const path = fresh();
    const cache = LabelCache.open(path);
    const k1 = labelKey(teacher, 'mug', 'title: mug');
    const k2 = labelKey(teacher, 'mug', 'title: cup');
    cache.put(k1, judgment, { dataset: 'shop', queryId: 'q1', itemId: 'i1', queryText: 'mug' });
    cache.put(k2, judgment, { dataset: 'shop', queryId: 'q1', itemId: 'i2', queryText: 'mug' });
    // Another item with the same text, and another data set, share k1's label.
    cache.addRefs([
      { key: k1, ref: { dataset: 'shop', queryId: 'q1', itemId: 'i9' } },
      { key: k1, ref: { dataset: 'other', queryId: 'x', itemId: 'y' } },
    ]);
    const other = labelKey({ ...teacher, promptVersion: 'p2' }, 'mug', 'title: mug');
    cache.put(other, judgment, { dataset: 'shop', queryId: 'q1', itemId: 'i1' });

    expect(cache.count()).toBe(3);
    const all = cache.totals();
    expect(all.labels).toBe(3);
    expect(all.cost.inputTokens).toBe(360);
    expect(all.cost.usd).toBeCloseTo(0.006, 10);
    expect(cache.totals({ promptVersion: 'p1' }).labels).toBe(2);
    expect(cache.totals({ dataset: 'other' }).labels).toBe(0); // cost counts where it was paid

    const rows = cache.labelsFor('shop', 'llm', 'model-a', 'p1');
    expect(rows.map((r) => `${r.queryId}/${r.itemId}`)).toEqual(['q1/i1', 'q1/i2', 'q1/i9']);
    expect(rows[0]!.distribution).toEqual(judgment.distribution);
    expect(cache.labelsFor('other', 'llm', 'model-a', 'p1').map((r) => r.itemId)).toEqual(['y']);

    const out = tmp.fresh('export', '.jsonl');
    expect(cache.exportJsonl(out, { dataset: 'shop', promptVersion: 'p1' })).toBe(3);
    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({ dataset: 'shop', queryId: 'q1', itemId: 'i1', queryText: 'mug', teacher: 'llm', promptVersion: 'p1', method: 'logprobs' });
    cache.close();
  });

  it('refuses a store, another schema version, a foreign database and a non-SQLite file, untouched', () => {
    const storePath = fresh('store');
    Store.open(storePath, { create: true }).close();
    const before = sha256File(storePath);
    const e1 = caught(() => LabelCache.open(storePath));
    expect(e1.code).toBe('STORE_VERSION');
    expect(e1.message).toMatch(/not a distilrank label cache/);
    expect(sha256File(storePath)).toBe(before);

    const newer = fresh();
    LabelCache.open(newer).close();
    const db = new Database(newer);
    db.pragma('user_version = 99');
    db.close();
    const e2 = caught(() => LabelCache.open(newer));
    expect(e2.code).toBe('STORE_VERSION');
    expect(e2.message).toMatch(/schema version 99/);

    const foreign = fresh('foreign');
    const fdb = new Database(foreign);
    fdb.exec('CREATE TABLE t (x)');
    fdb.close();
    expect(caught(() => LabelCache.open(foreign)).code).toBe('STORE_VERSION');

    const junk = fresh('junk');
    writeFileSync(junk, 'this is not a database, just text long enough to be read as a header...\n'.repeat(20));
    const junkHash = sha256File(junk);
    expect(caught(() => LabelCache.open(junk)).code).toBe('STORE_VERSION');
    expect(sha256File(junk)).toBe(junkHash);

    expect(caught(() => LabelCache.open(fresh('absent'), { readonly: true })).code).toBe('FILE_NOT_FOUND');
    const mine = new Database(newer, { readonly: true });
    expect(mine.pragma('application_id', { simple: true })).toBe(LABEL_CACHE_APPLICATION_ID);
    mine.close();
  });

  it('defaults to labels.sqlite beside the store', () => {
    expect(LabelCache.defaultPath('/data/x/store.db')).toBe('/data/x/labels.sqlite');
  });
});

// ---------------------------------------------------------------------------------------------

function poolBundle(withLogs: boolean): DatasetBundle {
  return shopBundle({
    name: 'pool-shop',
    description: 'pool test',
    colours: ['red', 'blue', 'green', 'black', 'white'],
    things: ['mug', 'teapot', 'kettle', 'lamp', 'chair', 'table'],
    // Every query's text is logged (twice, plus a shouted spelling once), and one text no query has.
    logEvents: withLogs
      ? (queries) => [
          ...queries.flatMap((q, i) => [
            { queryText: q.text, itemId: 'i00', action: 'click', time: 3 * i },
            { queryText: q.text, itemId: 'i00', action: 'impression', time: 3 * i + 1 },
            { queryText: `  ${q.text.toUpperCase()}  `, itemId: 'i00', action: 'click', time: 3 * i + 2 },
          ]),
          { queryText: 'kettle', itemId: 'i22', action: 'click', time: 1000 },
          { queryText: 'kettle', itemId: 'i32', action: 'click', time: 1001 },
        ]
      : undefined,
  });
}

describe('buildPool', () => {
  let store: Store;
  let logged: Store;
  beforeAll(() => {
    store = Store.open(fresh('pool-store'), { create: true });
    store.ingest(poolBundle(false));
    logged = Store.open(fresh('pool-logged'), { create: true });
    logged.ingest(poolBundle(true));
  });
  afterAll(() => {
    store.close();
    logged.close();
  });

  it('takes the training queries only, top K BM25 candidates each, in a deterministic order', () => {
    const all = store.queries('pool-shop');
    const train = new Set(all.filter((q) => q.split === 'train').map((q) => q.id));
    const evalTexts = new Set(all.filter((q) => q.split !== 'train').map((q) => q.text));
    expect(train.size).toBeGreaterThan(0);
    expect(evalTexts.size).toBeGreaterThan(0);

    const pairs = buildPool(store.dataset('pool-shop'), { k: 4 });
    expect(pairs.length).toBeGreaterThan(0);
    for (const p of pairs) {
      expect(train.has(p.queryId)).toBe(true);
      expect(evalTexts.has(p.queryText)).toBe(false);
    }
    const perQuery = new Map<string, number>();
    for (const p of pairs) perQuery.set(p.queryId, (perQuery.get(p.queryId) ?? 0) + 1);
    expect([...perQuery.values()].every((n) => n <= 4)).toBe(true);
    expect([...perQuery.keys()]).toEqual([...perQuery.keys()].sort());

    expect(pairs.every((p) => p.itemText.startsWith('title: '))).toBe(true);
    // The same store, and a second store built from the same input, give the same pool.
    expect(buildPool(store.dataset('pool-shop'), { k: 4 })).toEqual(pairs);
    const again = Store.open(fresh('pool-again'), { create: true });
    again.ingest(poolBundle(false));
    expect(buildPool(again.dataset('pool-shop'), { k: 4 })).toEqual(pairs);
    again.close();
  });

  it('takes logged query texts when there are logs, leaving out any text of a dev or test query', () => {
    const all = logged.queries('pool-shop');
    const evalTexts = new Set(all.filter((q) => q.split !== 'train').map((q) => q.text));
    const trainTexts = all.filter((q) => q.split === 'train').map((q) => q.text);
    const pairs = buildPool(logged.dataset('pool-shop'), { k: 3 });
    const texts = [...new Set(pairs.map((p) => p.queryText))];
    // Each text once, in its most frequent (lower-case) spelling; no evaluation text in any case.
    expect(texts).toEqual([...trainTexts, 'kettle'].sort());
    for (const p of pairs) {
      expect(p.queryId).toMatch(/^q[0-9a-f]{10}$/);
      expect(evalTexts.has(p.queryText.toLowerCase())).toBe(false);
    }
    expect(buildPool(logged.dataset('pool-shop'), { k: 3 })).toEqual(pairs);
    expect(buildPool(logged.dataset('pool-shop'), { k: 3, queries: 'train' }).every((p) => !evalTexts.has(p.queryText))).toBe(true);
    expect(caught(() => buildPool(store.dataset('pool-shop'), { k: 3, queries: 'logged' })).code).toBe('BAD_OPTION');
    expect(caught(() => buildPool(store.dataset('pool-shop'), { k: 0 })).code).toBe('BAD_OPTION');
  });
});

// ---------------------------------------------------------------------------------------------

describe('runLabelJob', () => {
  it('labels every pair once; a second run requests nothing; duplicate keys are sent once', async () => {
    const cache = LabelCache.open(fresh());
    const pairs = makePairs(40);
    // A second item id with the same text as i0, for the same query: the same key.
    pairs.push({ ...pairs[0]!, itemId: 'i0-copy' });
    const teacher = new ScriptedTeacher();
    const progress: LabelProgress[] = [];
    const first = await job(cache, teacher, pairs, { onProgress: (p) => progress.push(p) });
    expect(first).toMatchObject({ pairs: 41, labelled: 40, cached: 0, duplicates: 1, failed: 0, remaining: 0, stoppedBy: 'done', attempts: 40 });
    expect(teacher.calls).toHaveLength(40);
    expect(first.cost).toEqual({
      calls: 40,
      inputTokens: 4000,
      outputTokens: 200,
      seconds: expect.closeTo(0.4, 9) as number,
      usd: expect.closeTo(0.4, 9) as number,
    });
    expect(cache.count()).toBe(40);
    expect(cache.labelsFor('shop', 'scripted', 'model-a', 'p1')).toHaveLength(41);
    expect(cache.get(labelKey(teacher, pairs[5]!.queryText, pairs[5]!.itemText))!.distribution).toEqual(distributionFor(pairs[5]!));
    const last = progress.at(-1)!;
    expect(last).toMatchObject({ total: 41, done: 41, labelled: 40, etaSeconds: 0 });

    const again = new ScriptedTeacher();
    const second = await job(cache, again, pairs);
    expect(again.calls).toHaveLength(0);
    expect(second).toMatchObject({ labelled: 0, cached: 40, duplicates: 1, stoppedBy: 'done', attempts: 0 });
    expect(second.cost.calls).toBe(0);

    // Another prompt version is another key: everything is labelled again.
    const v2 = new ScriptedTeacher(undefined, 0, 'model-a', 'p2');
    expect((await job(cache, v2, pairs)).labelled).toBe(40);
    cache.close();
  });

  it('keeps at most `concurrency` calls in flight', async () => {
    const cache = LabelCache.open(fresh());
    const teacher = new ScriptedTeacher(undefined, 3);
    const summary = await job(cache, teacher, makePairs(30), { concurrency: 4, clock: undefined });
    expect(summary.labelled).toBe(30);
    expect(teacher.maxInFlight).toBe(4);
    const one = new ScriptedTeacher(undefined, 1);
    await job(LabelCache.open(fresh()), one, makePairs(10), { concurrency: 1, clock: undefined });
    expect(one.maxInFlight).toBe(1);
    cache.close();
  });

  it('waits Retry-After on a 429, and backs off on 429s without one', async () => {
    const cache = LabelCache.open(fresh());
    const teacher = new ScriptedTeacher((p, n) => {
      if (p.itemId === 'i1' && n === 1) return new CallError('rate_limited', '429', 1234, 429);
      if (p.itemId === 'i2' && n <= 2) return new CallError('rate_limited', '429', undefined, 429);
      return 'ok';
    });
    const clock = fakeClock();
    const summary = await job(cache, teacher, makePairs(4), { clock, concurrency: 1 });
    expect(summary).toMatchObject({ labelled: 4, failed: 0, attempts: 7 });
    expect(clock.waits).toContain(1234);
    // i2: two backoffs, 100 × 2^(n−1) with jitter in [0.5, 1).
    const backoffs = clock.waits.filter((w) => w !== 1234);
    expect(backoffs).toHaveLength(2);
    expect(backoffs[0]).toBeGreaterThanOrEqual(50);
    expect(backoffs[0]).toBeLessThan(100);
    expect(backoffs[1]).toBeGreaterThanOrEqual(100);
    expect(backoffs[1]).toBeLessThan(200);
    // Rate-limited attempts are not counted as calls; the cache records the attempts per label.
    expect(summary.cost.calls).toBe(4);
    expect(cache.get(labelKey(teacher, makePairs(4)[2]!.queryText, makePairs(4)[2]!.itemText))!.attempts).toBe(3);
    cache.close();
  });

  it('a Retry-After pauses every worker, not only the one that was refused', async () => {
    const cache = LabelCache.open(fresh());
    const clock = fakeClock();
    const started: number[] = [];
    const teacher = new ScriptedTeacher((p, n) => {
      started.push(clock.now());
      return p.itemId === 'i0' && n === 1 ? new CallError('rate_limited', '429', 5000, 429) : 'ok';
    });
    await job(cache, teacher, makePairs(12), { clock, concurrency: 3 });
    // After the refusal, calls start only once the pause is over.
    const t0 = started[0]!;
    expect(started.filter((t) => t > t0 && t < t0 + 5000)).toHaveLength(0);
    cache.close();
  });

  it('retries server errors and timeouts with exponential backoff, then succeeds', async () => {
    const cache = LabelCache.open(fresh());
    const teacher = new ScriptedTeacher((p, n) => {
      if (p.itemId === 'i0' && n <= 3) return new CallError(n === 2 ? 'timeout' : 'server', 'upstream 503', undefined, 503);
      return 'ok';
    });
    const clock = fakeClock();
    const summary = await job(cache, teacher, makePairs(3), { clock, concurrency: 1 });
    expect(summary).toMatchObject({ labelled: 3, failed: 0, attempts: 6 });
    expect(teacher.callsFor('q0', 'i0')).toBe(4);
    expect(clock.waits).toHaveLength(3);
    clock.waits.forEach((w, i) => {
      expect(w).toBeGreaterThanOrEqual(100 * 2 ** i * 0.5);
      expect(w).toBeLessThan(100 * 2 ** i);
    });
    // Failed attempts count as calls (an endpoint may bill them).
    expect(summary.cost.calls).toBe(6);
    // The jitter is seeded: the same run waits the same.
    const clock2 = fakeClock();
    await job(LabelCache.open(fresh()), new ScriptedTeacher((p, n) => (p.itemId === 'i0' && n <= 3 ? new CallError('server', '503') : 'ok')), makePairs(3), {
      clock: clock2,
      concurrency: 1,
    });
    expect(clock2.waits).toEqual(clock.waits);
    cache.close();
  });

  it('counts a pair failed after maxAttempts malformed answers and does not cache it', async () => {
    const cache = LabelCache.open(fresh());
    const pairs = makePairs(5);
    const teacher = new ScriptedTeacher((p) => {
      if (p.itemId === 'i3') return new CallError('malformed', 'no JSON in the answer');
      if (p.itemId === 'i4') return { distribution: [0.9, 0.9, 0, 0, 0] }; // not a distribution: malformed too
      return 'ok';
    });
    const summary = await job(cache, teacher, pairs);
    expect(summary).toMatchObject({ labelled: 3, failed: 2, remaining: 0, stoppedBy: 'done' });
    expect(teacher.callsFor('q3', 'i3')).toBe(4);
    expect(teacher.callsFor('q4', 'i4')).toBe(4);
    expect(summary.failures.map((f) => `${f.itemId}:${f.kind}`).sort()).toEqual(['i3:malformed', 'i4:malformed']);
    expect(cache.has(labelKey(teacher, pairs[3]!.queryText, pairs[3]!.itemText))).toBe(false);
    expect(cache.count()).toBe(3);

    // A later run asks again for the failed pairs only.
    const retry = new ScriptedTeacher();
    const second = await job(cache, retry, pairs);
    expect(retry.calls.map((p) => p.itemId).sort()).toEqual(['i3', 'i4']);
    expect(second).toMatchObject({ labelled: 2, cached: 3 });
    cache.close();
  });

  it('stops on a fatal error; calls in flight finish and are saved; a rerun completes', async () => {
    const cache = LabelCache.open(fresh());
    const pairs = makePairs(30);
    const teacher = new ScriptedTeacher((p) => (p.itemId === 'i5' ? new CallError('fatal', '401 unauthorized', undefined, 401) : 'ok'), 2);
    const summary = await job(cache, teacher, pairs, { concurrency: 3, clock: undefined });
    expect(summary.stoppedBy).toBe('fatal');
    expect(summary.error).toMatchObject({ itemId: 'i5', kind: 'fatal', message: '401 unauthorized' });
    // Every call that was answered is in the cache; nothing after the stop was started.
    const answered = teacher.calls.filter((p) => p.itemId !== 'i5');
    expect(cache.count()).toBe(answered.length);
    expect(summary.labelled).toBe(answered.length);
    expect(teacher.calls.length).toBeLessThanOrEqual(5 + 3);
    expect(summary.labelled + summary.remaining).toBe(30);

    const fixed = new ScriptedTeacher();
    const rerun = await job(cache, fixed, pairs);
    expect(rerun).toMatchObject({ stoppedBy: 'done', cached: summary.labelled, labelled: 30 - summary.labelled });
    expect(fixed.calls.length).toBe(30 - summary.labelled);
    cache.close();
  });

  it('stops at the budget and never exceeds it by more than the calls in flight', async () => {
    // Calls: exact.
    const c1 = LabelCache.open(fresh());
    const s1 = await job(c1, new ScriptedTeacher(undefined, 1), makePairs(30), { budget: { calls: 10 }, concurrency: 4, clock: undefined });
    expect(s1).toMatchObject({ stoppedBy: 'budget', labelled: 10, remaining: 20 });
    expect(s1.cost.calls).toBe(10);
    c1.close();

    // Money: each call costs 0.01; the budget 0.105 buys 10.
    const c2 = LabelCache.open(fresh());
    const s2 = await job(c2, new ScriptedTeacher(undefined, 1), makePairs(30), { budget: { usd: 0.105 }, concurrency: 4, clock: undefined });
    expect(s2.stoppedBy).toBe('budget');
    expect(s2.cost.usd).toBeLessThanOrEqual(0.105);
    expect(s2.labelled).toBe(10);
    // Resuming with a fresh budget continues where it stopped.
    const t = new ScriptedTeacher();
    const resumed = await job(c2, t, makePairs(30), { budget: { usd: 1 } });
    expect(resumed).toMatchObject({ cached: 10, labelled: 20, stoppedBy: 'done' });
    c2.close();

    // Tokens, with calls that cost more than the estimate: the overshoot is at most the calls in flight.
    const c3 = LabelCache.open(fresh());
    let n = 0;
    const growing: Teacher = {
      name: 'growing',
      model: 'm',
      promptVersion: 'p',
      judge: async (pair) => {
        n += 1;
        await new Promise((r) => setTimeout(r, 1));
        return { distribution: distributionFor(pair), method: 'x', cost: { ...COST, inputTokens: 100 * n, outputTokens: 0 } };
      },
    };
    const s3 = await job(c3, growing, makePairs(40), { budget: { tokens: 3000 }, concurrency: 4, clock: undefined });
    expect(s3.stoppedBy).toBe('budget');
    const spent = s3.cost.inputTokens + s3.cost.outputTokens;
    expect(spent).toBeGreaterThan(0);
    // The most expensive calls were the last ones; at most 4 were in flight.
    expect(spent).toBeLessThanOrEqual(3000 + 4 * 100 * s3.attempts);
    expect(c3.count()).toBe(s3.labelled);

    // A budget of zero sends nothing.
    const zero = new ScriptedTeacher();
    const s4 = await job(LabelCache.open(fresh()), zero, makePairs(5), { budget: { usd: 0 } });
    expect(s4).toMatchObject({ stoppedBy: 'budget', labelled: 0, remaining: 5 });
    expect(zero.calls).toHaveLength(0);
  });

  it('stops on abort: no new calls, calls in flight are saved', async () => {
    const cache = LabelCache.open(fresh());
    const ctl = new AbortController();
    const teacher = new ScriptedTeacher(undefined, 2);
    const summary = await job(cache, teacher, makePairs(50), {
      concurrency: 3,
      clock: undefined,
      signal: ctl.signal,
      onProgress: (p) => {
        if (p.labelled === 6) ctl.abort();
      },
    });
    expect(summary.stoppedBy).toBe('aborted');
    expect(summary.labelled).toBeGreaterThanOrEqual(6);
    expect(summary.labelled).toBeLessThanOrEqual(6 + 2);
    expect(teacher.calls.length).toBe(summary.labelled);
    expect(cache.count()).toBe(summary.labelled);
    expect(summary.remaining).toBe(50 - summary.labelled);

    const pre = new AbortController();
    pre.abort();
    const none = new ScriptedTeacher();
    expect((await job(cache, none, makePairs(50), { signal: pre.signal })).stoppedBy).toBe('aborted');
    expect(none.calls).toHaveLength(0);
    cache.close();
  });

  it('an abort ends a backoff wait at once', async () => {
    const cache = LabelCache.open(fresh());
    const ctl = new AbortController();
    const teacher = new ScriptedTeacher(() => {
      setTimeout(() => ctl.abort(), 5);
      return new CallError('server', '503');
    });
    const t0 = Date.now();
    const summary = await job(cache, teacher, makePairs(2), {
      clock: undefined,
      signal: ctl.signal,
      concurrency: 1,
      retry: { maxAttempts: 5, baseDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(summary).toMatchObject({ stoppedBy: 'aborted', labelled: 0, failed: 0, remaining: 2 });
    cache.close();
  });

  it('reports progress with rate, cost and ETA', async () => {
    const cache = LabelCache.open(fresh());
    const clock = fakeClock();
    const teacher: Teacher = {
      name: 'slow',
      model: 'm',
      promptVersion: 'p',
      judge: async (pair) => {
        await clock.sleep(500, new AbortController().signal); // each call "takes" 0.5 s of fake time
        return { distribution: distributionFor(pair), method: 'x', cost: COST };
      },
    };
    const seen: LabelProgress[] = [];
    await job(cache, teacher, makePairs(10), { clock, concurrency: 1, onProgress: (p) => seen.push(p) });
    const mid = seen.find((p) => p.labelled === 4)!;
    expect(mid.pairsPerSecond).toBeCloseTo(2, 6);
    expect(mid.etaSeconds).toBeCloseTo(3, 6);
    expect(mid.cost.usd).toBeCloseTo(0.04, 9);
    expect(mid.done).toBe(4);
    expect(seen[0]).toMatchObject({ done: 0, etaSeconds: null });
    cache.close();
  });

  it('a teacher bug (not a CallError) is thrown after the calls in flight are saved', async () => {
    const cache = LabelCache.open(fresh());
    const teacher = new ScriptedTeacher((p) => (p.itemId === 'i4' ? new TypeError('oops') : 'ok'), 2);
    await expect(job(cache, teacher, makePairs(20), { clock: undefined })).rejects.toThrow('oops');
    expect(cache.count()).toBe(teacher.calls.length - 1);
    cache.close();
  });

  it('refuses bad options', async () => {
    const cache = LabelCache.open(fresh());
    await expect(job(cache, new ScriptedTeacher(), makePairs(2), { concurrency: 0 })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(job(cache, new ScriptedTeacher(), makePairs(2), { budget: { usd: -1 } })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    cache.close();
  });
});

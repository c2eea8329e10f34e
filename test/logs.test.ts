/**
 * User-action text from search logs (src/represent/actions.ts) and simulated logs (simulate.ts):
 * the aggregation on hand-made events (weights by action, boards from saves, link text from long
 * clicks only); the leakage cut-off with planted events (a late event, an evaluation query's own
 * event); the simulation is deterministic and reads only the training split's judgments.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_ACTION_WEIGHTS,
  aggregateActions,
  evaluationQueryTexts,
  simulateLogs,
  storedActions,
  type ActionEvent,
} from '../src/enrich/represent/index.ts';
import { Store } from '../src/store/index.ts';
import { synthBundle } from './fixtures/represent/synth.ts';
import { caught, ingestedStore, runCli, tempDir, useTempDir, withRawDb } from './helpers.ts';

const ev = (queryText: string, itemId: string, action: string, time: number, extra?: Record<string, string | number>): ActionEvent => ({
  queryText,
  itemId,
  action,
  position: 1,
  time,
  extra: extra ?? null,
});

const tmp = useTempDir('distilrank-logs-');
let store: Store;
beforeAll(() => {
  store = ingestedStore(join(tmp.path, 'store.sqlite'), synthBundle('synth'));
});
afterAll(() => {
  store.close();
});

describe('aggregateActions', () => {
  it('weights query tokens by action (click < save < long click), ranks them, and drops impressions and stopwords', () => {
    const events = [
      ev('red mug', 'a', 'click', 1), // red 1, mug 1
      ev('the walrus mug', 'a', 'save', 2, { board: 'Kitchen Ideas' }), // walrus 2, mug 3
      ev('ceramic cup', 'a', 'long_click', 3, { dwell_ms: 60_000 }), // ceramic 3, cup 3
      ev('porcelain', 'a', 'impression', 4), // weight 0
      ev('red', 'b', 'click', 5),
    ];
    const a = aggregateActions(events, { cutoff: 100 });
    // mug 1+2 = 3, ceramic 3, cup 3 (ties by token), walrus 2, red 1.
    expect(a.actionsFor('a')!.engagedQueries).toEqual(['ceramic', 'cup', 'mug', 'walrus', 'red']);
    expect(a.actionsFor('a')!.boardTitles).toEqual(['ideas', 'kitchen']);
    expect(a.actionsFor('b')!.engagedQueries).toEqual(['red']);
    expect(a.actionsFor('c')).toBeUndefined();
    expect(a.stats).toMatchObject({ events: 5, used: 5, items: 2, simulated: false });
    // Configurable weights: with clicks at 10, mug 10 + 2 and red 10 lead.
    const w = aggregateActions(events, { cutoff: 100, weights: { click: 10 } });
    expect(w.actionsFor('a')!.engagedQueries.slice(0, 3)).toEqual(['mug', 'red', 'ceramic']);
    expect(DEFAULT_ACTION_WEIGHTS.click).toBeLessThan(DEFAULT_ACTION_WEIGHTS.save);
    expect(DEFAULT_ACTION_WEIGHTS.save).toBeLessThan(DEFAULT_ACTION_WEIGHTS.long_click);
  });

  it('takes link text from long clicks only, by dwell time', () => {
    const link = { link_title: 'Acme Mugs', link_description: 'Handmade stoneware' };
    const a = aggregateActions(
      [
        ev('mug', 'long', 'long_click', 1, { dwell_ms: 45_000, ...link }),
        ev('mug', 'short', 'long_click', 1, { dwell_ms: 5_000, ...link }), // below the threshold: a click
        ev('mug', 'clicklong', 'click', 1, { dwell_ms: 31_000, link_title: 'Zenith Kettles' }), // a click that lasted: long
        ev('mug', 'plain', 'click', 1, link),
      ],
      { cutoff: 10, longClickMs: 30_000 },
    );
    expect(a.actionsFor('long')!.linkText).toEqual(['acme', 'handmade', 'mugs', 'stoneware']);
    expect(a.actionsFor('short')!.linkText).toEqual([]);
    expect(a.actionsFor('clicklong')!.linkText).toEqual(['kettles', 'zenith']);
    expect(a.actionsFor('plain')!.linkText).toEqual([]);
  });

  it('keeps at most topTokens per list', () => {
    const a = aggregateActions([ev('alpha beta gamma delta', 'x', 'click', 1)], { cutoff: 2, topTokens: 2 });
    expect(a.actionsFor('x')!.engagedQueries).toHaveLength(2);
  });

  it('refuses a cut-off that is not a time', () => {
    expect(caught(() => aggregateActions([], { cutoff: NaN })).code).toBe('BAD_OPTION');
  });
});

describe('the leakage cut-off', () => {
  const testQuery = (): string => store.queries('synth', 'test')[0]!.text;
  const trainQuery = (): string => store.queries('synth', 'train')[0]!.text;

  it('a planted late event and an evaluation query’s own event never reach the item text', () => {
    const cutoff = Date.UTC(2025, 5, 1);
    const item = 'it-0-0';
    const events = [
      ev(trainQuery(), item, 'click', cutoff - 10_000),
      ev('zebra stripes', item, 'long_click', cutoff, { dwell_ms: 60_000 }), // exactly at the cut-off: after
      ev('yak wool', item, 'save', cutoff + 86_400_000, { board: 'yak board' }), // a day later
      ev(`  ${testQuery().toUpperCase()} `, item, 'long_click', cutoff - 5_000, { dwell_ms: 90_000 }), // an evaluation query, before
    ];
    const a = aggregateActions(events, { cutoff, excludeQueries: evaluationQueryTexts(store.dataset('synth')) });
    const text = JSON.stringify(a.actionsFor(item));
    for (const token of ['zebra', 'stripes', 'yak', 'wool']) expect(text).not.toContain(token);
    const trainTokens = trainQuery().split(' ');
    const testOnly = testQuery()
      .split(' ')
      .filter((t) => !trainTokens.includes(t));
    expect(testOnly.length).toBeGreaterThan(0);
    for (const token of testOnly) expect(a.actionsFor(item)!.engagedQueries).not.toContain(token);
    expect(a.actionsFor(item)!.engagedQueries).toEqual(expect.arrayContaining(trainTokens));
    expect(a.stats).toMatchObject({ events: 4, used: 1, outsideWindow: 2, excludedQueries: 1 });
    // Control: without the exclusion and with a later cut-off, the planted events do arrive.
    const open = aggregateActions(events, { cutoff: cutoff + 2 * 86_400_000 });
    expect(open.actionsFor(item)!.engagedQueries).toEqual(expect.arrayContaining(['zebra', 'yak', ...testOnly]));
  });

  it('reads stored events before the cut-off only, evaluation queries excluded by default', () => {
    const cutoff = Date.UTC(2025, 5, 1);
    store
      .dataset('synth')
      .replaceSimulatedLogEvents([
        ev(trainQuery(), 'it-1-1', 'click', cutoff - 1, { simulated: 'true' }),
        ev('late planted', 'it-1-1', 'click', cutoff, { simulated: 'true' }),
        ev(testQuery(), 'it-1-1', 'click', cutoff - 2, { simulated: 'true' }),
      ]);
    expect([...store.dataset('synth').logEvents(cutoff)].map((e) => e.queryText)).toEqual([testQuery(), trainQuery()]);
    const a = storedActions(store.dataset('synth'), { cutoff });
    expect(a.stats).toMatchObject({ events: 2, used: 1, excludedQueries: 1, simulated: true });
    expect(a.actionsFor('it-1-1')!.engagedQueries).not.toContain('late');
  });

  it('a window leaves out events older than cut-off − window', () => {
    const a = aggregateActions([ev('old news', 'x', 'click', 1_000), ev('fresh news', 'x', 'click', 9_000)], { cutoff: 10_000, windowMs: 5_000 });
    expect(a.actionsFor('x')!.engagedQueries).toEqual(['fresh', 'news']);
  });
});

describe('simulateLogs', () => {
  it('is deterministic for a seed, marks every event simulated, and uses training queries only', () => {
    const a = simulateLogs(store.dataset('synth'), { events: 400, seed: 7 });
    const b = simulateLogs(store.dataset('synth'), { events: 400, seed: 7 });
    expect(a.events).toEqual(b.events);
    expect(a.events.length).toBeGreaterThanOrEqual(400);
    expect(simulateLogs(store.dataset('synth'), { events: 400, seed: 8 }).events).not.toEqual(a.events);
    expect(a.events.every((e) => e.extra?.simulated === 'true')).toBe(true);
    const train = new Set(store.queries('synth', 'train').map((q) => q.text));
    expect(a.events.every((e) => train.has(e.queryText))).toBe(true);
    expect(new Set(a.events.map((e) => e.action))).toEqual(new Set(['click', 'long_click', 'save']));
    expect(a.events.filter((e) => e.action === 'save').every((e) => typeof e.extra?.board === 'string' && e.extra.board.length > 0)).toBe(true);
    const times = a.events.map((e) => e.time);
    expect([...times].sort((x, y) => x - y)).toEqual(times);
  });

  it('relevant results are clicked more (the click model reads the human levels)', () => {
    const sim = simulateLogs(store.dataset('synth'), { events: 3000, seed: 3 });
    const level = new Map(store.judgments('synth', { split: 'train' }).map((j) => [`${j.queryId}`, j]));
    expect(level.size).toBeGreaterThan(0);
    const byText = new Map(store.queries('synth', 'train').map((q) => [q.text, q.id]));
    const levels = new Map(store.judgments('synth', { split: 'train' }).map((j) => [`${j.queryId}\0${j.itemId}`, j.level]));
    let exact = 0;
    let l1 = 0;
    for (const e of sim.events) {
      const l = levels.get(`${byText.get(e.queryText)}\0${e.itemId}`);
      if (l === 5) exact += 1;
      if (l === 1) l1 += 1;
    }
    expect(exact).toBeGreaterThan(5 * Math.max(1, l1));
  });

  it('does not change when a test-split judgment changes, and does when a training one does', () => {
    const dir = tempDir('distilrank-logs-plant-');
    const s = Store.open(join(dir.path, 'store.sqlite'), { create: true });
    try {
      s.ingest(synthBundle('synth'));
      const before = simulateLogs(s.dataset('synth'), { events: 1500, seed: 5 });
      // Plant: every test-split judgment flips to the opposite level.
      const changed = withRawDb(s.path, (db) =>
        db
          .prepare(
            `UPDATE judgments SET level = 6 - level WHERE dataset = 'synth' AND query_id IN (SELECT id FROM queries WHERE dataset = 'synth' AND split != 'train')`,
          )
          .run(),
      ).changes;
      expect(changed).toBeGreaterThan(0);
      expect(simulateLogs(s.dataset('synth'), { events: 1500, seed: 5 }).events).toEqual(before.events);
      // Control: the same change on the training split does change the logs.
      withRawDb(s.path, (db) =>
        db
          .prepare(
            `UPDATE judgments SET level = 6 - level WHERE dataset = 'synth' AND query_id IN (SELECT id FROM queries WHERE dataset = 'synth' AND split = 'train')`,
          )
          .run(),
      );
      expect(simulateLogs(s.dataset('synth'), { events: 1500, seed: 5 }).events).not.toEqual(before.events);
    } finally {
      s.close();
      dir.cleanup();
    }
  });

  it('replaces earlier simulated events and keeps real ones', () => {
    withRawDb(store.path, (db) =>
      db
        .prepare('INSERT INTO log_events (dataset, query_text, item_id, action, position, time, extra) VALUES (?,?,?,?,?,?,?)')
        .run('synth', 'real query', 'it-2-2', 'click', 1, 5, null),
    );
    const sim = simulateLogs(store.dataset('synth'), { events: 200, seed: 1 });
    store.dataset('synth').replaceSimulatedLogEvents(sim.events);
    store.dataset('synth').replaceSimulatedLogEvents(sim.events);
    expect(store.dataset('synth').logEventCounts()).toMatchObject({ events: sim.events.length + 1, simulated: sim.events.length });
    withRawDb(store.path, (db) => db.prepare(`DELETE FROM log_events WHERE dataset = 'synth' AND query_text = 'real query'`).run());
  });
});

describe('distilrank simulate-logs', () => {
  it('writes simulated events into the store and says they are simulated', () => {
    const dir = tempDir('distilrank-logs-cli-');
    try {
      const path = join(dir.path, 'store.sqlite');
      const s = Store.open(path, { create: true });
      s.ingest(synthBundle('synth'));
      s.close();
      const r = runCli(['--store', path, 'simulate-logs', '--dataset', 'synth', '--events', '300', '--seed', '2', '--json'], { cwd: dir.path });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const summary = JSON.parse(r.stdout) as { simulated: boolean; events: number };
      expect(summary.simulated).toBe(true);
      const again = Store.open(path);
      expect(again.dataset('synth').logEventCounts()).toMatchObject({ events: summary.events, simulated: summary.events });
      again.close();
      const bad = runCli(['--store', path, 'simulate-logs', '--dataset', 'synth', '--events', '0'], { cwd: dir.path });
      expect(bad.status).toBe(1);
      expect(bad.stderr).toContain('error[BAD_OPTION]');
    } finally {
      dir.cleanup();
    }
  });
});

/**
 * Label sets: the label cache records which teacher configurations labelled a data set, and training
 * reads a set's labels by id without constructing the teacher (a teacher name the registry does not
 * know, as here, would fail the moment anything tried to build it).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LevelDistribution } from '../src/core/index.ts';
import { LabelCache, labelKey, labelSetId, readTeacherLabels } from '../src/label/index.ts';
import type { Store } from '../src/store/index.ts';
import { caught, ingestedStore, tempDir, withRawDb } from './helpers.ts';
import { synth } from './synth-catalogue.ts';

const DIST: LevelDistribution = [0.1, 0.1, 0.1, 0.2, 0.5];
const COST = { calls: 1, inputTokens: 3, outputTokens: 1, seconds: 0.01, usd: 0 };
const judge = (teacher: { name: string; model: string; promptVersion: string }, cache: LabelCache, store: Store, n: number, representation?: string): void => {
  const queries = store.queries('synth', 'train').slice(0, n);
  for (const q of queries) {
    const item = `title: item of ${q.text}`;
    cache.put(
      labelKey(teacher, q.text, item, representation),
      { distribution: DIST, cost: COST, method: 'fixture' },
      { dataset: 'synth', queryId: q.id, itemId: 'it-0-0', queryText: q.text },
    );
  }
};

describe('label sets', () => {
  const tmp = tempDir('distilrank-label-sets-');
  let store: Store;
  const old = { name: 'fixture-judge', model: 'judge-v1', promptVersion: 'p1' };
  const newer = { name: 'fixture-judge', model: 'judge-v1', promptVersion: 'p2' };

  beforeAll(() => {
    store = ingestedStore(join(tmp.path, 'store.sqlite'), synth('synth'));
  });
  afterAll(() => {
    store.close();
    tmp.cleanup();
  });

  it('ids are stable and change with the model, prompt version or representation', () => {
    const id = labelSetId('llm', 'm', 'p1', 'default');
    expect(id).toBe(labelSetId('llm', 'm', 'p1', 'default'));
    expect(id).toMatch(/^llm-[0-9a-f]{10}$/);
    expect(new Set([id, labelSetId('llm', 'm2', 'p1', 'default'), labelSetId('llm', 'm', 'p2', 'default'), labelSetId('llm', 'm', 'p1', 'other')]).size).toBe(
      4,
    );
  });

  it('the cache lists each configuration that labelled the data set, newest first, with its pairs', async () => {
    const cache = LabelCache.open(join(tmp.path, 'labels.sqlite'));
    judge(old, cache, store, 5);
    await new Promise((r) => setTimeout(r, 5));
    judge(newer, cache, store, 3);
    const sets = cache.labelSets('synth');
    expect(sets.map((s) => [s.teacher, s.promptVersion, s.pairs])).toEqual([
      ['fixture-judge', 'p2', 3],
      ['fixture-judge', 'p1', 5],
    ]);
    expect(sets[0]!.id).toBe(labelSetId(newer.name, newer.model, newer.promptVersion, sets[0]!.representation));
    expect(cache.labelSets('other')).toEqual([]);
    cache.close();
  });

  it('training reads the newest set of the teacher, or the one named, without building the teacher', () => {
    const cachePath = join(tmp.path, 'labels.sqlite');
    const newest = readTeacherLabels({ dataset: store.dataset('synth'), teacher: 'fixture-judge', weight: 0.5, cachePath });
    expect(newest).toMatchObject({ name: 'fixture-judge', model: 'judge-v1', promptVersion: 'p2', weight: 0.5 });
    expect(newest.labels).toHaveLength(3);
    const cache = LabelCache.open(cachePath, { readonly: true });
    const p1 = cache.labelSets('synth').find((s) => s.promptVersion === 'p1')!;
    cache.close();
    const named = readTeacherLabels({ dataset: store.dataset('synth'), teacher: 'fixture-judge', labelSet: p1.id, weight: 1, cachePath, limit: 2 });
    expect(named.promptVersion).toBe('p1');
    expect(named.labels).toHaveLength(2);
    expect(named.labels[0]!.queryText.length).toBeGreaterThan(0);

    const unknown = caught(() =>
      readTeacherLabels({ dataset: store.dataset('synth'), teacher: 'fixture-judge', labelSet: 'fixture-judge-0000000000', weight: 1, cachePath }),
    );
    expect(unknown.code).toBe('BAD_INPUT');
    expect(unknown.details.hint).toContain(p1.id);
    const none = caught(() => readTeacherLabels({ dataset: store.dataset('synth'), teacher: 'llm', weight: 1, cachePath }));
    expect(none.code).toBe('BAD_INPUT');
    expect(none.details.hint).toContain('distilrank label');
  });

  it('a cache written before label sets gains them from its refs (read-only: computed; writable: recorded)', () => {
    const cachePath = join(tmp.path, 'old-labels.sqlite');
    const cache = LabelCache.open(cachePath);
    judge(old, cache, store, 4);
    cache.close();
    withRawDb(cachePath, (db) => db.exec('DROP TABLE label_sets'));
    const ro = LabelCache.open(cachePath, { readonly: true });
    expect(ro.labelSets('synth').map((s) => [s.id, s.pairs])).toEqual([[labelSetId(old.name, old.model, old.promptVersion, ''), 4]]);
    ro.close();
    const rw = LabelCache.open(cachePath);
    expect(rw.labelSets('synth').map((s) => [s.id, s.representation, s.pairs])).toEqual([[labelSetId(old.name, old.model, old.promptVersion, ''), '', 4]]);
    rw.close();
    expect(withRawDb(cachePath, (db) => db.prepare('SELECT count(*) FROM label_sets').pluck().get())).toBe(1);
  });
});

/**
 * The data-set handle: `store.dataset(name)` checks the name once (the store must hold it) and reads
 * through the store under that name; a name that is not a valid data-set name never reaches SQL as an
 * identifier, whichever method it is handed to.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dataset, type Store } from '../src/store/index.ts';
import { ftsMatchExpression } from '../src/retrieve/index.ts';
import { caught, ingestedStore, tempDir } from './helpers.ts';
import { synth } from './synth-catalogue.ts';

describe('Dataset handle', () => {
  const tmp = tempDir('distilrank-dataset-handle-');
  let store: Store;
  beforeAll(() => {
    store = ingestedStore(join(tmp.path, 'store.sqlite'), synth('synth'));
  });
  afterAll(() => {
    store.close();
    tmp.cleanup();
  });

  it('is bound to one stored data set and reads what the store reads under its name', () => {
    const ds = store.dataset('synth');
    expect(ds).toBeInstanceOf(Dataset);
    expect(ds.store).toBe(store);
    expect(ds.storedQueries('train')).toEqual(store.queries('synth', 'train'));
    expect(ds.storedJudgments({ split: 'dev' })).toEqual(store.judgments('synth', { split: 'dev' }));
    expect(ds.itemIds()).toEqual(store.itemIds('synth'));
    expect(ds.storedItems(['it-0-0', 'ja-1'])).toEqual(store.items('synth', ['it-0-0', 'ja-1']));
    expect(ds.items).toBe(store.itemCount('synth'));
    expect(ds.hasLogEvents()).toBe(false);
    expect([...ds.logEvents()]).toEqual([]);
    const match = ftsMatchExpression('crimson kettle')!;
    expect(ds.bm25(match, { k: 5 })).toEqual(store.bm25('synth', match, { k: 5 }));
  });

  it('shows only the data set metadata as JSON (never the store)', () => {
    const json = JSON.parse(JSON.stringify(store.dataset('synth'))) as Record<string, unknown>;
    expect(Object.keys(json).sort()).toEqual(
      [
        'defaultJudgmentSet',
        'description',
        'fieldWeights',
        'ingestedAt',
        'items',
        'judgmentSets',
        'judgments',
        'name',
        'queries',
        'scale',
        'source',
        'splitFractions',
        'splitSeed',
      ].sort(),
    );
  });

  it('a data set the store does not hold is STORE_NOT_FOUND, naming what it holds', () => {
    const e = caught(() => store.dataset('nope'));
    expect(e.code).toBe('STORE_NOT_FOUND');
    expect(e.details.hint).toContain('synth');
  });

  it('a name that is not a data-set name never becomes an SQL identifier', () => {
    for (const bad of ['synth; DROP TABLE items', 'Synth', 'a b', '"x"', '']) {
      expect(caught(() => store.bm25(bad, 'kettle', { weights: { title: 1, description: 1, fields: 1 } })).code).toBe('BAD_OPTION');
      expect(caught(() => store.deleteDataset(bad)).code).toBe('BAD_OPTION');
      expect(caught(() => [...store.ftsInstances(bad)]).code).toBe('BAD_OPTION');
    }
    expect(store.itemCount('synth')).toBeGreaterThan(0);
  });
});

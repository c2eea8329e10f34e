/**
 * A student that reads the two-tower cosine (`twotower_cosine`), end to end on a tiny synthetic
 * catalogue: `distilrank train --embedding` (refused with the fix before `distilrank embed`), and
 * `eval` and `explain` load it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Embeddings } from '../src/embed/index.ts';
import { FEATURE_SET_ID, TWOTOWER_FEATURE } from '../src/features/index.ts';
import { Store } from '../src/store/index.ts';
import { defaultStudentDir, type Explanation, type ModelCard } from '../src/student/index.ts';
import { noStackTrace, ok, runCli, tempDir, type CliResult } from './helpers.ts';
import { synth } from './synth-catalogue.ts';

const DS = 'synth-s';
// Two unjudged items with descriptions.
const DESCRIBED = [
  { id: 'd-1', title: 'teal scarf deluxe', description: 'a long wool scarf in deep blue-green, hand knitted', fields: {} },
  { id: 'd-2', title: 'azure lantern', description: 'battery powered camping lantern, blue housing', fields: {} },
];

let tmp: { path: string; cleanup: () => void };
let storePath: string;
let refused: CliResult;
let trained: CliResult;

const cli = (args: string[]) => runCli(['--store', storePath, '--quiet', ...args], { cwd: tmp.path });

beforeAll(() => {
  tmp = tempDir('distilrank-student-embedding-');
  storePath = join(tmp.path, 'store.sqlite');
  const bundle = synth(DS);
  const store = Store.open(storePath, { create: true });
  store.ingest({ ...bundle, items: [...bundle.items, ...DESCRIBED] });
  store.close();
  refused = cli(['train', '--dataset', DS, '--embedding', '--epochs', '2']); // before any embeddings
  ok(cli(['embed', '--dataset', DS, '--epochs', '2', '--buckets', '4096', '--dim', '16', '--no-negatives']));
  trained = cli(['train', '--dataset', DS, '--embedding', '--epochs', '4', '--seed', '3']);
}, 240_000);

afterAll(() => {
  tmp?.cleanup();
});

function readCard(): ModelCard {
  return JSON.parse(readFileSync(join(defaultStudentDir(storePath, DS, 'human'), 'card.json'), 'utf8')) as ModelCard;
}

function withStore<T>(fn: (store: Store) => T): T {
  const store = Store.open(storePath, { readonly: true });
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

describe('distilrank train --embedding', () => {
  it('before distilrank embed: FILE_NOT_FOUND naming the field and the fix, exit 1, no stack trace, no artifact', () => {
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^error\[FILE_NOT_FOUND\]: .*field "embedding": synth-s has no two-tower embeddings yet/);
    expect(refused.stderr).toContain(`hint: run distilrank embed --dataset ${DS} first`);
    noStackTrace(refused);
    // The refusal came before training: the student artifact written later is the --embedding one.
    expect(refused.stdout).not.toContain('trained student');
  });

  it('trains a student that reads twotower_cosine of the data set’s embeddings and records their id', () => {
    ok(trained);
    const e = withStore((store) => Embeddings.forDataset(store, DS));
    expect(trained.stdout).toContain(`(twotower_cosine from embeddings ${e.id})`);
    const card = readCard();
    expect(card.embedding).toEqual({ id: e.id });
    expect(card.featureSetId).toBe(FEATURE_SET_ID);
    expect(card.features.map((f) => f.name)).toContain(TWOTOWER_FEATURE);
  });

  it('eval --model student and explain load it; explain shows the two towers’ cosine as the feature value', () => {
    ok(trained);
    const ev = ok(cli(['eval', '--dataset', DS, '--model', 'student', '--protocol', 'rerank', '--json']));
    const report = JSON.parse(ev.stdout.trim().split('\n')[0]!) as { model: string; metrics: Record<string, number> };
    expect(report.model).toBe('student(human)');
    expect(report.metrics['nDCG@10']).toBeGreaterThan(0);
    expect(report.metrics['nDCG@10']).toBeLessThanOrEqual(1);

    const ex = JSON.parse(ok(cli(['explain', '--dataset', DS, '--query', 'crimson kettle', '--item', 'it-0-0', '--json'])).stdout) as Explanation;
    const cosine = withStore((store) => Embeddings.forDataset(store, DS).cosines('crimson kettle', ['it-0-0'])[0]!);
    expect(ex.contributions.find((c) => c.feature === TWOTOWER_FEATURE)!.value).toBeCloseTo(cosine, 5);
    expect(cosine).toBeGreaterThan(0.1); // a real similarity, not the zero of a missing column
  }, 60_000);
});

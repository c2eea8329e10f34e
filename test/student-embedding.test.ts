/**
 * A student that reads the two-tower cosine (`twotower_cosine`), end to end on a tiny synthetic
 * catalogue: `distilrank train --embedding` (refused with the fix before `distilrank embed`), `eval`
 * and `explain` load it, and the service serves it — including POST /v1/rerank of free texts, whose
 * item vectors the item tower computes per request exactly as the offline pass computes the
 * catalogue's: a text equal to a catalogue item's gets that item's cosine, and (unjudged, no brand)
 * that item's whole score.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Embeddings } from '../src/embed/index.ts';
import { FEATURE_SET_ID, TWOTOWER_FEATURE, type QueryItemSimilarity } from '../src/features/index.ts';
import { buildApp, type ServeApp } from '../src/serve/index.ts';
import { Store, type StoredItem } from '../src/store/index.ts';
import { StudentFeatures, defaultStudentDir, type Explanation, type ModelCard } from '../src/student/index.ts';
import { caught, ingestedStore, noStackTrace, ok, runCli, useTempDir, type CliResult } from './helpers.ts';
import { ADMIN_TOKEN } from './serve-fixture.ts';
import { synth } from './synth-catalogue.ts';

const DS = 'synth-s';
// Two unjudged items with descriptions: a rerank document {title, text} equal to one is that item.
const DESCRIBED = [
  { id: 'd-1', title: 'teal scarf deluxe', description: 'a long wool scarf in deep blue-green, hand knitted', fields: {} },
  { id: 'd-2', title: 'azure lantern', description: 'battery powered camping lantern, blue housing', fields: {} },
];

const tmp = useTempDir('distilrank-student-embedding-');
let storePath: string;
let refused: CliResult;
let trained: CliResult;
let app: ServeApp | undefined;

const cli = (args: string[]) => runCli(['--store', storePath, '--quiet', ...args], { cwd: tmp.path });

beforeAll(() => {
  storePath = join(tmp.path, 'store.sqlite');
  const bundle = synth(DS);
  ingestedStore(storePath, { ...bundle, items: [...bundle.items, ...DESCRIBED] }).close();
  refused = cli(['train', '--dataset', DS, '--embedding', '--epochs', '2']); // before any embeddings
  ok(cli(['embed', '--dataset', DS, '--epochs', '2', '--buckets', '4096', '--dim', '16', '--no-negatives']));
  trained = cli(['train', '--dataset', DS, '--embedding', '--epochs', '4', '--seed', '3']);
}, 240_000);

afterAll(async () => {
  await app?.close();
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
    const e = withStore((store) => Embeddings.forDataset(store.dataset(DS)));
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
    const cosine = withStore((store) => Embeddings.forDataset(store.dataset(DS)).cosines('crimson kettle', ['it-0-0'])[0]!);
    expect(ex.contributions.find((c) => c.feature === TWOTOWER_FEATURE)!.value).toBeCloseTo(cosine, 5);
    expect(cosine).toBeGreaterThan(0.1); // a real similarity, not the zero of a missing column
  }, 60_000);
});

describe('free texts with a student that reads twotower_cosine', () => {
  it('a free text equal to a catalogue item’s text gets that item’s offline cosine (item tower per request)', () => {
    withStore((store) => {
      const e = Embeddings.forDataset(store.dataset(DS));
      const catalogue = store.items(DS, store.itemIds(DS));
      const features = StudentFeatures.fromStore(store.dataset(DS), { priorJudgments: store.judgments(DS, { split: 'train' }), embedding: e });
      const copies: StoredItem[] = catalogue.map((it, i) => ({ ...it, id: `copy-${i}` }));
      const adHoc = features.adHoc(copies);
      const col = features.names.indexOf(TWOTOWER_FEATURE);
      const dims = features.names.length;
      for (const query of ['crimson kettle', 'blue lantern for camping', 'teapot', 'やかん']) {
        const offline = e.cosines(
          query,
          catalogue.map((it) => it.id),
        );
        const rows = adHoc.extract(
          { text: query },
          copies.map((c) => c.id),
        );
        let nonZero = 0;
        catalogue.forEach((_, i) => {
          expect(Math.abs(rows[i * dims + col]! - offline[i]!)).toBeLessThan(1e-5);
          if (Math.abs(offline[i]!) > 1e-3) nonZero += 1;
        });
        expect(nonZero).toBeGreaterThan(0);
      }
      // The free texts' vectors are unit vectors from the item tower, equal to the stored ones.
      const vectors = e.encodeItems(DESCRIBED);
      DESCRIBED.forEach((it, i) => {
        const stored = e.itemVector(it.id)!;
        for (let j = 0; j < e.dim; j++) expect(Math.abs(vectors[i * e.dim + j]! - stored[j]!)).toBeLessThan(1e-6);
      });
    });
  });

  it('a similarity that cannot embed free texts is refused (MODEL_MISMATCH naming the model and the fix)', () => {
    withStore((store) => {
      const fixed: QueryItemSimilarity = { id: 'fixed-1', cosines: (_q, ids) => new Float32Array(ids.length).fill(0.5) };
      const features = StudentFeatures.fromStore(store.dataset(DS), { priorJudgments: [], embedding: fixed });
      const err = caught(() => features.adHoc([{ ...DESCRIBED[0]!, imageUrl: null, attributes: {}, language: null }]));
      expect(err.code).toBe('MODEL_MISMATCH');
      expect(err.details.field).toBe('model');
      expect(err.message).toContain('fixed-1');
      expect(err.details.hint).toMatch(/embed/);
    });
  });

  it('POST /v1/rerank answers with the student; a copy of an unjudged catalogue item scores as /v1/search scores the item', async () => {
    ok(trained);
    app = await buildApp({ artifacts: { store: storePath, dataset: DS, model: 'student' }, adminToken: ADMIN_TOKEN, rateLimit: { perSecond: 0, burst: 1 } });
    const card = readCard();
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.json<{ model: { version: string } }>().model.version).toBe(card.onnxSha256.slice(0, 12));

    const free = await app.inject({
      method: 'POST',
      url: '/v1/rerank',
      payload: {
        query: 'teal scarf',
        documents: ['crimson kettle', 'teal scarf', 'a blue-green wool scarf', { title: 'maroon toaster', text: 'two slots' }],
        return_documents: true,
      },
    });
    expect(free.statusCode).toBe(200);
    const results = free.json<{ results: Array<{ index: number; relevance_score: number; document: { text: string } }> }>().results;
    expect(results).toHaveLength(4);
    for (const r of results) expect(r.relevance_score).toBeGreaterThanOrEqual(0);
    const score = new Map(results.map((r) => [r.index, r.relevance_score]));
    expect(score.get(1)!).toBeGreaterThan(score.get(0)!); // the exact title beats a text sharing no word
    const texts = ['crimson kettle', 'teal scarf', 'a blue-green wool scarf', 'two slots'];
    for (const r of results) expect(r.document.text).toBe(texts[r.index]);

    // Search the catalogue, then rerank copies of the unjudged results: same rows, so the same scores
    // (relevance_score = (E[level] − 1) / 4; the prior features differ for judged items, so those are left out).
    // (This query, unlike some, leaves the tiny student's scores of unjudged items unsaturated.)
    const query = 'teal scarf';
    const search = await app.inject({ method: 'POST', url: '/v1/search', payload: { query, k: 100 } });
    expect(search.statusCode).toBe(200);
    const judged = withStore((store) => new Set(store.judgments(DS, { split: 'train' }).map((j) => j.itemId)));
    const unjudged = search.json<{ results: Array<{ id: string; title: string; score: number }> }>().results.filter((r) => !judged.has(r.id));
    expect(unjudged.map((r) => r.id)).toContain('d-1');
    const described = new Map(DESCRIBED.map((d) => [d.id, d]));
    const documents = unjudged.map((r) => (described.has(r.id) ? { title: r.title, text: described.get(r.id)!.description } : r.title));
    const rr = await app.inject({ method: 'POST', url: '/v1/rerank', payload: { query, documents } });
    expect(rr.statusCode).toBe(200);
    const got = new Map(rr.json<{ results: Array<{ index: number; relevance_score: number }> }>().results.map((r) => [r.index, r.relevance_score]));
    unjudged.forEach((r, i) => expect(got.get(i)! * 4 + 1).toBeCloseTo(r.score, 5));
    expect(new Set(unjudged.map((r) => r.score.toFixed(4))).size).toBeGreaterThan(1);
  }, 60_000);
});

/**
 * Feature extraction speed on home-depot: extractor build time and memory, then pairs/s on one core
 * over the test queries' BM25 top-k candidates (k = 100 and 400; retrieval itself is not timed).
 * Run: `npx tsx bench/features.ts` (DISTILRANK_DATA_DIR or ../shared/data). Not part of `npm test`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DATASETS } from '../src/ingest/index.ts';
import { FEATURES, FeatureExtractor } from '../src/features/index.ts';
import { Bm25Ranker } from '../src/retrieve/index.ts';
import { Store } from '../src/store/index.ts';

const dataDir = process.env.DISTILRANK_DATA_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'data');
const name = 'home-depot';
const work = mkdtempSync(join(tmpdir(), 'distilrank-bench-features-'));
const gc = (globalThis as { gc?: () => void }).gc;
/** JS heap plus typed-array buffers (which live outside the heap). */
const heapMiB = (): number => {
  gc?.();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 2 ** 20;
};

try {
  const store = Store.open(join(work, 'store.sqlite'), { create: true });
  store.ingest(DATASETS[name]!.load(join(dataDir, name)));
  const priors = store.judgments(name, { split: 'train' });
  // What FeatureExtractor.fromStore does, in two timed parts: reading the catalogue, building.
  const t0 = performance.now();
  const items = store.items(name, store.itemIds(name));
  const readS = (performance.now() - t0) / 1000;
  const before = heapMiB();
  const t1 = performance.now();
  const extractor = FeatureExtractor.fromItems(items, { priorJudgments: priors });
  const buildS = (performance.now() - t1) / 1000;
  const heap = heapMiB() - before;
  console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}, one thread${gc ? '' : ' (run with --expose-gc for exact heap)'}`);
  console.log(
    `${name}: ${extractor.itemCount} items, ${FEATURES.length} features; store.items ${readS.toFixed(2)} s, ` +
      `build ${buildS.toFixed(2)} s, extractor memory ${heap.toFixed(0)} MiB (heap + typed arrays), process RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
  );

  const queries = store.queries(name, 'test');
  const ranker = new Bm25Ranker(store.dataset(name));
  for (const k of [100, 400]) {
    const candidates = queries.map((q) => ({ q, ids: ranker.retrieve(q.text, k).map((r) => r.itemId) }));
    const out = new Float32Array(k * FEATURES.length);
    let check = 0;
    // Warm-up pass, then the timed pass.
    for (const { q, ids } of candidates.slice(0, 200)) extractor.extract({ id: q.id, text: q.text }, ids, out);
    let pairs = 0;
    const t = performance.now();
    for (const { q, ids } of candidates) {
      extractor.extract({ id: q.id, text: q.text }, ids, out);
      check += out[0]!;
      pairs += ids.length;
    }
    const s = (performance.now() - t) / 1000;
    console.log(
      `k=${k}: ${candidates.length} queries, ${pairs} pairs in ${s.toFixed(2)} s → ${Math.round(pairs / s).toLocaleString('en-US')} pairs/s ` +
        `(${((s / candidates.length) * 1000).toFixed(2)} ms/query)${Number.isFinite(check) ? '' : ' NaN!'}`,
    );
  }
  store.close();
} finally {
  rmSync(work, { recursive: true, force: true });
}

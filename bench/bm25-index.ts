/**
 * BM25 speed: FTS5 (the store's index, the oracle) against the in-memory Bm25Index the service
 * builds from it, on every query of each data set (all splits), top 200 as the service retrieves:
 * latency p50/p99/p99.9/max and queries/s on one thread, side by side in one run, with parity (the
 * share of queries whose top 200 ids come out identical, the largest score difference), the index's
 * build time and the memory it adds. Run: `npm run bench:bm25 [data sets…]`. Never part of `npm test`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fmt, table } from '../src/core/index.ts';
import { DATASETS, resolveDatasetDir } from '../src/ingest/index.ts';
import { percentile } from '../src/eval/index.ts';
import { Bm25Index, Bm25Ranker, type Ranker } from '../src/retrieve/index.ts';
import { Store } from '../src/store/index.ts';

const dataDir = process.env.DISTILRANK_DATA_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'data');
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = only.length ? only : ['home-depot', 'icecat-chorus', 'cranfield'];
const K = 200;
const work = mkdtempSync(join(tmpdir(), 'distilrank-bench-bm25-'));
const cpu = cpus();

console.log(`distilrank BM25 benchmark — ${new Date().toISOString()}`);
console.log(`machine: ${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; one thread`);
console.log(`data: ${dataDir}; every query of each data set (all splits), top ${K}\n`);

const speedRows: string[][] = [];
const buildRows: string[][] = [];

/** Milliseconds of one retrieve call, and its result. */
function timed(ranker: Ranker, q: string): { ms: number; result: Array<{ itemId: string; score: number }> } {
  const t = performance.now();
  const result = ranker.retrieve(q, K) as Array<{ itemId: string; score: number }>;
  return { ms: performance.now() - t, result };
}

try {
  for (const name of names) {
    const store = Store.open(join(work, `${name}.sqlite`), { create: true });
    store.ingest(DATASETS[name]!.load(await resolveDatasetDir(name, { dataDir, download: false })));
    const dataset = store.dataset(name);
    const weights = dataset.fieldWeights;
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    const index = Bm25Index.build(dataset, weights);
    const buildMs = performance.now() - t0;
    global.gc?.();
    const added = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - heapBefore;
    const st = index.stats();
    buildRows.push([
      name,
      String(st.items),
      String(st.terms),
      String(st.postings),
      fmt(buildMs, 0),
      `${Math.round(added / 2 ** 20)} MiB${global.gc ? '' : ' (no --expose-gc: rough)'}`,
    ]);

    const queries = store.queries(name).map((q) => q.text);
    const fts = new Bm25Ranker(dataset, weights);
    const mem = new Bm25Ranker(dataset, weights, { index });
    // Warm both (statements, the tokenizer's scratch table); then each query through both, compared
    // at once and dropped (holding every result would measure the garbage collector, not BM25).
    for (const q of queries.slice(0, 50)) {
      timed(fts, q);
      timed(mem, q);
    }
    const ftsMs: number[] = [];
    const memMs: number[] = [];
    let same = 0;
    let maxDiff = 0;
    for (const q of queries) {
      const a = timed(fts, q);
      const b = timed(mem, q);
      ftsMs.push(a.ms);
      memMs.push(b.ms);
      if (a.result.length === b.result.length && a.result.every((x, j) => x.itemId === b.result[j]!.itemId)) same += 1;
      a.result.forEach((x, j) => {
        if (b.result[j]?.itemId === x.itemId) maxDiff = Math.max(maxDiff, Math.abs(x.score - b.result[j]!.score));
      });
    }
    const row = (label: string, ms: number[]) => {
      const total = ms.reduce((x, y) => x + y, 0);
      return [
        name,
        label,
        String(ms.length),
        fmt(percentile(ms, 0.5), 2),
        fmt(percentile(ms, 0.99), 2),
        fmt(percentile(ms, 0.999), 2),
        fmt(Math.max(...ms), 2),
        fmt((ms.length / total) * 1000, 0),
      ];
    };
    speedRows.push(row('FTS5', ftsMs));
    speedRows.push([
      ...row('in memory', memMs),
      `${same}/${queries.length} identical, max |Δscore| ${maxDiff.toExponential(1)}, ${st.deferred} deferred to FTS5`,
    ]);
    index.close();
    store.close();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

console.log(table(['data set', 'BM25', 'queries', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'queries/s', 'parity with FTS5'], speedRows));
console.log();
console.log(table(['data set', 'items', 'terms', 'postings', 'build ms', 'memory added'], buildRows));

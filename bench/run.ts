/**
 * Foundation benchmark: ingest throughput and store size per data set, BM25 latency on home-depot's
 * test queries, and BM25 quality under both protocols on every data set — one run, one machine.
 * Run: `npm run bench` (DISTILRANK_DATA_DIR or ../shared/data). Not part of `npm test`.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { table, fmt } from '../src/core/index.ts';
import { DATASETS, resolveDatasetDir } from '../src/ingest/index.ts';
import { evaluate, percentile, type EvalReport } from '../src/eval/index.ts';
import { Bm25Ranker } from '../src/retrieve/index.ts';
import { Store } from '../src/store/index.ts';

const dataDir = process.env.DISTILRANK_DATA_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'data');
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = only.length ? only : ['icecat-chorus', 'home-depot', 'cranfield'];
const work = mkdtempSync(join(tmpdir(), 'distilrank-bench-'));

const cpu = cpus();
console.log(`distilrank foundation benchmark — ${new Date().toISOString()}`);
console.log(`machine: ${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, one thread`);
console.log(`data: ${dataDir}\n`);

const ingestRows: string[][] = [];
const quality: EvalReport[] = [];
let latencyRows: string[][] = [];

try {
  for (const name of names) {
    const store = Store.open(join(work, `${name}.sqlite`), { create: true });
    const dir = await resolveDatasetDir(name, { dataDir, download: false });
    const t0 = performance.now();
    const bundle = DATASETS[name]!.load(dir);
    const t1 = performance.now();
    const result = store.ingest(bundle);
    const dataset = store.dataset(name);
    const t2 = performance.now();
    store.checkpoint();
    const bytes = statSync(store.path).size;
    const secs = (t2 - t0) / 1000;
    ingestRows.push([
      name,
      String(result.items),
      String(result.judgments),
      fmt((t1 - t0) / 1000, 2),
      fmt((t2 - t1) / 1000, 2),
      Math.round(result.items / secs).toLocaleString('en-US'),
      `${(bytes / 2 ** 20).toFixed(1)} MiB`,
    ]);

    const ranker = new Bm25Ranker(dataset);
    for (const protocol of ['rerank', 'retrieval'] as const) {
      quality.push((await evaluate({ dataset, split: 'test', protocol, ranker })).report);
    }

    if (name === 'home-depot') {
      // Latency of the BM25 call alone, every test query, after one warm-up pass.
      const queries = store.queries(name, 'test');
      const judged = new Map<string, string[]>();
      for (const j of store.judgments(name, { split: 'test' })) judged.set(j.queryId, [...(judged.get(j.queryId) ?? []), j.itemId]);
      for (const q of queries) ranker.retrieve(q.text, 100);
      latencyRows = [];
      for (const [label, fn] of [
        ['retrieve top 100 (whole catalogue)', (q: { id: string; text: string }) => ranker.retrieve(q.text, 100)],
        ['score judged candidates (rerank)', (q: { id: string; text: string }) => ranker.score(q.text, judged.get(q.id) ?? [])],
      ] as const) {
        const times: number[] = [];
        for (const q of queries) {
          const s = performance.now();
          fn(q);
          times.push(performance.now() - s);
        }
        const total = times.reduce((a, b) => a + b, 0);
        latencyRows.push([
          label,
          String(times.length),
          fmt(percentile(times, 0.5), 3),
          fmt(percentile(times, 0.99), 3),
          fmt(Math.max(...times), 2),
          Math.round((times.length / total) * 1000).toLocaleString('en-US'),
        ]);
      }
    }
    store.close();
  }

  console.log('Ingest (parse + validated transactional write + FTS5 index), fresh store per data set');
  console.log(table(['data set', 'items', 'judgments', 'parse s', 'write s', 'items/s', 'store size'], ingestRows));
  if (latencyRows.length) {
    console.log('\nBM25 latency, home-depot test queries (in-process, after warm-up)');
    console.log(table(['operation', 'queries', 'p50 ms', 'p99 ms', 'max ms', 'queries/s'], latencyRows));
  }
  console.log('\nBM25 quality, test split (gains L1=0 … L5=4; rel=3: L4 and up)');
  console.log(
    table(
      ['data set', 'protocol', 'queries', 'nDCG@10', 'nDCG_exp@10', 'P(rel=3)@10', 'R(rel=3)@100', 'AP(rel=3)', 'RR(rel=3)'],
      quality.map((r) => [
        r.dataset,
        r.protocol,
        String(r.queries),
        ...['nDCG@10', 'nDCG_exp@10', 'P(rel=3)@10', 'R(rel=3)@100', 'AP(rel=3)', 'RR(rel=3)'].map((m) => fmt(r.metrics[m]!)),
      ]),
    ),
  );
  console.log(`\npeak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

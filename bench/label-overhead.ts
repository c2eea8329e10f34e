/**
 * Labelling-job overhead benchmark: does `runLabelJob` keep the configured number of requests in
 * flight against an endpoint, and how much of its wall time is spent waiting on the endpoint rather
 * than on our code? And does a resumed job make zero duplicate calls?
 *
 * Issue target: "the job sustains the configured concurrency against the test server with ≥ 95% of
 * wall time spent waiting on the endpoint (not on our code), and a resumed job makes zero duplicate
 * calls".
 *
 * Set-up: the fake OpenAI-compatible server of the tests (test/fake-openai.ts), in its own process, on
 * 127.0.0.1, answering every request with logprobs (level by word overlap) after a fixed latency L;
 * the `llm` teacher (mode logprobs) pointed at it; a pool of BM25 candidates from a data set; a fresh
 * temp LabelCache per run. Everything else (the openai client, HTTP, JSON, hashing, SQLite commits)
 * counts as ours. (Until 2026-11-30 the server shared the job's event loop and its work counted as ours.)
 *
 * Run: `npm run bench:label`. Env: DISTILRANK_BENCH_LATENCY_MS (L, default 20),
 * DISTILRANK_BENCH_CONCURRENCY (default 1,4,16), DISTILRANK_BENCH_DATASET (default cranfield),
 * DISTILRANK_BENCH_K (BM25 candidates per query, default 10), DISTILRANK_DATA_DIR.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fmt, table } from '../src/core/index.ts';
import { DATASETS, resolveDatasetDir } from '../src/ingest/index.ts';
import { LabelCache, buildPool, runLabelJob, type LabelBudget, type LabelJobSummary } from '../src/label/index.ts';
import { Store } from '../src/store/index.ts';
import { createLlmTeacher, type Teacher, type TeacherPair } from '../src/teacher/index.ts';

const dataDir = process.env.DISTILRANK_DATA_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'data');
const latencyMs = Number(process.env.DISTILRANK_BENCH_LATENCY_MS ?? 20);
const levels = (process.env.DISTILRANK_BENCH_CONCURRENCY ?? '1,4,16').split(',').map(Number);
const datasetName = process.env.DISTILRANK_BENCH_DATASET ?? 'cranfield';
const k = Number(process.env.DISTILRANK_BENCH_K ?? 10);
const PRICING = { inputPerMTok: 0.15, outputPerMTok: 0.6 };
const TARGET_SHARE = 0.95;
const RESUME_CONCURRENCY = 4;
if (!(latencyMs > 0) || levels.some((c) => !Number.isInteger(c) || c < 1) || !Number.isInteger(k) || k < 1) {
  throw new Error('DISTILRANK_BENCH_LATENCY_MS must be > 0; DISTILRANK_BENCH_CONCURRENCY positive integers; DISTILRANK_BENCH_K a positive integer');
}
const adapter = DATASETS[datasetName];
if (!adapter) throw new Error(`unknown data set ${datasetName}: one of ${Object.keys(DATASETS).join(', ')}`);

const cpu = cpus();
console.log(`distilrank labelling-job overhead benchmark — ${new Date().toISOString()}`);
console.log(`machine: ${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
console.log(
  `endpoint: fake OpenAI server (test/fake-openai.ts) in its own process on 127.0.0.1, fixed latency L = ${latencyMs} ms, logprobs answers; teacher: llm, mode logprobs, $${PRICING.inputPerMTok}/$${PRICING.outputPerMTok} per 1M input/output tokens`,
);

/** One request as the server saw it: from its body having been read to its reply being written. */
interface Interval {
  start: number;
  end: number;
  /** The last user message: the pair as the teacher rendered it. */
  user: string;
}

// The endpoint runs in its own process (bench/fake-endpoint-process.ts), as a real one would.
const endpoint = fork(join(import.meta.dirname, 'fake-endpoint-process.ts'), [], {
  execArgv: ['--import', 'tsx'],
  env: { ...process.env, DISTILRANK_BENCH_LATENCY_MS: String(latencyMs) },
});
const fromEndpoint = <T>(key: string): Promise<T> =>
  new Promise((done) => {
    const on = (m: Record<string, unknown>) => {
      if (key in m) {
        endpoint.off('message', on);
        done(m[key] as T);
      }
    };
    endpoint.on('message', on);
  });
const fakeUrl = await fromEndpoint<string>('url');
const collectIntervals = async (): Promise<Interval[]> => {
  const got = fromEndpoint<Interval[]>('intervals');
  endpoint.send('collect');
  return (await got).map((r) => ({ ...r, start: r.start - performance.timeOrigin, end: (r.end ?? Number.NaN) - performance.timeOrigin }));
};
const llm = createLlmTeacher({ baseURL: fakeUrl, model: 'fake-bench', pricing: PRICING, mode: 'logprobs' });
/** When each judge() call started and returned (same name, model and prompt version: the same cache keys). */
let judgeCalls: Array<{ start: number; end: number }> = [];
const teacher: Teacher = {
  name: llm.name,
  model: llm.model,
  promptVersion: llm.promptVersion,
  async judge(pair, signal) {
    const call = { start: performance.now(), end: Number.NaN };
    judgeCalls.push(call);
    try {
      return await llm.judge(pair, signal);
    } finally {
      call.end = performance.now();
    }
  },
};

const work = mkdtempSync(join(tmpdir(), 'distilrank-bench-label-'));
let cacheN = 0;
const freshCachePath = () => join(work, `labels-${cacheN++}.sqlite`);

interface Measured {
  summary: LabelJobSummary;
  wallMs: number;
  cpuMs: number;
  requests: Interval[];
  judges: Array<{ start: number; end: number }>;
}

/** One job over `pairs` with a cache at `cachePath` (opened for the run and closed after it, as a new process would). */
async function measure(pairs: readonly TeacherPair[], concurrency: number, cachePath: string, budget?: LabelBudget): Promise<Measured> {
  const cache = LabelCache.open(cachePath, { create: true });
  await collectIntervals(); // drop anything left from before
  judgeCalls = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const summary = await runLabelJob({ cache, teacher, pairs, dataset: datasetName, concurrency, ...(budget ? { budget } : {}) });
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(cpu0);
  cache.close();
  const requests = await collectIntervals();
  const judges = judgeCalls;
  judgeCalls = [];
  if (requests.some((r) => Number.isNaN(r.end))) throw new Error('a request was still open at the server after the job returned');
  return { summary, wallMs, cpuMs: (c.user + c.system) / 1000, requests, judges };
}

/** Max and time-weighted mean number of requests open at the server over [t0, t0 + wall]. */
function inFlight(requests: readonly Interval[], wallMs: number): { max: number; mean: number; busyMs: number } {
  const events: Array<[number, number]> = [];
  let busyMs = 0;
  for (const r of requests) {
    events.push([r.start, 1], [r.end, -1]);
    busyMs += r.end - r.start;
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // ends before starts at the same instant
  let open = 0;
  let max = 0;
  for (const [, d] of events) {
    open += d;
    max = Math.max(max, open);
  }
  return { max, mean: busyMs / wallMs, busyMs };
}

const store = Store.open(join(work, `${datasetName}.sqlite`), { create: true });
try {
  const t0 = performance.now();
  store.ingest(adapter.load(await resolveDatasetDir(datasetName, { dataDir, download: false })));
  const pool = buildPool(store.dataset(datasetName), { k });
  const uniquePairs = new Set(pool.map((p) => `${p.queryText}\0${p.itemText}`)).size;
  console.log(
    `pool: ${datasetName}, BM25 top ${k} per training query → ${pool.length} pairs (${uniquePairs} distinct query/item texts); set up in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  // Warm-up (JIT, the client's connection pool): a slice of the pool, discarded.
  await measure(pool.slice(0, 64), 4, freshCachePath());

  const rows: string[][] = [];
  const costs: string[][] = [];
  const verdicts: string[] = [];
  let breakdown: string[][] = [];
  for (const c of levels) {
    const m = await measure(pool, c, freshCachePath());
    const s = m.summary;
    const n = m.requests.length;
    const f = inFlight(m.requests, m.wallMs);
    const share = f.busyMs / (c * m.wallMs);
    const idealMs = (s.labelled * latencyMs) / c;
    const overheadUs = ((m.wallMs - idealMs) * 1000) / s.labelled;
    rows.push([
      String(c),
      String(pool.length),
      String(n),
      fmt(m.wallMs / 1000, 2),
      fmt(idealMs / 1000, 2),
      fmt(s.labelled / (m.wallMs / 1000), 1),
      String(f.max),
      fmt(f.mean, 2),
      `${fmt(share * 100, 1)}%`,
      fmt(f.busyMs / n, 2),
      fmt(overheadUs, 0),
      fmt((m.cpuMs * 1000) / s.labelled, 0),
    ]);
    costs.push([
      String(c),
      s.stoppedBy,
      String(s.labelled),
      String(s.duplicates),
      String(s.cost.calls),
      String(s.cost.inputTokens),
      String(s.cost.outputTokens),
      `$${s.cost.usd.toFixed(6)}`,
    ]);
    if (c === 1 && m.judges.length === n) {
      // Sequential: the i-th judge() call is the i-th request. Where the time between two requests goes.
      const mean = (f: (i: number) => number) => (Array.from({ length: n }, (_, i) => f(i)).reduce((a, b) => a + b, 0) / n) * 1000;
      const send = mean((i) => m.requests[i]!.start - m.judges[i]!.start);
      const receive = mean((i) => m.judges[i]!.end - m.requests[i]!.end);
      const between = mean((i) => (i + 1 < n ? m.judges[i + 1]!.start - m.judges[i]!.end : 0)) * (n / Math.max(1, n - 1));
      // send and receive each span two processes' clocks (an offset of up to a few ms between their
      // time origins); their sum does not depend on it.
      breakdown = [
        ['teacher.judge() called → server has the request, + server writes the reply → judge() returns (client, HTTP, JSON both ways)', fmt(send + receive, 0)],
        ['teacher.judge() returns → next call (job bookkeeping, SQLite commit)', fmt(between, 0)],
        ['at the server (L + timer slack)', fmt((f.busyMs / n) * 1000, 0)],
        ['wall time / pairs', fmt((m.wallMs / n) * 1000, 0)],
      ];
    }
    verdicts.push(
      `C=${c}: max in flight ${f.max}/${c}, waiting share ${fmt(share * 100, 1)}% ${share >= TARGET_SHARE && f.max === c ? 'MEETS' : 'MISSES'} the target`,
    );
  }

  // Resume: a run stopped by a calls budget of half the pairs, then the same job again without one.
  const cachePath = freshCachePath();
  const half = Math.floor(pool.length / 2);
  const first = await measure(pool, RESUME_CONCURRENCY, cachePath, { calls: half });
  const second = await measure(pool, RESUME_CONCURRENCY, cachePath);
  const firstUsers = new Set(first.requests.map((r) => r.user));
  const twiceAcross = second.requests.filter((r) => firstUsers.has(r.user)).length;
  const all = [...first.requests, ...second.requests].map((r) => r.user);
  const twiceOverall = all.length - new Set(all).size;

  console.log(`\nThroughput and overhead (${pool.length} pairs per run, fresh cache each run, retries unused: the server never fails)`);
  console.log(
    table(
      [
        'concurrency',
        'pairs',
        'requests',
        'wall s',
        'ideal s',
        'pairs/s',
        'max in flight',
        'mean in flight',
        'waiting share',
        'endpoint ms/req',
        'overhead µs/pair',
        'CPU µs/pair',
      ],
      rows,
    ),
  );
  console.log(
    [
      "Definitions. A request's time at the endpoint = from the fake server having read its body to its reply being written",
      `(the fixed latency L = ${latencyMs} ms plus timer slack: "endpoint ms/req" is its mean). In flight = requests open at the server,`,
      "integrated exactly from those start/end timestamps over the job's wall time W. Waiting share = Σ request durations at the",
      "server / (C × W) = mean in flight / C: the share of the C concurrency slots' time spent waiting on the endpoint; the rest",
      'is our code (job, openai client, HTTP, JSON, hashing, SQLite commits; the fake server runs in its own process).',
      `Ideal s = labelled pairs × L / C. Overhead µs/pair = (W − ideal) / pairs (it includes the timer slack, so it`,
      "overstates our code by about the slack / C). CPU µs/pair = this process's CPU time (the job and the client) / pairs.",
    ].join('\n'),
  );
  if (breakdown.length) {
    console.log("\nWhere a pair's time goes at C=1 (mean µs per request; timestamps around teacher.judge() and at the server)");
    console.log(table(['interval', 'µs'], breakdown));
  }
  console.log('\nCost reported by the job');
  console.log(table(['concurrency', 'stopped by', 'labelled', 'duplicates', 'calls', 'input tokens', 'output tokens', 'USD'], costs));
  console.log(`\nTarget (≥ ${TARGET_SHARE * 100}% waiting, configured concurrency reached):`);
  for (const v of verdicts) console.log(`  ${v}`);
  console.log(
    `\nResume (C=${RESUME_CONCURRENCY}, same cache file reopened): run 1 with budget ${half} calls → stopped by ${first.summary.stoppedBy}, ` +
      `${first.requests.length} requests, ${first.summary.labelled} labelled; run 2 without budget → ${second.requests.length} requests, ` +
      `${second.summary.cached} cached, ${second.summary.labelled} labelled, stopped by ${second.summary.stoppedBy}; ` +
      `total ${first.requests.length + second.requests.length} requests for ${uniquePairs} distinct pairs; ` +
      `pairs requested twice (same user message): ${twiceAcross} across the runs, ${twiceOverall} overall ${twiceOverall === 0 && twiceAcross === 0 ? '— MEETS' : '— MISSES'} the target`,
  );
  console.log(`\npeak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
} finally {
  store.close();
  endpoint.send('close');
  rmSync(work, { recursive: true, force: true });
}

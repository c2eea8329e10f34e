/**
 * Service load benchmark: `distilrank serve` in its own process on the home-depot catalogue (≈55k
 * items), k=20, 200 BM25 candidates re-ranked by the student, on 127.0.0.1 with the real test-split
 * queries (seeded 70/10/20 split), cycled:
 *   1. a fixed rate (200 req/s), open loop (openLoad below: evenly spaced, latency from when each
 *      request was due), for BENCH_SECONDS (default 60): p50/p99/p99.9, errors;
 *   2. saturation (autocannon, BENCH_CONNECTIONS connections, closed loop) for BENCH_SECONDS: throughput;
 *   3. a reload under load: a fixed-rate run (30 s or half of BENCH_SECONDS) during which /admin/reload swaps to another student
 *      artifact: failed requests must be zero, later responses carry the new version;
 *   4. the baseline in the same run: the same fixed rate against `serve --model bm25` (BM25 alone).
 * The store and the students live in .cache/bench-serve (trained once when absent; it says so).
 * Run: `npm run bench:serve`; quick: `BENCH_SECONDS=10 npm run bench:serve`; BENCH_BASELINE=0 skips 4.
 * autocannon records latency with 1 ms resolution; the open-loop runs with performance.now().
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { Agent, request as httpRequest } from 'node:http';
import { join, resolve } from 'node:path';
// @ts-expect-error autocannon ships no type declarations
import autocannon from 'autocannon';
import { fmt, table } from '../src/core/index.ts';
import { Store } from '../src/store/index.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'bin', 'distilrank.js');
const DATASET = 'home-depot';
const dataDir = process.env.DISTILRANK_DATA_DIR ?? resolve(ROOT, '..', 'shared', 'data');
const work = resolve(process.env.BENCH_SERVE_DIR ?? join(ROOT, '.cache', 'bench-serve'));
const storePath = join(work, 'store.sqlite');
const studentDir = join(work, 'models', DATASET, 'student-human');
const reloadDir = join(work, 'models', DATASET, 'student-reload');
const seconds = Number(process.env.BENCH_SECONDS ?? 60);
const rate = Number(process.env.BENCH_RATE ?? 200);
const satConnections = Number(process.env.BENCH_CONNECTIONS ?? 16);
const baseline = process.env.BENCH_BASELINE !== '0';
const K = 20;
/** Seconds into the reload run when /admin/reload is sent (loading the set takes seconds itself). */
const RELOAD_AFTER_S = 5;
const CANDIDATES = 200;
const TOKEN = 'bench-admin-token-0123456789abcdef';
const env = { ...process.env, DISTILRANK_DATA_DIR: dataDir, CI: 'true', DISTILRANK_ADMIN_TOKEN: TOKEN };

interface Latency {
  p50: number;
  p99: number;
  p99_9: number;
  max: number;
  average: number;
}
interface CannonResult {
  latency: Latency;
  requests: { average: number; total: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
  ['2xx']: number;
}

function log(s: string): void {
  process.stderr.write(`${s}\n`);
}

function cli(args: string[]): void {
  const r = spawnSync(process.execPath, [CLI, '--store', storePath, ...args], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`distilrank ${args.join(' ')} exited ${r.status}`);
}

interface Served {
  url: string;
  pid: number;
  stop: () => Promise<number | null>;
}

function serve(model: string): Promise<Served> {
  const child = spawn(
    process.execPath,
    [CLI, '--store', storePath, 'serve', '--dataset', DATASET, '--port', '0', '--model', model, '--candidates', String(CANDIDATES), '--rate-limit', '0'],
    { env },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((res) => child.on('close', res));
  return new Promise((resolvePromise, reject) => {
    child.stdout.on('data', () => {
      const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m && out.includes('try: curl')) {
        resolvePromise({
          url: m[1]!,
          pid: child.pid!,
          stop: () => {
            child.kill('SIGTERM');
            return exit;
          },
        });
      }
    });
    void exit.then((code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : NaN;
  } catch {
    return NaN;
  }
}

function load(
  url: string,
  queries: readonly string[],
  opts: { duration: number; overallRate?: number; connections: number },
  onModel?: (m: string) => void,
): Promise<CannonResult> {
  let i = 0;
  return new Promise((res, rej) => {
    const inst = autocannon(
      {
        url: `${url}/v1/search`,
        duration: opts.duration,
        connections: opts.connections,
        ...(opts.overallRate ? { overallRate: opts.overallRate } : {}),
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            setupRequest: (req: Record<string, unknown>) => ({ ...req, body: JSON.stringify({ query: queries[i++ % queries.length], k: K }) }),
            ...(onModel ? { onResponse: (_status: number, body: string) => onModel(String((JSON.parse(body) as { model?: string }).model)) } : {}),
          },
        ],
      },
      (e: Error | null, r: CannonResult) => (e ? rej(e) : res(r)),
    );
    void inst;
  });
}

/**
 * An open-loop load at a fixed rate: request i is due at t0 + i / rate, sent then on a keep-alive
 * connection pool whatever the earlier requests are doing, and its latency runs from when it was due
 * (not from when a connection freed up), so a slow server cannot slow the load down and hide its own
 * queueing (coordinated omission). autocannon's `overallRate` does not do this: each connection sends
 * its per-second quota back to back at the start of every second, a burst of `rate` requests.
 */
async function openLoad(
  url: string,
  queries: readonly string[],
  opts: { duration: number; rate: number },
  onModel?: (m: string) => void,
): Promise<CannonResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const target = new URL(`${url}/v1/search`);
  const total = Math.round(opts.duration * opts.rate);
  const latencies: number[] = [];
  let errors = 0;
  let timeouts = 0;
  let non2xx = 0;
  let next = 0;
  const pending = new Set<Promise<void>>();
  const t0 = performance.now();
  const send = (i: number): Promise<void> =>
    new Promise((done) => {
      const due = t0 + (i * 1000) / opts.rate;
      const body = JSON.stringify({ query: queries[i % queries.length], k: K });
      const req = httpRequest(
        target,
        { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 10_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            latencies.push(performance.now() - due);
            if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) non2xx += 1;
            else if (onModel) onModel(String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model?: string }).model));
            done();
          });
        },
      );
      let timedOut = false;
      req.on('timeout', () => {
        timedOut = true;
        timeouts += 1;
        req.destroy();
      });
      req.on('error', () => {
        if (!timedOut) errors += 1;
        done();
      });
      req.end(body);
    });
  await new Promise<void>((finish) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && t0 + (next * 1000) / opts.rate <= now) {
        const p = send(next++);
        pending.add(p);
        void p.then(() => pending.delete(p));
      }
      if (next < total) setTimeout(tick, Math.max(0, t0 + (next * 1000) / opts.rate - performance.now()));
      else finish();
    };
    tick();
  });
  await Promise.all(pending);
  agent.destroy();
  const wall = (performance.now() - t0) / 1000;
  const sorted = latencies.sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
  return {
    requests: { average: latencies.length / wall, total: total },
    latency: { p50: q(0.5), p99: q(0.99), p99_9: q(0.999), max: sorted.at(-1) ?? NaN },
    errors,
    timeouts,
    non2xx,
  } as CannonResult;
}

function row(name: string, r: CannonResult, extra = ''): string[] {
  const failed = r.errors + r.timeouts + r.non2xx;
  return [
    name,
    fmt(r.requests.average, 1),
    String(r.requests.total),
    fmt(r.latency.p50, 1),
    fmt(r.latency.p99, 1),
    fmt(r.latency.p99_9, 1),
    fmt(r.latency.max, 1),
    String(failed),
    extra,
  ];
}

const cpu = cpus();
console.log(`distilrank service load benchmark — ${new Date().toISOString()}`);
console.log(
  `machine: ${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; server and autocannon share the machine`,
);
console.log(
  `data: ${DATASET} (${dataDir}); queries: the test split (seeded 70/10/20); k=${K}, ${CANDIDATES} BM25 candidates re-ranked; ${seconds} s per run\n`,
);

if (!existsSync(join(studentDir, 'card.json'))) {
  log(`no student for ${DATASET} in ${work}: training one now (ingests the data set first; ~2 min on 2 cores)`);
  cli(['train', '--dataset', DATASET]);
}
if (!existsSync(join(reloadDir, 'card.json'))) {
  log(`no second student to reload to: training a short one (3 epochs, seed 7) into ${reloadDir}`);
  cli(['train', '--dataset', DATASET, '--epochs', '3', '--seed', '7', '--out', reloadDir]);
}
const store = Store.open(storePath, { readonly: true });
const queries = store.queries(DATASET, 'test').map((q) => q.text);
const items = store.itemCount(DATASET);
store.close();
log(`${queries.length} test queries, ${items} items`);

const rows: string[][] = [];
const server = await serve(`student:${studentDir}`);
let reloadNote: string;
try {
  log('warm-up (3 s)');
  await load(server.url, queries, { duration: 3, connections: 4 });
  log(`fixed rate: ${rate} req/s for ${seconds} s`);
  const fixed = await openLoad(server.url, queries, { duration: seconds, rate });
  rows.push(row(`student, fixed ${rate} req/s`, fixed));
  log(`saturation: ${satConnections} connections for ${seconds} s`);
  const sat = await load(server.url, queries, { duration: seconds, connections: satConnections });
  rows.push(row(`student, saturation (${satConnections} conn.)`, sat, 'throughput'));

  const reloadSeconds = Math.max(30, seconds / 2);
  log(`reload under load: ${rate} req/s for ${reloadSeconds} s, /admin/reload to another student after ${RELOAD_AFTER_S} s`);
  const models = new Map<string, number>();
  let reload: { status: number; ms: number; body: string } | null = null;
  const run = openLoad(server.url, queries, { duration: reloadSeconds, rate }, (m) => models.set(m, (models.get(m) ?? 0) + 1));
  await new Promise((r) => setTimeout(r, RELOAD_AFTER_S * 1000));
  const t0 = performance.now();
  const rr = await fetch(`${server.url}/admin/reload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: `student:${reloadDir}` }),
  });
  reload = { status: rr.status, ms: performance.now() - t0, body: await rr.text() };
  const during = await run;
  reloadNote = `reload ${reload.status} in ${fmt(reload.ms / 1000, 1)} s; responses by model: ${[...models].map(([m, n]) => `${m} ${n}`).join(', ')}`;
  rows.push(row(`student, reload under ${rate} req/s`, during, `reload HTTP ${reload.status}`));
  log(`server RSS after the runs: ${rssMiB(server.pid)} MiB`);
  rows.at(-1)!.push(`${rssMiB(server.pid)} MiB`);
} finally {
  const code = await server.stop();
  log(`student server exited ${code} after SIGTERM`);
}

if (baseline) {
  const bm25 = await serve('bm25');
  try {
    await load(bm25.url, queries, { duration: 3, connections: 4 });
    log(`baseline: bm25 alone at ${rate} req/s for ${seconds} s`);
    const b = await openLoad(bm25.url, queries, { duration: seconds, rate });
    rows.push(row(`bm25 alone (baseline), fixed ${rate} req/s`, b));
  } finally {
    await bm25.stop();
  }
}

console.log(
  table(
    ['run', 'req/s', 'requests', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'failed', 'note'],
    rows.map((r) => r.slice(0, 9)),
  ),
);
console.log(`\n${reloadNote}`);
console.log(`target: p99 ≤ 15 ms at ${rate} req/s on 2 cores, zero failed requests (failed = errors + timeouts + non-2xx).`);

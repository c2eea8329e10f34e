/**
 * Captions-job benchmark: throughput and cost accounting of `runCaptionJob` against the fake VLM of
 * the tests (test/fake-vlm.ts) with a fixed latency, images served by the tests' image server — both
 * real HTTP servers in this process on 127.0.0.1 (so their own work shares our event loop and counts
 * as ours). Each item has its own generated PNG; a fresh caption cache per run.
 *
 * Printed per concurrency C: items/s, the ideal C / latency, the share of worker time spent waiting
 * on the VLM endpoint (sum of call durations / (wall × C)) and downloading images, tokens and USD at
 * the configured prices (the fake charges 85 prompt tokens per image + the instruction text, and one
 * completion token per caption word). Then a budget stop and a resume: the calls of the two runs must
 * cover every image exactly once (zero paid twice).
 *
 * Run: `npm run bench:captions`. Env: DISTILRANK_BENCH_ITEMS (default 1000),
 * DISTILRANK_BENCH_LATENCY_MS (default 20), DISTILRANK_BENCH_CONCURRENCY (default 1,4,16),
 * DISTILRANK_BENCH_PRICE_INPUT / _OUTPUT (USD per 1M tokens, default 0.15 / 0.6).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { CaptionCache, VlmCaptioner, runCaptionJob, type CaptionItem, type CaptionJobSummary } from '../src/enrich/captions/index.ts';
import { fmt, table } from '../src/core/index.ts';
import { startFakeVlm, startImageServer } from '../test/fake-vlm.ts';

const n = Number(process.env.DISTILRANK_BENCH_ITEMS ?? 1000);
const latencyMs = Number(process.env.DISTILRANK_BENCH_LATENCY_MS ?? 20);
const levels = (process.env.DISTILRANK_BENCH_CONCURRENCY ?? '1,4,16').split(',').map(Number);
const pricing = {
  inputPerMTok: Number(process.env.DISTILRANK_BENCH_PRICE_INPUT ?? 0.15),
  outputPerMTok: Number(process.env.DISTILRANK_BENCH_PRICE_OUTPUT ?? 0.6),
};
if (!(n > 0) || !(latencyMs > 0) || levels.some((c) => !Number.isInteger(c) || c < 1)) throw new Error('bad DISTILRANK_BENCH_* settings');

const cpu = cpus();
console.log(`distilrank captions benchmark — ${new Date().toISOString()}`);
console.log(`machine: ${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
console.log(
  `${n} items, one generated PNG each (~70 bytes); fake VLM latency ${latencyMs} ms; prices $${pricing.inputPerMTok} / $${pricing.outputPerMTok} per 1M input / output tokens\n`,
);

const images = await startImageServer();
const vlm = await startFakeVlm({ latencyMs });
const work = mkdtempSync(join(tmpdir(), 'distilrank-bench-captions-'));
const captioner = new VlmCaptioner({ baseURL: vlm.url, model: 'fake-vlm', pricing, timeoutMs: 30_000 });
const items = (prefix: string): CaptionItem[] => Array.from({ length: n }, (_, i) => ({ itemId: `${prefix}${i}`, imageUrl: images.imageUrl(`${prefix}${i}`) }));
const fetch = { allowPrivate: true }; // the image server is on loopback

async function run(name: string, list: CaptionItem[], concurrency: number, budget?: { calls: number }): Promise<CaptionJobSummary> {
  const cache = CaptionCache.open(join(work, `${name}.sqlite`));
  try {
    return await runCaptionJob({ cache, captioner, dataset: 'bench', items: list, fetch, concurrency, ...(budget ? { budget } : {}) });
  } finally {
    cache.close();
  }
}

try {
  const rows: string[][] = [];
  for (const c of levels) {
    vlm.requests.length = 0;
    const s = await run(`c${c}`, items(`c${c}-`), c);
    if (s.captioned !== n) throw new Error(`C=${c}: ${s.captioned} of ${n} captioned (${s.failed} failed)`);
    const workerSeconds = s.elapsedSeconds * c;
    rows.push([
      String(c),
      fmt(s.elapsedSeconds, 2),
      fmt(n / s.elapsedSeconds, 1),
      fmt((c * 1000) / latencyMs, 1),
      `${((100 * s.endpointSeconds) / workerSeconds).toFixed(1)}%`,
      `${((100 * s.fetchSeconds) / workerSeconds).toFixed(1)}%`,
      String(s.cost.calls),
      String(s.cost.inputTokens),
      String(s.cost.outputTokens),
      `$${s.cost.usd.toFixed(5)}`,
    ]);
  }
  console.log('Throughput and cost, one fresh cache per run');
  console.log(table(['C', 'wall s', 'items/s', 'ideal items/s', 'waiting on VLM', 'fetching images', 'calls', 'input tokens', 'output tokens', 'usd'], rows));

  // Budget stop, then resume: every image requested exactly once over the two runs.
  vlm.requests.length = 0;
  const list = items('resume-');
  const half = Math.floor(n / 2);
  const first = await run('resume', list, 4, { calls: half });
  const second = await run('resume', list, 4);
  const perImage = new Map<string, number>();
  for (const r of vlm.requests) perImage.set(r.imageSha256 ?? r.imageUrl, (perImage.get(r.imageSha256 ?? r.imageUrl) ?? 0) + 1);
  const twice = [...perImage.values()].filter((k) => k > 1).length;
  console.log('\nBudget stop and resume (C=4)');
  console.log(
    table(
      ['run', 'stopped by', 'captioned', 'already cached', 'calls', 'usd'],
      [
        ['1: --max-calls ' + half, first.stoppedBy, String(first.captioned), String(first.cached), String(first.cost.calls), `$${first.cost.usd.toFixed(5)}`],
        ['2: resume', second.stoppedBy, String(second.captioned), String(second.cached), String(second.cost.calls), `$${second.cost.usd.toFixed(5)}`],
      ],
    ),
  );
  console.log(`requests ${vlm.requests.length} for ${perImage.size} distinct images; paid twice: ${twice}`);
  if (twice !== 0 || perImage.size !== n) throw new Error('resume paid an image twice or missed one');
} finally {
  await images.close();
  await vlm.close();
  rmSync(work, { recursive: true, force: true });
}

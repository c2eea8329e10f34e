/**
 * Distillation benchmark — the two tables that say whether the teacher is worth it, one run:
 * 1. the scaling curve: the student on human labels only vs + teacher labels at 1×, 2×, 5×, 10× the
 *    number of human-labelled training pairs (test split, human labels only);
 * 2. the ROI table: per model (BM25, student-human, student-distilled, the teacher): quality, latency
 *    per pair and per query, and cost per 1,000 queries from measured CPU time.
 * The teacher here is the `local` one (not an LLM: an ensemble over expensive features, trained on the
 * human labels), because no LLM endpoint can be reached from this machine; with
 * DISTILRANK_LLM_* set, `distilrank label --teacher llm` feeds the same pipeline.
 * Run: `npm run bench:distill [data sets…]` (default icecat-chorus home-depot). Env:
 * DISTILRANK_BENCH_MULTIPLES (default 1,2,5,10), DISTILRANK_BENCH_NEGATIVES (default 20), DISTILRANK_CPU_USD_PER_HOUR
 * (default 0.04), DISTILRANK_BENCH_REPORT (an HTML report path). The study itself is src/studies/distill.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { studyReport } from '../src/cli/distill-commands.ts';
import { fmt, table } from '../src/core/index.ts';
import { DATASETS, resolveDatasetDir } from '../src/ingest/index.ts';
import { formatStudy, type DistillStudy, runDistillStudy } from '../src/studies/index.ts';
import { percentile } from '../src/eval/index.ts';
import { LabelCache, itemText } from '../src/label/index.ts';
import { Bm25Ranker } from '../src/retrieve/index.ts';
import { Store } from '../src/store/index.ts';
import { DEFAULT_NEGATIVES } from '../src/student/index.ts';
import { createLlmTeacher, resolveLlmTeacherConfig, trainLocalTeacher } from '../src/teacher/index.ts';
import { startFakeOpenAI } from '../test/fake-openai.ts';

const dataDir = process.env.DISTILRANK_DATA_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'data');
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = only.length ? only : ['icecat-chorus', 'home-depot'];
const multiples = (process.env.DISTILRANK_BENCH_MULTIPLES ?? '1,2,5,10').split(',').map(Number);
const negatives = Number(process.env.DISTILRANK_BENCH_NEGATIVES ?? 20);
const reportPath = process.env.DISTILRANK_BENCH_REPORT;
const cpuUsdPerHour = Number(process.env.DISTILRANK_CPU_USD_PER_HOUR ?? 0.04);
const work = mkdtempSync(join(tmpdir(), 'distilrank-bench-distill-'));
const cpu = cpus();

console.log(`distilrank distillation benchmark — ${new Date().toISOString()}`);
console.log(`machine: ${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; one thread`);
console.log(
  `teacher: local (NOT an LLM: MLP ensemble over expensive features, trained on human train labels); CPU priced at $${cpuUsdPerHour}/core-hour; multiples ${multiples.join(', ')}; ${negatives} sampled negatives per query in every student\n`,
);

const LLM_PRICE = { input: Number(process.env.DISTILRANK_BENCH_LLM_PRICE_INPUT ?? 0.15), output: Number(process.env.DISTILRANK_BENCH_LLM_PRICE_OUTPUT ?? 0.6) };

/** Score candidate pools with the llm teacher against the test server; cost per 1,000 queries. */
async function llmCostPerThousand(pools: Array<{ text: string; ids: string[] }>, store: Store, dataset: string) {
  const server = await startFakeOpenAI();
  const teacher = createLlmTeacher(
    resolveLlmTeacherConfig({
      baseURL: server.url,
      model: 'test-server',
      pricing: { inputPerMTok: LLM_PRICE.input, outputPerMTok: LLM_PRICE.output },
      mode: 'logprobs',
    }),
  );
  let usd = 0;
  let tokens = 0;
  let pairs = 0;
  const times: number[] = [];
  try {
    for (const p of pools) {
      const items = store.items(dataset, p.ids);
      const s = performance.now();
      for (const item of items) {
        const j = await teacher.judge({ queryId: '', queryText: p.text, itemId: item.id, itemText: itemText(item) });
        usd += j.cost.usd;
        tokens += j.cost.inputTokens + j.cost.outputTokens;
        pairs += 1;
      }
      times.push(performance.now() - s);
    }
  } finally {
    await server.close();
  }
  const total = times.reduce((a, b) => a + b, 0);
  return {
    usPerPair: (total * 1000) / pairs,
    p50: percentile(times, 0.5),
    p99: percentile(times, 0.99),
    tokensPerPair: tokens / pairs,
    usdPerThousand: (usd / pools.length) * 1000,
  };
}

const studies: DistillStudy[] = [];
const llmRows: string[][] = [];
try {
  for (const name of names) {
    const store = Store.open(join(work, `${name}.sqlite`), { create: true });
    store.ingest(DATASETS[name]!.load(await resolveDatasetDir(name, { dataDir, download: false })));
    const dataset = store.dataset(name);
    const cache = LabelCache.open(join(work, `${name}-labels.sqlite`), { create: true });
    const t0 = performance.now();
    const trained = await trainLocalTeacher({ dataset, dir: join(work, `${name}-teacher`) });
    console.log(`${name}: local teacher trained in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const study = await runDistillStudy({
      dataset,
      teacher: trained.teacher,
      teacherIsPriced: false,
      cache,
      outDir: join(work, name),
      multiples,
      negatives: { ...DEFAULT_NEGATIVES, perQuery: negatives },
      cpuUsdPerHour,
      onStage: (s) => console.log(`${name}: ${s}`),
    });
    studies.push(study);
    console.log(`${name}: teacher labelled ${study.pool.job.labelled} pool pairs in ${study.pool.seconds.toFixed(1)} s\n`);
    console.log(formatStudy(study) + '\n');

    // An LLM teacher's price per 1,000 queries: its real prompts for 100 BM25 candidates of 30 test
    // queries, answered by the OpenAI-compatible test server (a word-overlap rule: quality is not measured).
    const bm25 = new Bm25Ranker(dataset);
    const pools = store
      .queries(name, 'test')
      .slice(0, 30)
      .map((q) => ({ text: q.text, ids: bm25.retrieve(q.text, 100).map((c) => c.itemId) }));
    const llm = await llmCostPerThousand(pools, store, name);
    const distilled = study.roi.find((r) => r.kind === 'student' && r.model.startsWith('student (distilled'))!;
    llmRows.push([
      name,
      fmt(llm.usPerPair, 1),
      fmt(llm.p50, 2),
      fmt(llm.p99, 2),
      String(Math.round(llm.tokensPerPair)),
      `$${llm.usdPerThousand.toFixed(2)}`,
      `$${distilled.usdPerThousandQueries.toPrecision(2)}`,
      `${Math.round(llm.usdPerThousand / distilled.usdPerThousandQueries).toLocaleString('en-US')}×`,
    ]);
    cache.close();
    store.close();
  }
  console.log(
    `LLM teacher cost (its real requests for 100 candidates × 30 test queries, answered by the test server on 127.0.0.1; $${LLM_PRICE.input}/$${LLM_PRICE.output} per 1M input/output tokens; latency is the local round trip, not a real model's)`,
  );
  console.log(
    table(['data set', 'µs/pair', 'p50 ms/query', 'p99 ms/query', 'tokens/pair', '$/1k queries', 'distilled student $/1k', 'student cheaper by'], llmRows),
  );
  if (reportPath) {
    studyReport(resolve(reportPath), 'distilrank distillation benchmark', studies);
    console.log(`report: ${resolve(reportPath)}`);
  }
  console.log(`\npeak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

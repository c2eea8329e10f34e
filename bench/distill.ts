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
 * DISTILRANK_BENCH_MULTIPLES (default 1,2,5,10), DISTILRANK_CPU_USD_PER_HOUR (default 0.04).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fmt, table } from '../src/cli/format.ts';
import { DATASETS, resolveDatasetDir } from '../src/datasets/index.ts';
import { calibrateRanker, evaluate, evaluateLabels, percentile } from '../src/eval/index.ts';
import { LabelCache, buildPool, itemText, runLabelJob } from '../src/label/index.ts';
import { Bm25Ranker, type LevelPredictor, type Ranker, type ScoredItem } from '../src/retrieve/index.ts';
import { Store } from '../src/store/index.ts';
import { StudentRanker, trainStudent, writeStudentArtifact, type TeacherLabel } from '../src/student/index.ts';
import { createLlmTeacher, resolveLlmTeacherConfig, trainLocalTeacher, type LocalTeacher } from '../src/teacher/index.ts';
import { startFakeOpenAI } from '../test/fake-openai.ts';

const dataDir = process.env.DISTILRANK_DATA_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'data');
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = only.length ? only : ['icecat-chorus', 'home-depot'];
const multiples = (process.env.DISTILRANK_BENCH_MULTIPLES ?? '1,2,5,10').split(',').map(Number);
const cpuUsdPerHour = Number(process.env.DISTILRANK_CPU_USD_PER_HOUR ?? 0.04);
const work = mkdtempSync(join(tmpdir(), 'distilrank-bench-distill-'));
const cpu = cpus();

console.log(`distilrank distillation benchmark — ${new Date().toISOString()}`);
console.log(`machine: ${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; one thread`);
console.log(`teacher: local (NOT an LLM: MLP ensemble over expensive features, trained on human train labels); CPU priced at $${cpuUsdPerHour}/core-hour\n`);

/** A teacher as a LevelPredictor and Ranker (score = expected level), for the same evaluation code. */
function teacherModel(t: LocalTeacher, store: Store, dataset: string): Ranker & LevelPredictor {
  const bm25 = new Bm25Ranker(store, dataset);
  const texts = new Map<string, string>();
  const predict = async (queryText: string, itemIds: readonly string[]) => {
    const out = new Float32Array(itemIds.length * 5);
    for (const [i, itemId] of itemIds.entries()) {
      const j = await t.judge({ queryId: '', queryText, itemId, itemText: texts.get(itemId) ?? '' });
      out.set(j.distribution, i * 5);
    }
    return out;
  };
  const score = async (q: string, ids: readonly string[]): Promise<ScoredItem[]> => {
    const p = await predict(q, ids);
    return ids.map((itemId, i) => ({ itemId, score: [0, 1, 2, 3, 4].reduce((s, k) => s + p[i * 5 + k]! * (k + 1), 0) }));
  };
  return {
    name: 'teacher(local)',
    predictLevels: predict,
    score,
    async retrieve(q, k) {
      const ids = bm25.retrieve(q, 200).map((c) => c.itemId);
      return (await score(q, ids)).sort((a, b) => b.score - a.score).slice(0, k);
    },
  };
}

const LLM_PRICE = { input: Number(process.env.DISTILRANK_BENCH_LLM_PRICE_INPUT ?? 0.15), output: Number(process.env.DISTILRANK_BENCH_LLM_PRICE_OUTPUT ?? 0.6) };

/** Score candidate pools with the llm teacher against the test server; cost per 1,000 queries. */
async function llmCostPerThousand(pools: Array<{ text: string; ids: string[] }>, store: Store, dataset: string) {
  const server = await startFakeOpenAI();
  const teacher = createLlmTeacher(resolveLlmTeacherConfig({ baseURL: server.url, model: 'test-server', pricing: { inputPerMTok: LLM_PRICE.input, outputPerMTok: LLM_PRICE.output }, mode: 'logprobs' }));
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
  return { usPerPair: (total * 1000) / pairs, p50: percentile(times, 0.5), p99: percentile(times, 0.99), tokensPerPair: tokens / pairs, usdPerThousand: (usd / pools.length) * 1000 };
}

const curveRows: string[][] = [];
const roiRows: string[][] = [];
try {
  for (const name of names) {
    const store = Store.open(join(work, `${name}.sqlite`), { create: true });
    store.ingest(DATASETS[name]!.load(await resolveDatasetDir(name, { dataDir, download: false })));
    const cache = LabelCache.open(join(work, `${name}-labels.sqlite`), { create: true });
    const bm25 = new Bm25Ranker(store, name);

    let t0 = performance.now();
    const trainedTeacher = await trainLocalTeacher({ store, dataset: name, dir: join(work, `${name}-teacher`) });
    const teacherTrainS = (performance.now() - t0) / 1000;
    const teacher = trainedTeacher.teacher;

    const evalStudent = async (label: string, trained: Awaited<ReturnType<typeof trainStudent>>) => {
      const dir = join(work, `${name}-${label}`);
      writeStudentArtifact(dir, trained.onnx, trained.card);
      const s = await StudentRanker.load(store, name, dir);
      const re = (await evaluate({ store, dataset: name, split: 'test', protocol: 'rerank', ranker: s })).report;
      const rt = (await evaluate({ store, dataset: name, split: 'test', protocol: 'retrieval', ranker: s })).report;
      const lab = await evaluateLabels({ store, dataset: name, split: 'test', predictor: s });
      return { s, re, rt, lab };
    };

    t0 = performance.now();
    const human = await trainStudent({ store, dataset: name });
    const humanS = (performance.now() - t0) / 1000;
    const humanEval = await evalStudent('student-human', human);
    const humanPairs = human.card.split.train.pairs;
    curveRows.push([name, 'human only (+ sampled negatives)', String(humanPairs), '0', fmt(humanEval.re.metrics['nDCG@10']!), fmt(humanEval.rt.metrics['nDCG@10']!), fmt(humanEval.lab.metrics.accuracy), fmt(humanEval.lab.metrics.kappa_quadratic), fmt(humanS, 1)]);

    // The pool: enough top-K BM25 candidates per training query for the largest multiple.
    const trainQueries = store.queries(name, 'train').length;
    const k = Math.min(200, Math.ceil((Math.max(...multiples) * humanPairs) / trainQueries) + 5);
    const pool = buildPool(store, name, { k, queries: 'train' });
    t0 = performance.now();
    const job = await runLabelJob({ cache, teacher, pairs: pool, dataset: name, concurrency: 1 });
    const labelS = (performance.now() - t0) / 1000;
    const texts = new Map(store.queries(name).map((q) => [q.id, q.text]));
    const all: TeacherLabel[] = cache
      .labelsFor(name, teacher.name, teacher.model, teacher.promptVersion)
      .map((r) => ({ queryId: r.queryId, queryText: r.queryText ?? texts.get(r.queryId)!, itemId: r.itemId, distribution: r.distribution }));
    const ordered = all
      .map((l) => ({ l, h: createHash('sha1').update(`${l.queryId}\0${l.itemId}`).digest('hex') }))
      .sort((a, b) => (a.h < b.h ? -1 : 1))
      .map((x) => x.l);
    console.log(`${name}: local teacher trained in ${teacherTrainS.toFixed(1)} s; labelled ${job.labelled} pool pairs (k=${k}) in ${labelS.toFixed(1)} s = ${Math.round(job.labelled / labelS)} pairs/s`);

    let best: { m: number; ev: Awaited<ReturnType<typeof evalStudent>> } | null = null;
    for (const m of multiples) {
      const n = Math.min(ordered.length, m * humanPairs);
      t0 = performance.now();
      const trained = await trainStudent({
        store,
        dataset: name,
        labels: 'human+teacher',
        teacher: { labels: ordered.slice(0, n), weight: 1, name: teacher.name, model: teacher.model, promptVersion: teacher.promptVersion },
      });
      const secs = (performance.now() - t0) / 1000;
      const ev = await evalStudent(`student-distilled-${m}`, trained);
      curveRows.push([name, `human + teacher ${m}×`, String(humanPairs), String(trained.card.teacher?.pairs ?? 0), fmt(ev.re.metrics['nDCG@10']!), fmt(ev.rt.metrics['nDCG@10']!), fmt(ev.lab.metrics.accuracy), fmt(ev.lab.metrics.kappa_quadratic), fmt(secs, 1)]);
      if (!best || ev.rt.metrics['nDCG@10']! + ev.re.metrics['nDCG@10']! > best.ev.rt.metrics['nDCG@10']! + best.ev.re.metrics['nDCG@10']!) {
        if (best) await best.ev.s.close();
        best = { m, ev };
      } else await ev.s.close();
    }

    // ROI: quality (test), latency per pair / per query (100 BM25 candidates), CPU cost per 1,000 queries.
    const tq = teacherModel(teacher, store, name);
    const models: Array<{ label: string; ranker: Ranker; levels: LevelPredictor }> = [
      { label: 'bm25', ranker: bm25, levels: await calibrateRanker(bm25, store, name, 'train') },
      { label: 'student (human)', ranker: humanEval.s, levels: humanEval.s },
      { label: `student (distilled ${best!.m}×)`, ranker: best!.ev.s, levels: best!.ev.s },
      { label: 'teacher (local, not an LLM)', ranker: tq, levels: tq },
    ];
    const queries = store.queries(name, 'test').slice(0, 300);
    const pools = queries.map((q) => ({ text: q.text, ids: bm25.retrieve(q.text, 100).map((c) => c.itemId) }));
    const roi: Array<{ label: string; ndcg: number; row: string[] }> = [];
    for (const m of models) {
      const re = (await evaluate({ store, dataset: name, split: 'test', protocol: 'rerank', ranker: m.ranker })).report;
      const lab = await evaluateLabels({ store, dataset: name, split: 'test', predictor: m.levels });
      const times: number[] = [];
      let pairs = 0;
      const cpu0 = process.cpuUsage();
      for (const p of pools) {
        const s = performance.now();
        await m.ranker.score(p.text, p.ids);
        times.push(performance.now() - s);
        pairs += p.ids.length;
      }
      const cpuUs = process.cpuUsage(cpu0);
      const cpuSecondsPerQuery = (cpuUs.user + cpuUs.system) / 1e6 / pools.length;
      const total = times.reduce((a, b) => a + b, 0);
      roi.push({ label: m.label, ndcg: re.metrics['nDCG@10']!, row: [
        name,
        m.label,
        fmt(re.metrics['nDCG@10']!),
        fmt(lab.metrics.kappa_quadratic),
        fmt((total * 1000) / pairs, 1),
        fmt(percentile(times, 0.5), 2),
        fmt(percentile(times, 0.99), 2),
        `$${((cpuSecondsPerQuery * 1000 * cpuUsdPerHour) / 3600).toFixed(6)}`,
      ] });
    }
    // An LLM teacher's price per 1,000 queries: its real prompts for these candidates, answered by the
    // OpenAI-compatible test server (its answers are a word-overlap rule: quality is not measured).
    const llm = await llmCostPerThousand(pools.slice(0, 30), store, name);
    roi.push({ label: `teacher (llm via test server, $${LLM_PRICE.input}/$${LLM_PRICE.output} per 1M)`, ndcg: NaN, row: [
      name, `teacher (llm, test server)`, 'n/a', 'n/a', fmt(llm.usPerPair, 1), fmt(llm.p50, 2), fmt(llm.p99, 2),
      `$${llm.usdPerThousand.toFixed(2)} (${Math.round(llm.tokensPerPair)} tok/pair)`,
    ] });
    // The distilled student's share of the teacher's gain over BM25 (rerank nDCG@10).
    const base = roi[0]!.ndcg;
    const teacherGain = roi[3]!.ndcg - base;
    for (const r of roi) {
      const share = r.label.startsWith('bm25') || Number.isNaN(r.ndcg) ? '' : teacherGain <= 1e-9 ? 'n/a: teacher ≤ bm25' : `${Math.round(((r.ndcg - base) / teacherGain) * 100)}%`;
      roiRows.push([...r.row, share]);
    }
    await humanEval.s.close();
    await best!.ev.s.close();
    cache.close();
    store.close();
  }
  console.log('\nScaling curve (test split, human labels only; nDCG@10 rerank / retrieval; label metrics on judged test pairs)');
  console.log(table(['data set', 'training labels', 'human pairs', 'teacher pairs', 'rerank', 'retrieval', 'accuracy', 'kappa_quadratic', 'train s'], curveRows));
  console.log('\nROI (test split; latency: scoring 100 BM25 candidates per query, first 300 test queries, BM25 retrieval excluded; cost: measured CPU time)');
  console.log(table(['data set', 'model', 'nDCG@10 rerank', 'kappa_quadratic', 'µs/pair', 'p50 ms/query', 'p99 ms/query', 'CPU $/1k queries', 'share of teacher gain'], roiRows));
  console.log('The llm row: the llm teacher\'s real requests for 100 candidates × 30 test queries against the test server on 127.0.0.1 (no LLM is reachable here); cost = tokens × the configured price; latency is the local round trip, not a real model\'s.');
  console.log(`\npeak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

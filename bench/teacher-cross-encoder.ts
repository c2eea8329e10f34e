/**
 * onnx-cross-encoder teacher benchmark: judging throughput (pairs/s, one onnxruntime thread) of the
 * teacher's whole path — tokenisation with item-side truncation, padding, transformers.js, ONNX
 * Runtime, softmax — on home-depot test pairs (the seeded 70/10/20 split), three ways: judge() one pair
 * at a time, judgeMany() in batches, and the real labelling job (runLabelJob, micro-batched by the
 * calls in flight) into a temporary label cache.
 *
 * The model is the TINY TEST-BUILT cross-encoder of test/tiny-cross-encoder.ts (no weights can be
 * downloaded here): a WordPiece tokenizer over the pairs' words and a graph whose logits peak at
 * 1 + 4 × query coverage. Its agreement with the human labels is printed next to calibrated BM25 on
 * the same pairs only to show the path is wired end to end: its QUALITY IS MEANINGLESS, and a real
 * cross-encoder (MiniLM: 6 layers × 384) is far slower per pair than this graph.
 * Run: `npm run bench:xenc [-- --pairs=2000 --batch=32 --max-length=128]`. Never part of `npm test`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fmt, table } from '../src/core/index.ts';
import { DATASETS, resolveDatasetDir } from '../src/ingest/index.ts';
import { calibrateRanker, labelAgreement } from '../src/eval/index.ts';
import { itemText, LabelCache, runLabelJob } from '../src/label/index.ts';
import { createRanker } from '../src/models/index.ts';
import { Store } from '../src/store/index.ts';
import { CrossEncoderTeacher, type TeacherJudgment, type TeacherPair } from '../src/teacher/index.ts';
import { writeTinyCrossEncoder } from '../test/tiny-cross-encoder.ts';

const dataDir = process.env.DISTILRANK_DATA_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'data');
const arg = (name: string, dflt: number): number => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const wanted = arg('pairs', 2000);
const batch = arg('batch', 32);
const maxLength = arg('max-length', 128);
const dataset = 'home-depot';
const work = mkdtempSync(join(tmpdir(), 'distilrank-bench-xenc-'));
console.log(
  `distilrank onnx-cross-encoder benchmark — ${new Date().toISOString()}; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}`,
);
console.log(
  'model: the TINY TEST-BUILT cross-encoder (test/tiny-cross-encoder.ts): quality meaningless, speed of the teacher path only; one onnxruntime thread',
);

try {
  const store = Store.open(join(work, 'store.sqlite'), { create: true });
  let t0 = performance.now();
  store.ingest(DATASETS[dataset]!.load(await resolveDatasetDir(dataset, { dataDir, download: false })));
  console.log(`ingested ${dataset} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // whole test queries, in split order, until ~`wanted` judged pairs
  const judged = new Map<string, Array<{ itemId: string; level: number; expected: number }>>();
  for (const j of store.judgments(dataset, { split: 'test' })) {
    const list = judged.get(j.queryId) ?? [];
    list.push({ itemId: j.itemId, level: j.level, expected: j.soft ? j.soft.reduce((s, p, i) => s + p * (i + 1), 0) : j.level });
    judged.set(j.queryId, list);
  }
  const queries: Array<{ text: string; items: Array<{ itemId: string; level: number; expected: number }> }> = [];
  const pairs: TeacherPair[] = [];
  for (const q of store.queries(dataset, 'test')) {
    const items = judged.get(q.id);
    if (!items || pairs.length >= wanted) continue;
    queries.push({ text: q.text, items });
    const texts = new Map(
      store
        .items(
          dataset,
          items.map((i) => i.itemId),
        )
        .map((it) => [it.id, itemText(it)]),
    );
    for (const i of items) pairs.push({ queryId: q.id, queryText: q.text, itemId: i.itemId, itemText: texts.get(i.itemId) ?? '' });
  }
  const modelDir = join(work, 'tiny-xenc');
  writeTinyCrossEncoder(modelDir, { texts: pairs.flatMap((p) => [p.queryText, p.itemText]), maxLength });
  console.log(`${pairs.length} judged pairs of ${queries.length} test queries; window ${maxLength} tokens; batch ${batch}`);

  const fresh = () => new CrossEncoderTeacher({ dir: modelDir, threads: 1, maxBatch: batch });
  const timing: string[][] = [];
  const rate = (seconds: number) => fmt(pairs.length / seconds, 0);

  let teacher = fresh();
  t0 = performance.now();
  await teacher.load();
  const loadSeconds = (performance.now() - t0) / 1000;
  await teacher.judge(pairs[0]!); // warm-up
  t0 = performance.now();
  const one: TeacherJudgment[] = [];
  for (const p of pairs) one.push(await teacher.judge(p));
  let s = (performance.now() - t0) / 1000;
  timing.push(['judge(), one pair at a time', '1', rate(s), fmt((s / pairs.length) * 1000, 3)]);

  t0 = performance.now();
  const many = await teacher.judgeMany(pairs);
  s = (performance.now() - t0) / 1000;
  timing.push([`judgeMany(), batches of ${batch}`, String(batch), rate(s), fmt((s / pairs.length) * 1000, 3)]);
  const tokens = many.reduce((n, j) => n + j.cost.inputTokens, 0);
  const same = many.every((j, i) => j.distribution.every((p, k) => Math.abs(p - one[i]!.distribution[k]!) < 1e-6));
  await teacher.close();

  teacher = fresh();
  await teacher.load();
  const cache = LabelCache.open(join(work, 'labels.sqlite'), { create: true });
  t0 = performance.now();
  const summary = await runLabelJob({ cache, teacher, pairs, dataset, concurrency: batch });
  s = (performance.now() - t0) / 1000;
  timing.push([
    `label job, concurrency ${batch} (micro-batched, cache writes)`,
    `${fmt(teacher.stats.pairs / teacher.stats.passes, 1)} (mean)`,
    fmt(summary.labelled / s, 0),
    fmt((s / Math.max(1, summary.labelled)) * 1000, 3),
  ]);
  cache.close();
  await teacher.close();

  // the same pairs' agreement with the human labels, beside calibrated BM25 (trained on train)
  const truth = queries.flatMap((q) => q.items.map((i) => i.level));
  const truthExpected = queries.flatMap((q) => q.items.map((i) => i.expected));
  const teacherProbs = many.flatMap((j) => j.distribution);
  const handle = store.dataset(dataset);
  const bm25 = await calibrateRanker(createRanker('bm25', handle), handle, 'train');
  t0 = performance.now();
  const bm25Probs: number[] = [];
  for (const q of queries)
    bm25Probs.push(
      ...(await bm25.predictLevels(
        q.text,
        q.items.map((i) => i.itemId),
      )),
    );
  const bm25Seconds = (performance.now() - t0) / 1000;
  timing.push(['bm25+isotonic(train) predictLevels (baseline)', 'by query', rate(bm25Seconds), fmt((bm25Seconds / pairs.length) * 1000, 3)]);
  const quality = [
    ['onnx-cross-encoder (tiny test-built, meaningless)', labelAgreement(teacherProbs, truth, truthExpected)],
    ['bm25+isotonic(train)', labelAgreement(bm25Probs, truth, truthExpected)],
  ] as const;

  console.log(
    `\nJudging throughput on ${dataset} test pairs (one thread; model load ${fmt(loadSeconds, 2)} s; mean ${fmt(tokens / pairs.length, 1)} tokens per pair; batched = one by one: ${same})`,
  );
  console.log(table(['path', 'pairs per pass', 'pairs/s', 'ms/pair'], timing));
  console.log(`\nAgreement with the human labels, the same ${pairs.length} pairs (${dataset}, test split)`);
  console.log(
    table(
      ['model', 'accuracy', 'κ quadratic', 'RMSE E[level]'],
      quality.map(([name, r]) => [name, fmt(r.metrics.accuracy), fmt(r.metrics.kappa_quadratic), fmt(r.metrics.RMSE_expected_level)]),
    ),
  );
  console.log(`rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`);
  store.close();
} finally {
  rmSync(work, { recursive: true, force: true });
}

/**
 * `llama` teacher throughput benchmark: pairs judged per second on the CPU, through the real labelling
 * job (runLabelJob: label cache, concurrency), with node-llama-cpp 3.21.1.
 *
 * THE MODEL IS A TINY TEST-BUILT ONE (test/tiny-llama.ts: llama architecture, 1 block, n_embd 32, a
 * vocabulary of about 1,100 tokens), not a real LLM: no GGUF weights exist on this machine. Its
 * labels mean nothing, so no quality is reported; the numbers measure what distilrank and
 * node-llama-cpp add around a forward pass (chat template, tokenising, KV-cache prefix reuse,
 * probabilities, cache writes), with prompts as long as a real tokenizer's would be a few times over.
 * A real 7B model on a CPU is two to three orders of magnitude slower per token.
 *
 * Rows: sequences × job concurrency, plus an ablation without KV-cache prefix reuse (every prompt
 * evaluated in full). Pairs: the first N of the label pool (top-K BM25 candidates of training
 * queries) of a data set, a fresh label cache per row.
 *
 * Run: `npm run bench:teacher-llama`. Env: DISTILRANK_BENCH_DATASET (default icecat-chorus),
 * DISTILRANK_BENCH_PAIRS (default 300), DISTILRANK_BENCH_K (default 10), DISTILRANK_LLAMA_THREADS
 * (default: node-llama-cpp's choice), DISTILRANK_DATA_DIR.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fmt, table } from '../src/core/index.ts';
import { DATASETS, resolveDatasetDir } from '../src/ingest/index.ts';
import { buildPool, LabelCache, runLabelJob } from '../src/label/index.ts';
import { Store } from '../src/store/index.ts';
import { createLlamaTeacher, llamaTeacherConfigFromEnv } from '../src/teacher/index.ts';
import { CHATML_TEMPLATE, writeTinyLlama } from '../test/tiny-llama.ts';

const dataDir = process.env.DISTILRANK_DATA_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'data');
const datasetName = process.env.DISTILRANK_BENCH_DATASET ?? 'icecat-chorus';
const nPairs = Number(process.env.DISTILRANK_BENCH_PAIRS ?? 300);
const k = Number(process.env.DISTILRANK_BENCH_K ?? 10);
const threads = process.env.DISTILRANK_LLAMA_THREADS;
if (!Number.isInteger(nPairs) || nPairs < 1 || !Number.isInteger(k) || k < 1)
  throw new Error('DISTILRANK_BENCH_PAIRS and DISTILRANK_BENCH_K must be positive integers');
const adapter = DATASETS[datasetName];
if (!adapter) throw new Error(`unknown data set ${datasetName}: one of ${Object.keys(DATASETS).join(', ')}`);

const cpu = cpus();
console.log(`distilrank llama teacher throughput benchmark — ${new Date().toISOString()}`);
console.log(
  `machine: ${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; CPU only, threads: ${threads ?? "node-llama-cpp's default"}`,
);

const work = mkdtempSync(join(tmpdir(), 'distilrank-bench-llama-'));
try {
  // A tiny model whose answer depends on the whole prompt (so nothing can be skipped), with a chat template.
  const modelPath = join(work, 'tiny-test-model.gguf');
  const model = writeTinyLlama(modelPath, { logits: { '5': 0, '1': 0 }, attention: 'mean', promptWeights: { '5': 6, '1': -6 }, chatTemplate: CHATML_TEMPLATE });
  console.log(
    `model: TINY TEST-BUILT GGUF (test/tiny-llama.ts), llama architecture, 1 block, n_embd ${model.nEmbd}, vocabulary ${model.tokens.length} tokens, f32 — not a real LLM; labels not meaningful`,
  );

  const store = Store.open(join(work, `${datasetName}.sqlite`), { create: true });
  let pairs;
  try {
    store.ingest(adapter.load(await resolveDatasetDir(datasetName, { dataDir, download: false })));
    pairs = buildPool(store.dataset(datasetName), { k, queries: 'train' }).slice(0, nPairs);
  } finally {
    store.close();
  }
  console.log(`pairs: the first ${pairs.length} of ${datasetName}'s label pool (top-${k} BM25 candidates of training queries), a fresh label cache per row\n`);

  const rows: string[][] = [];
  const configs = [
    { sequences: 1, concurrency: 1, reusePrefix: true },
    { sequences: 1, concurrency: 4, reusePrefix: true },
    { sequences: 2, concurrency: 4, reusePrefix: true },
    { sequences: 1, concurrency: 4, reusePrefix: false },
  ];
  for (const c of configs) {
    const env = {
      DISTILRANK_LLAMA_MODEL: modelPath,
      DISTILRANK_LLAMA_CONTEXT_SIZE: '4096',
      DISTILRANK_LLAMA_SEQUENCES: String(c.sequences),
      ...(threads ? { DISTILRANK_LLAMA_THREADS: threads } : {}),
    };
    const teacher = createLlamaTeacher(llamaTeacherConfigFromEnv(env), { reusePrefix: c.reusePrefix });
    const cache = LabelCache.open(join(work, `labels-${rows.length}.sqlite`), { create: true });
    try {
      const t0 = performance.now();
      await teacher.load();
      const loadSeconds = (performance.now() - t0) / 1000;
      const t1 = performance.now();
      const summary = await runLabelJob({ cache, teacher, pairs, dataset: datasetName, concurrency: c.concurrency });
      const seconds = (performance.now() - t1) / 1000;
      if (summary.labelled !== pairs.length)
        throw new Error(`only ${summary.labelled} of ${pairs.length} pairs labelled (${summary.failed} failed, stopped: ${summary.stoppedBy})`);
      const tokens = summary.cost.inputTokens;
      rows.push([
        String(c.sequences),
        String(c.concurrency),
        c.reusePrefix ? 'yes' : 'no (ablation)',
        fmt(loadSeconds, 2),
        fmt(pairs.length / seconds, 1),
        fmt(tokens / pairs.length, 0),
        fmt(tokens / seconds, 0),
        fmt((summary.cost.seconds / summary.cost.calls) * 1000, 1),
      ]);
    } finally {
      cache.close();
      await teacher.close();
    }
  }
  console.log(table(['sequences', 'concurrency', 'prefix reuse', 'load s', 'pairs/s', 'prompt tokens/pair', 'prompt tokens/s', 'ms/pair (evaluating)'], rows));
  console.log('\nprompt tokens/s counts every prompt token; with prefix reuse most of them come from the KV cache, not a forward pass.');
} finally {
  rmSync(work, { recursive: true, force: true });
}

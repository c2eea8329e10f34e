/**
 * Student benchmark: for each data set, train the student on human labels (train split, early stop on
 * dev) and compare it with BM25 and a random floor on the TEST split, both protocols, all in one run;
 * then the student's speed: features + ONNX scoring throughput and re-ranking latency on one core,
 * and training time and memory. Run: `npm run bench:student [data sets…]`. Never part of `npm test`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fmt, table } from '../src/core/index.ts';
import { DATASETS, resolveDatasetDir } from '../src/ingest/index.ts';
import { calibrateRanker, evaluate, evaluateLabels, percentile, type Protocol } from '../src/eval/index.ts';
import { Bm25Ranker, RandomRanker, type LevelPredictor, type Ranker } from '../src/retrieve/index.ts';
import { Store, type Dataset } from '../src/store/index.ts';
import { DEFAULT_NEGATIVES, StudentFeatures, StudentRanker, trainStudent, writeStudentArtifact } from '../src/student/index.ts';
import { OnnxScorer } from '../src/ml/index.ts';

const dataDir = process.env.DISTILRANK_DATA_DIR ?? resolve(import.meta.dirname, '..', '..', 'shared', 'data');
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = only.length ? only : ['home-depot', 'icecat-chorus', 'cranfield'];
const work = mkdtempSync(join(tmpdir(), 'distilrank-bench-student-'));
const cpu = cpus();

console.log(`distilrank student benchmark — ${new Date().toISOString()}`);
console.log(
  `machine: ${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; one thread for features, training (tfjs wasm) and ONNX Runtime`,
);
console.log(`data: ${dataDir}; test split of each data set, seeded by query (70/10/20)\n`);

const qualityRows: string[][] = [];
const trainRows: string[][] = [];
let speed: { throughput: string[][]; latency: string[][] } | null = null;

try {
  for (const name of names) {
    const store = Store.open(join(work, `${name}.sqlite`), { create: true });
    store.ingest(DATASETS[name]!.load(await resolveDatasetDir(name, { dataDir, download: false })));
    const dataset = store.dataset(name);
    const rssBefore = process.memoryUsage().rss;
    const t0 = performance.now();
    const trained = await trainStudent({ dataset });
    const trainSeconds = (performance.now() - t0) / 1000;
    const dir = join(work, `${name}-student`);
    writeStudentArtifact(dir, trained.onnx, trained.card);
    const c = trained.card;
    trainRows.push([
      name,
      String(c.split.train.pairs),
      String(c.negatives.train),
      String(c.split.dev.pairs),
      `${c.training.bestEpoch}/${c.training.epochs}`,
      fmt(trainSeconds, 1),
      `${c.training.peakRssMiB} MiB (Δ ${Math.round((process.memoryUsage().rss - rssBefore) / 2 ** 20)} MiB)`,
      c.onnxParityMaxAbsDiff.toExponential(1),
    ]);

    const student = await StudentRanker.load(dataset, dir);
    // Ablation: the same student without sampled negatives (judged pairs only).
    const plainDir = join(work, `${name}-student-no-negatives`);
    const plainTrained = await trainStudent({ dataset, negatives: { ...DEFAULT_NEGATIVES, perQuery: 0 } });
    writeStudentArtifact(plainDir, plainTrained.onnx, plainTrained.card);
    const plain = await StudentRanker.load(dataset, plainDir);
    const plainNamed: Ranker & LevelPredictor = {
      name: 'student(human, no negatives)',
      retrieve: (q, k) => plain.retrieve(q, k),
      score: (q, ids) => plain.score(q, ids),
      predictLevels: (q, ids) => plain.predictLevels(q, ids),
    };
    const bm25 = new Bm25Ranker(dataset);
    const models: Array<{ ranker: Ranker; levels: () => Promise<LevelPredictor> }> = [
      { ranker: new RandomRanker(dataset), levels: () => calibrateRanker(new RandomRanker(dataset), dataset, 'train') },
      { ranker: bm25, levels: () => calibrateRanker(bm25, dataset, 'train') },
      { ranker: student, levels: () => Promise.resolve(student) },
      { ranker: plainNamed, levels: () => Promise.resolve(plainNamed) },
    ];
    const linear = dataset.scale.name === 'home-depot-mean-1-3';
    for (const m of models) {
      const labels = await evaluateLabels({ dataset, split: 'test', predictor: await m.levels() });
      for (const protocol of ['rerank', 'retrieval'] as Protocol[]) {
        const ev = await evaluate({ dataset, split: 'test', protocol, ranker: m.ranker });
        qualityRows.push([
          name,
          protocol === 'retrieval' && (m.ranker === student || m.ranker === plainNamed) ? `retrieval (bm25@${student.candidates})` : protocol,
          m.ranker.name,
          String(ev.report.queries),
          fmt(ev.report.metrics['nDCG@10']!),
          ...(protocol === 'rerank'
            ? [
                fmt(labels.metrics.accuracy),
                fmt(labels.metrics.kappa_quadratic),
                fmt(labels.metrics.RMSE_expected_level),
                // Home Depot's native scale is 1–3: one level step is half a native point.
                linear ? fmt(labels.metrics.RMSE_expected_level / 2) : '',
              ]
            : ['', '', '', '']),
        ]);
      }
    }

    if (name === 'home-depot') speed = await measureSpeed(dataset, dir, student, bm25);
    await student.close();
    await plain.close();
    store.close();
  }

  console.log('Quality on the test split (label metrics on judged test pairs; BM25 and random are calibrated to levels by isotonic regression on train)');
  console.log(table(['data set', 'protocol', 'model', 'queries', 'nDCG@10', 'accuracy', 'kappa_quadratic', 'RMSE E[level]', 'RMSE 1–3 scale'], qualityRows));
  console.log('\nTraining (features of every judged train/dev pair + sampled negatives, tfjs wasm, early stopping on dev, ONNX export + parity check)');
  console.log(table(['data set', 'train pairs', 'negatives', 'dev pairs', 'best/epochs', 'seconds', 'peak RSS', 'ONNX max |Δp|'], trainRows));
  if (speed) {
    console.log('\nSpeed on home-depot test queries, one core: features + ONNX scoring of BM25 candidates');
    console.log(table(['candidates/query', 'queries', 'pairs/s', 'features share'], speed.throughput));
    console.log('\nRe-ranking latency per query in-process (features + ONNX; BM25 retrieval not included)');
    console.log(table(['candidates', 'p50 ms', 'p99 ms', 'max ms'], speed.latency));
  }
  console.log(`\npeak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

async function measureSpeed(dataset: Dataset, dir: string, student: StudentRanker, bm25: Bm25Ranker) {
  const extractor = StudentFeatures.fromStore(dataset, { priorJudgments: dataset.storedJudgments({ split: 'train' }), embedding: null });
  const scorer = await OnnxScorer.load((await import('../src/student/index.ts')).readStudentArtifact(dir).onnx);
  const queries = dataset.storedQueries('test');
  const throughput: string[][] = [];
  const latency: string[][] = [];
  for (const k of [100, 400]) {
    const pools = queries.map((q) => ({ text: q.text, ids: bm25.retrieve(q.text, k).map((c) => c.itemId) }));
    // warm-up
    for (const p of pools.slice(0, 50)) await scorer.predict(extractor.extract({ text: p.text }, p.ids), p.ids.length);
    let pairs = 0;
    let featureMs = 0;
    const times: number[] = [];
    const t0 = performance.now();
    for (const p of pools) {
      const s = performance.now();
      const x = extractor.extract({ text: p.text }, p.ids);
      const f = performance.now();
      await scorer.predict(x, p.ids.length);
      const e = performance.now();
      featureMs += f - s;
      times.push(e - s);
      pairs += p.ids.length;
    }
    const total = performance.now() - t0;
    throughput.push([String(k), String(pools.length), Math.round(pairs / (total / 1000)).toLocaleString('en-US'), `${Math.round((featureMs / total) * 100)}%`]);
    latency.push([String(k), fmt(percentile(times, 0.5), 3), fmt(percentile(times, 0.99), 3), fmt(Math.max(...times), 2)]);
  }
  void student;
  await scorer.close();
  return { throughput, latency };
}

/**
 * Student core benchmark (never part of `npm test`): `npx tsx bench/student-core.ts [rows] [dims]`.
 *  - tfjs (wasm) training time for 1 epoch on rows × dims random features, default MLP config;
 *  - onnxruntime-node (1 intra-op thread) throughput for 100k rows in one call;
 *  - latency p50/p99 of batches of 100 and 400 rows.
 */
import { mulberry32 } from '../src/core/index.ts';
import { exportOnnx, initTfBackend, OnnxScorer, predictJs, trainMlp, type TrainingSet } from '../src/ml/index.ts';

const rows = Number(process.argv[2] ?? 200_000);
const dims = Number(process.argv[3] ?? 40);

function randomSet(n: number, seed: number): TrainingSet {
  const rand = mulberry32(seed);
  const features = Float32Array.from({ length: n * dims }, () => rand() * 4 - 2);
  const targets = new Float32Array(n * 5);
  for (let r = 0; r < n; r++) {
    // a soft label around a level that depends on a few features
    const s = (features[r * dims]! + features[r * dims + 1]! - features[r * dims + 2]!) / 2;
    const level = Math.max(0, Math.min(4, Math.round(s + 2)));
    targets[r * 5 + level] = 0.7;
    targets[r * 5 + (level === 4 ? 3 : level + 1)] = 0.3;
  }
  return { features, rows: n, dims, targets };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

const { backend } = await initTfBackend();
const train = randomSet(rows, 1);
const dev = randomSet(Math.max(1000, Math.floor(rows / 10)), 2);
let t = performance.now();
const model = await trainMlp(train, dev, { epochs: 1 });
const trainS = (performance.now() - t) / 1000;
console.log(
  `train: ${rows} × ${dims}, hidden [${model.config.hidden.join(', ')}], batch ${model.config.batchSize}, 1 epoch on tfjs-${backend}: ${trainS.toFixed(2)} s (incl. dev loss on ${dev.rows} rows)`,
);

const names = Array.from({ length: dims }, (_, i) => `f${i}`);
const bytes = exportOnnx(model, { featureNames: names });
const scorer = await OnnxScorer.load(bytes);
const big = randomSet(100_000, 3).features;
await scorer.predict(big.subarray(0, 1000 * dims), 1000); // warm-up
const runs: number[] = [];
for (let i = 0; i < 5; i++) {
  t = performance.now();
  await scorer.predict(big, 100_000);
  runs.push(performance.now() - t);
}
runs.sort((a, b) => a - b);
const med = runs[2]!;
console.log(
  `ORT (1 thread): 100k rows in one call: median ${med.toFixed(1)} ms over 5 runs → ${(((100_000 / med) * 1000) / 1e6).toFixed(2)}M rows/s; model ${bytes.length} bytes`,
);

for (const batch of [1, 100, 400]) {
  const lat: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const off = ((i * batch) % (100_000 - batch)) * dims;
    const x = big.subarray(off, off + batch * dims);
    t = performance.now();
    await scorer.predict(x, batch);
    lat.push(performance.now() - t);
  }
  lat.splice(0, 200); // warm-up
  lat.sort((a, b) => a - b);
  console.log(
    `ORT (1 thread): batch ${batch}: p50 ${(percentile(lat, 0.5) * 1000).toFixed(0)} µs, p99 ${(percentile(lat, 0.99) * 1000).toFixed(0)} µs (${lat.length} calls)`,
  );
}

t = performance.now();
predictJs(model, big, 100_000);
console.log(`predictJs (pure JS reference): 100k rows in ${(performance.now() - t).toFixed(0)} ms`);
await scorer.close();

/**
 * The student's core: a small MLP trained on soft 5-level relevance labels with TensorFlow.js on
 * the WASM backend. Feature extraction happens elsewhere; this file receives row-major matrices.
 *
 * Everything that decides the result is ours and seeded: the glorot initialisation (own PRNG per
 * layer), the per-epoch shuffle, the dropout seeds. tfjs-backend-wasm runs single-threaded in Node
 * (no SharedArrayBuffer threads), so the same data, config and seed give bit-identical weights.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { DistilrankError, mulberry32 } from '../core/index.ts';

/** Number of relevance levels (L1..L5): the width of targets and of the model's output. */
export const LEVELS = 5;
/** Fewer training rows than this is refused: no model worth exporting can be learnt from them. */
export const MIN_TRAINING_ROWS = 20;
/** Floor for the per-feature standard deviation (constant features). */
export const STD_FLOOR = 1e-6;
/** Tolerance on each target row's sum. */
export const TARGET_SUM_TOLERANCE = 1e-3;

/** Row-major feature matrix plus soft targets (rows × 5 distributions over L1..L5, each row sums to 1) and optional per-row weights. */
export interface TrainingSet {
  features: Float32Array;
  rows: number;
  dims: number;
  targets: Float32Array;
  weights?: Float32Array;
}

export interface MlpConfig {
  /** Widths of the hidden (ReLU) layers, in order. */
  hidden: number[];
  /** Maximum number of passes over the training rows. */
  epochs: number;
  batchSize: number;
  /** Adam learning rate. */
  learningRate: number;
  /** Stop once this many epochs in a row have not lowered the dev loss (0 behaves like 1). */
  patience: number;
  seed: number;
  /** L2 penalty on the dense weights (not biases), added to the loss. */
  l2?: number;
  /** Dropout rate after each hidden layer, training only. */
  dropout?: number;
}

export const DEFAULT_MLP_CONFIG: Readonly<MlpConfig> = Object.freeze({
  hidden: Object.freeze([64, 32]) as unknown as number[],
  epochs: 60,
  batchSize: 256,
  learningRate: 1e-3,
  patience: 5,
  seed: 42,
  l2: 0,
  dropout: 0,
});

export interface DenseLayer {
  /** in × out, row-major. */
  weights: Float32Array;
  bias: Float32Array;
  inputs: number;
  outputs: number;
}

export interface EpochStats {
  epoch: number;
  /** Mean (weighted) soft cross-entropy over the epoch's batches, as trained (without the L2 term). */
  trainLoss: number;
  /** Weighted soft cross-entropy on the whole dev set after the epoch. */
  devLoss: number;
}

export interface TrainedMlp {
  dims: number;
  /** Feature normalisation, part of the model: x' = (x - mean) / std (std floored at 1e-6). Computed on the training rows. */
  mean: Float32Array;
  std: Float32Array;
  /** Dense layers in order: weights (in × out, row-major) and bias; hidden ReLU; last layer outputs 5 logits (softmax → P(L1..L5)). */
  layers: DenseLayer[];
  history: EpochStats[];
  /** 1-based epoch whose weights were kept (the lowest dev loss). */
  bestEpoch: number;
  config: MlpConfig;
  /** The tfjs backend that trained it ('wasm', or 'cpu' when wasm could not start). */
  backend: string;
  /** Things a user should know about the run (e.g. the wasm fallback). */
  notes: string[];
}

// ---------------------------------------------------------------------------------------------
// backend

let backendReady: Promise<{ backend: string; notes: string[] }> | undefined;

/**
 * Start the tfjs WASM backend once per process (the .wasm files come from the installed package,
 * never the network). Falls back to the pure-JS 'cpu' backend, with a note, if WASM fails.
 */
export function initTfBackend(): Promise<{ backend: string; notes: string[] }> {
  backendReady ??= (async () => {
    const notes: string[] = [];
    try {
      const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
      setWasmPaths(`${dirname(entry)}/`);
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        return { backend: 'wasm', notes };
      }
      notes.push('tfjs: the wasm backend did not start; training on the pure-JS cpu backend (about 4× slower)');
    } catch (e) {
      notes.push(`tfjs: the wasm backend failed (${(e as Error).message}); training on the pure-JS cpu backend (about 4× slower)`);
    }
    await tf.setBackend('cpu');
    await tf.ready();
    for (const n of notes) console.warn(n);
    return { backend: 'cpu', notes };
  })();
  return backendReady;
}

// ---------------------------------------------------------------------------------------------
// seeded randomness (mulberry32 lives in src/core/random.ts)

/** Derive a sub-seed from a seed and a purpose/index (so layers and epochs get independent streams). */
function subSeed(seed: number, ...parts: number[]): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

/** Glorot-uniform init with an explicit seed: U(-l, l), l = sqrt(6 / (in + out)). */
function glorotUniform(inputs: number, outputs: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const limit = Math.sqrt(6 / (inputs + outputs));
  const w = new Float32Array(inputs * outputs);
  for (let i = 0; i < w.length; i++) w[i] = (rand() * 2 - 1) * limit;
  return w;
}

function shuffledOrder(n: number, seed: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rand = mulberry32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

// ---------------------------------------------------------------------------------------------
// validation

function badInput(message: string, field: string | undefined, hint: string): DistilrankError {
  return new DistilrankError('BAD_INPUT', message, field === undefined ? { hint } : { field, hint });
}

function isNonNegInt(n: number): boolean {
  return Number.isInteger(n) && n >= 0;
}

/** Shape checks of one set (lengths agree with rows and dims). */
function checkShape(set: TrainingSet, name: string): void {
  if (!isNonNegInt(set.rows) || !Number.isInteger(set.dims) || set.dims < 1) {
    throw badInput(`the ${name} set has rows=${set.rows}, dims=${set.dims}`, undefined, 'rows must be a whole number ≥ 0 and dims ≥ 1');
  }
  if (set.features.length !== set.rows * set.dims) {
    throw badInput(
      `the ${name} set's features hold ${set.features.length} values, expected rows × dims = ${set.rows} × ${set.dims}`,
      'features',
      'pass a row-major matrix with exactly rows × dims values',
    );
  }
  if (set.targets.length !== set.rows * LEVELS) {
    throw badInput(
      `the ${name} set's targets hold ${set.targets.length} values, expected rows × 5 = ${set.rows * LEVELS}`,
      'targets',
      'pass one distribution over L1..L5 per row',
    );
  }
  if (set.weights !== undefined && set.weights.length !== set.rows) {
    throw badInput(`the ${name} set has ${set.weights.length} weights for ${set.rows} rows`, 'weights', 'pass one weight per row, or none');
  }
}

/** Value checks of one set: finite features, targets that are distributions, usable weights. */
function checkValues(set: TrainingSet, name: string): void {
  const { features, rows, dims, targets, weights } = set;
  for (let i = 0; i < features.length; i++) {
    if (!Number.isFinite(features[i]!)) {
      // report the first row at fault, and its first bad column
      const row = Math.floor(i / dims);
      const col = i % dims;
      throw badInput(
        `feature column ${col} is ${String(features[i])} in row ${row} of the ${name} set (the first row with a non-finite value)`,
        `features[${col}]`,
        'fix the feature extractor so it never emits NaN or Infinity (e.g. guard divisions and logs), or impute the value',
      );
    }
  }
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let k = 0; k < LEVELS; k++) {
      const t = targets[r * LEVELS + k]!;
      if (!Number.isFinite(t) || t < 0) {
        throw badInput(`target L${k + 1} of row ${r} of the ${name} set is ${t}`, 'targets', 'targets are probabilities: finite and ≥ 0');
      }
      sum += t;
    }
    if (Math.abs(sum - 1) > TARGET_SUM_TOLERANCE) {
      throw badInput(
        `the targets of row ${r} of the ${name} set sum to ${sum.toFixed(6)}, not 1`,
        'targets',
        `each row must be a distribution over L1..L5 summing to 1 (± ${TARGET_SUM_TOLERANCE}); normalise the soft labels`,
      );
    }
  }
  if (weights !== undefined) {
    let total = 0;
    for (let r = 0; r < rows; r++) {
      const w = weights[r]!;
      if (!Number.isFinite(w) || w < 0) throw badInput(`the weight of row ${r} of the ${name} set is ${w}`, 'weights', 'weights must be finite and ≥ 0');
      total += w;
    }
    if (rows > 0 && total <= 0) throw badInput(`every weight of the ${name} set is 0`, 'weights', 'give at least one row a positive weight');
  }
}

function argmax5(t: Float32Array, r: number): number {
  let best = 0;
  for (let k = 1; k < LEVELS; k++) if (t[r * LEVELS + k]! > t[r * LEVELS + best]!) best = k;
  return best;
}

/** All checks on a train/dev pair, cheapest and most telling first. Throws BAD_INPUT. */
export function validateTrainingData(train: TrainingSet, dev: TrainingSet): void {
  checkShape(train, 'training');
  checkShape(dev, 'dev');
  if (train.rows < MIN_TRAINING_ROWS) {
    throw badInput(
      `too few labels: ${train.rows} training rows (at least ${MIN_TRAINING_ROWS} are needed to train the student)`,
      undefined,
      'label more query–item pairs (run the teacher over more pairs or add judgments) before training',
    );
  }
  if (dev.rows === 0) {
    throw badInput(
      'the dev split has no labelled pairs',
      undefined,
      'label some pairs of dev-split queries (or change the split fractions) so early stopping has a dev loss to watch',
    );
  }
  if (train.dims !== dev.dims) {
    throw badInput(
      `the training set has ${train.dims} features per row but the dev set has ${dev.dims}`,
      'dims',
      'extract both splits with the same feature set',
    );
  }
  checkValues(train, 'training');
  checkValues(dev, 'dev');
  const first = argmax5(train.targets, 0);
  let single = true;
  for (let r = 1; r < train.rows && single; r++) if (argmax5(train.targets, r) !== first) single = false;
  if (single) {
    throw badInput(
      `the training labels have a single class: every row's most likely level is L${first + 1}`,
      'targets',
      'a ranker needs contrast: add pairs at other relevance levels (e.g. random non-relevant items as L1)',
    );
  }
}

function resolveConfig(config: Partial<MlpConfig> | undefined): MlpConfig {
  const c: MlpConfig = { ...DEFAULT_MLP_CONFIG, hidden: [...DEFAULT_MLP_CONFIG.hidden], ...config };
  c.hidden = [...c.hidden];
  c.l2 ??= 0;
  c.dropout ??= 0;
  const bad = (field: string, hint: string): DistilrankError =>
    new DistilrankError('BAD_OPTION', `invalid MLP setting ${field}=${JSON.stringify(c[field as keyof MlpConfig])}`, { field, hint });
  if (!c.hidden.every((h) => Number.isInteger(h) && h >= 1)) throw bad('hidden', 'hidden layer widths are whole numbers ≥ 1');
  if (!Number.isInteger(c.epochs) || c.epochs < 1) throw bad('epochs', 'epochs is a whole number ≥ 1');
  if (!Number.isInteger(c.batchSize) || c.batchSize < 1) throw bad('batchSize', 'batchSize is a whole number ≥ 1');
  if (!(c.learningRate > 0 && Number.isFinite(c.learningRate))) throw bad('learningRate', 'learningRate is a positive number, e.g. 0.001');
  if (!Number.isInteger(c.patience) || c.patience < 0) throw bad('patience', 'patience is a whole number ≥ 0');
  if (!Number.isFinite(c.seed)) throw bad('seed', 'seed is a number');
  if (!(c.l2 >= 0 && Number.isFinite(c.l2))) throw bad('l2', 'l2 is a number ≥ 0');
  if (!(c.dropout >= 0 && c.dropout < 1)) throw bad('dropout', 'dropout is a rate in [0, 1)');
  return c;
}

// ---------------------------------------------------------------------------------------------
// normalisation

/** Per-column mean and std (population, floored at STD_FLOOR) of a row-major matrix, in float64. */
export function featureStats(features: Float32Array, rows: number, dims: number): { mean: Float32Array; std: Float32Array } {
  const sum = new Float64Array(dims);
  for (let r = 0; r < rows; r++) for (let c = 0; c < dims; c++) sum[c]! += features[r * dims + c]!;
  const mean64 = sum.map((s) => s / rows);
  const sq = new Float64Array(dims);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < dims; c++) {
      const d = features[r * dims + c]! - mean64[c]!;
      sq[c]! += d * d;
    }
  }
  const mean = Float32Array.from(mean64);
  const std = new Float32Array(dims);
  for (let c = 0; c < dims; c++) std[c] = Math.max(Math.sqrt(sq[c]! / rows), STD_FLOOR);
  return { mean, std };
}

/** x' = (x - mean) / std, element-wise in float32 (the same arithmetic as the ONNX Sub → Div). */
export function normalise(features: Float32Array, rows: number, dims: number, mean: Float32Array, std: Float32Array): Float32Array {
  const out = new Float32Array(rows * dims);
  for (let r = 0; r < rows; r++) {
    const o = r * dims;
    for (let c = 0; c < dims; c++) out[o + c] = Math.fround(features[o + c]! - mean[c]!) / std[c]!;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// the tfjs graph

interface Params {
  w: tf.Variable[];
  b: tf.Variable[];
}

function forwardTf(x: tf.Tensor2D, p: Params, dropout: number, dropoutSeed: number | undefined): tf.Tensor2D {
  let h: tf.Tensor2D = x;
  const n = p.w.length;
  for (let i = 0; i < n; i++) {
    h = tf.add(tf.matMul(h, p.w[i]!), p.b[i]!);
    if (i < n - 1) {
      h = tf.relu(h);
      if (dropoutSeed !== undefined && dropout > 0) h = tf.dropout(h, dropout, undefined, subSeed(dropoutSeed, i)) as tf.Tensor2D;
    }
  }
  return h;
}

/** Per-row soft cross-entropy −Σ_k t_k log softmax(z)_k, from logits (log-softmax, numerically stable). */
function softCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor1D {
  return tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 1) as tf.Tensor1D);
}

/** Copy a batch of rows (by index) out of a row-major matrix. */
function gatherRows(src: Float32Array, width: number, order: Uint32Array, start: number, end: number): Float32Array {
  const out = new Float32Array((end - start) * width);
  for (let i = start; i < end; i++) {
    const r = order[i]!;
    out.set(src.subarray(r * width, r * width + width), (i - start) * width);
  }
  return out;
}

const EVAL_CHUNK = 16384;

/** Weighted mean soft cross-entropy of a (normalised) set under the current parameters. */
function evalLoss(p: Params, x: Float32Array, t: Float32Array, w: Float32Array | undefined, rows: number, dims: number): number {
  let num = 0;
  let den = 0;
  for (let s = 0; s < rows; s += EVAL_CHUNK) {
    const e = Math.min(rows, s + EVAL_CHUNK);
    const n = e - s;
    const part = tf.tidy(() => {
      const logits = forwardTf(tf.tensor2d(x.subarray(s * dims, e * dims), [n, dims]), p, 0, undefined);
      const per = softCrossEntropy(logits, tf.tensor2d(t.subarray(s * LEVELS, e * LEVELS), [n, LEVELS]));
      return w ? tf.sum(tf.mul(per, tf.tensor1d(w.subarray(s, e)))) : tf.sum(per);
    });
    num += part.dataSync()[0]!;
    part.dispose();
    if (w) for (let r = s; r < e; r++) den += w[r]!;
    else den += n;
  }
  return num / den;
}

function snapshot(p: Params, dims: number, hidden: number[]): DenseLayer[] {
  const widths = [dims, ...hidden, LEVELS];
  return p.w.map((wv, i) => ({
    weights: Float32Array.from(wv.dataSync() as Float32Array),
    bias: Float32Array.from(p.b[i]!.dataSync() as Float32Array),
    inputs: widths[i]!,
    outputs: widths[i + 1]!,
  }));
}

/**
 * Train the MLP on soft labels with Adam, shuffling with a seeded PRNG each epoch, and stop early
 * when the dev loss has not improved for `patience` epochs. The returned model holds the weights of
 * the epoch with the lowest dev loss (copied out of tfjs); every tensor is disposed.
 */
export async function trainMlp(train: TrainingSet, dev: TrainingSet, config?: Partial<MlpConfig>, onEpoch?: (e: EpochStats) => void): Promise<TrainedMlp> {
  const cfg = resolveConfig(config);
  validateTrainingData(train, dev);
  const { backend, notes } = await initTfBackend();

  const { rows, dims } = train;
  const { mean, std } = featureStats(train.features, rows, dims);
  const xTrain = normalise(train.features, rows, dims, mean, std);
  const xDev = normalise(dev.features, dev.rows, dims, mean, std);
  const widths = [dims, ...cfg.hidden, LEVELS];
  const l2 = cfg.l2 ?? 0;
  const dropout = cfg.dropout ?? 0;

  const params: Params = { w: [], b: [] };
  const optimizer = tf.train.adam(cfg.learningRate);
  try {
    for (let i = 0; i < widths.length - 1; i++) {
      const fanIn = widths[i]!;
      const fanOut = widths[i + 1]!;
      // created inside tidy so the initial-value tensors are released (variables survive tidy)
      params.w.push(tf.tidy(() => tf.variable(tf.tensor2d(glorotUniform(fanIn, fanOut, subSeed(cfg.seed, 1, i)), [fanIn, fanOut]), true)));
      params.b.push(tf.tidy(() => tf.variable(tf.zeros([fanOut]), true)));
    }
    const vars = [...params.w, ...params.b];

    const history: EpochStats[] = [];
    let best: DenseLayer[] = snapshot(params, dims, cfg.hidden);
    let bestEpoch = 0;
    let bestDev = Infinity;
    let sinceBest = 0;

    for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
      const order = shuffledOrder(rows, subSeed(cfg.seed, 2, epoch));
      let lossSum = 0;
      let weightSum = 0;
      for (let s = 0, batch = 0; s < rows; s += cfg.batchSize, batch++) {
        const e = Math.min(rows, s + cfg.batchSize);
        const n = e - s;
        const xb = gatherRows(xTrain, dims, order, s, e);
        const tb = gatherRows(train.targets, LEVELS, order, s, e);
        const wb = train.weights ? gatherRows(train.weights, 1, order, s, e) : undefined;
        let bw = n;
        if (wb) {
          bw = 0;
          for (let i = 0; i < n; i++) bw += wb[i]!;
        }
        if (bw <= 0) continue; // a batch of zero-weight rows carries no gradient
        const dropSeed = dropout > 0 ? subSeed(cfg.seed, 3, epoch, batch) : undefined;
        const dataLoss = tf.tidy(() => {
          let kept: tf.Scalar | undefined;
          const { value, grads } = tf.variableGrads(() => {
            const logits = forwardTf(tf.tensor2d(xb, [n, dims]), params, dropout, dropSeed);
            const per = softCrossEntropy(logits, tf.tensor2d(tb, [n, LEVELS]));
            const data: tf.Scalar = wb ? tf.div(tf.sum(tf.mul(per, tf.tensor1d(wb))), bw) : tf.mean(per);
            kept = tf.keep(data);
            if (l2 === 0) return data;
            let penalty: tf.Scalar = tf.scalar(0);
            for (const w of params.w) penalty = tf.add(penalty, tf.sum(tf.square(w)));
            return tf.add(data, tf.mul(penalty, l2));
          }, vars);
          optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
          if (kept !== value) value.dispose(); // without L2 the objective is the data loss itself
          return kept!;
        });
        lossSum += dataLoss.dataSync()[0]! * bw;
        weightSum += bw;
        dataLoss.dispose();
      }
      const trainLoss = lossSum / weightSum;
      const devLoss = evalLoss(params, xDev, dev.targets, dev.weights, dev.rows, dims);
      if (!Number.isFinite(trainLoss) || !Number.isFinite(devLoss)) {
        throw new DistilrankError('TRAINING_FAILED', `training diverged at epoch ${epoch}: train loss ${trainLoss}, dev loss ${devLoss}`, {
          hint: `lower learningRate (now ${cfg.learningRate}) or check the features for extreme values`,
        });
      }
      const stats = { epoch, trainLoss, devLoss };
      history.push(stats);
      onEpoch?.(stats);
      if (devLoss < bestDev) {
        bestDev = devLoss;
        bestEpoch = epoch;
        best = snapshot(params, dims, cfg.hidden);
        sinceBest = 0;
      } else if (++sinceBest >= cfg.patience) {
        break;
      }
    }
    return { dims, mean, std, layers: best, history, bestEpoch, config: cfg, backend, notes: [...notes] };
  } finally {
    for (const v of [...params.w, ...params.b]) v.dispose();
    optimizer.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// inference in JS (the reference) and in tfjs

function checkWidth(model: TrainedMlp, features: Float32Array, rows: number): void {
  if (!isNonNegInt(rows) || features.length !== rows * model.dims) {
    throw new DistilrankError('MODEL_MISMATCH', `the model takes ${model.dims} features per row, but got ${features.length} values for ${rows} rows`, {
      field: 'features',
      hint: 'extract features with the feature set the model was trained on (same names, same order)',
    });
  }
}

/** Pure-JS forward pass of the trained model (reference for parity and for explanations): rows × 5 probabilities. */
export function predictJs(model: TrainedMlp, features: Float32Array, rows: number): Float32Array {
  checkWidth(model, features, rows);
  const { dims, mean, std, layers } = model;
  const out = new Float32Array(rows * LEVELS);
  const maxWidth = Math.max(dims, ...layers.map((l) => l.outputs));
  let a = new Float64Array(maxWidth);
  let b = new Float64Array(maxWidth);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < dims; c++) a[c] = Math.fround(features[r * dims + c]! - mean[c]!) / std[c]!;
    for (let li = 0; li < layers.length; li++) {
      const { weights, bias, inputs, outputs } = layers[li]!;
      for (let j = 0; j < outputs; j++) b[j] = bias[j]!;
      for (let i = 0; i < inputs; i++) {
        const x = a[i]!;
        if (x === 0) continue;
        const row = i * outputs;
        for (let j = 0; j < outputs; j++) b[j]! += x * weights[row + j]!;
      }
      if (li < layers.length - 1) for (let j = 0; j < outputs; j++) if (b[j]! < 0) b[j] = 0;
      [a, b] = [b, a];
    }
    let max = -Infinity;
    for (let k = 0; k < LEVELS; k++) max = Math.max(max, a[k]!);
    let z = 0;
    for (let k = 0; k < LEVELS; k++) z += Math.exp(a[k]! - max);
    for (let k = 0; k < LEVELS; k++) out[r * LEVELS + k] = Math.exp(a[k]! - max) / z;
  }
  return out;
}

/** The same forward pass in tfjs (the training engine), in large batches: rows × 5 probabilities. */
export async function predictTf(model: TrainedMlp, features: Float32Array, rows: number, batchSize = EVAL_CHUNK): Promise<Float32Array> {
  checkWidth(model, features, rows);
  await initTfBackend();
  const { dims } = model;
  const out = new Float32Array(rows * LEVELS);
  const p: Params = { w: [], b: [] };
  try {
    for (const l of model.layers) {
      p.w.push(tf.tidy(() => tf.variable(tf.tensor2d(l.weights, [l.inputs, l.outputs]), false)));
      p.b.push(tf.tidy(() => tf.variable(tf.tensor1d(l.bias), false)));
    }
    const x = normalise(features, rows, dims, model.mean, model.std);
    for (let s = 0; s < rows; s += batchSize) {
      const e = Math.min(rows, s + batchSize);
      const probs = tf.tidy(() => tf.softmax(forwardTf(tf.tensor2d(x.subarray(s * dims, e * dims), [e - s, dims]), p, 0, undefined)));
      out.set(probs.dataSync() as Float32Array, s * LEVELS);
      probs.dispose();
    }
  } finally {
    for (const v of [...p.w, ...p.b]) v.dispose();
  }
  return out;
}

/** Expected level (1..5) from probabilities, per row. */
export function expectedLevels(probs: Float32Array, rows: number): Float32Array {
  if (probs.length !== rows * LEVELS) {
    throw new DistilrankError('MODEL_MISMATCH', `expected rows × 5 = ${rows * LEVELS} probabilities, got ${probs.length}`, {
      hint: 'pass the output of predict for the same number of rows',
    });
  }
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let e = 0;
    for (let k = 0; k < LEVELS; k++) e += (k + 1) * probs[r * LEVELS + k]!;
    out[r] = e;
  }
  return out;
}

/** Weighted mean soft cross-entropy of predicted probabilities against targets (for reports and tests). */
export function softCrossEntropyJs(probs: Float32Array, targets: Float32Array, rows: number, weights?: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let r = 0; r < rows; r++) {
    let l = 0;
    for (let k = 0; k < LEVELS; k++) {
      const t = targets[r * LEVELS + k]!;
      if (t > 0) l -= t * Math.log(Math.max(probs[r * LEVELS + k]!, 1e-30));
    }
    const w = weights ? weights[r]! : 1;
    num += w * l;
    den += w;
  }
  return num / den;
}

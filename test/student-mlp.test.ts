/**
 * The student MLP (src/student/mlp.ts): it learns a known rule from soft labels, stops early and
 * keeps the best epoch's weights, is reproducible from its seed, frees every tensor, and refuses bad
 * training data with a BAD_INPUT error before training anything.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { DistilrankError } from '../src/core/errors.ts';
import { mulberry32 } from '../src/core/index.ts';
import { expectedLevels, predictJs, predictTf, softCrossEntropyJs, trainMlp, type MlpConfig, type TrainedMlp, type TrainingSet } from '../src/ml/index.ts';

const RULE = [1.0, -0.8, 0.6, 0.0, 0.4, -0.3]; // feature 3 is pure noise

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/**
 * 6 features (different scales and offsets, so normalisation matters), a linear score with noise,
 * cut into 5 levels; targets are soft: 0.8 on the level, the rest on its neighbours.
 */
function synthetic(rows: number, seed: number, noise = 0.15): TrainingSet & { levels: Uint8Array } {
  const rand = mulberry32(seed);
  const dims = RULE.length;
  const features = new Float32Array(rows * dims);
  const targets = new Float32Array(rows * 5);
  const levels = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < dims; c++) {
      const z = gaussian(rand);
      features[r * dims + c] = z * (c + 1) * 3 + c * 10; // scale and offset per column
      s += RULE[c]! * z;
    }
    s += noise * gaussian(rand);
    const level = s < -1.2 ? 0 : s < -0.4 ? 1 : s < 0.4 ? 2 : s < 1.2 ? 3 : 4;
    levels[r] = level;
    const neighbours = [level - 1, level + 1].filter((k) => k >= 0 && k < 5);
    targets[r * 5 + level] = 0.8;
    for (const k of neighbours) targets[r * 5 + k] = 0.2 / neighbours.length;
  }
  return { features, rows, dims, targets, levels };
}

function argmaxRows(probs: Float32Array, rows: number): Uint8Array {
  const out = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let k = 1; k < 5; k++) if (probs[r * 5 + k]! > probs[r * 5 + best]!) best = k;
    out[r] = best;
  }
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function expectError(p: Promise<unknown>, code: string, message: RegExp): Promise<DistilrankError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DistilrankError);
  const de = e as DistilrankError;
  expect(de.code).toBe(code);
  expect(de.message).toMatch(message);
  expect(de.details.hint, 'every error says how to fix it').toBeTruthy();
  return de;
}

const FAST: Partial<MlpConfig> = { hidden: [32, 16], epochs: 40, batchSize: 128, learningRate: 5e-3, patience: 5, seed: 7 };

describe('trainMlp on a learnable problem', () => {
  const train = synthetic(3000, 1);
  const dev = synthetic(800, 2);
  let model: TrainedMlp;
  let tensorsBefore = 0;

  it('trains on the wasm backend, reports history and frees every tensor', async () => {
    await tf.ready().catch(() => undefined);
    tensorsBefore = tf.memory().numTensors;
    const seen: number[] = [];
    model = await trainMlp(train, dev, FAST, (e) => seen.push(e.epoch));
    expect(model.backend).toBe('wasm');
    expect(model.notes).toEqual([]);
    expect(tf.memory().numTensors, 'no tensor survives training').toBe(tensorsBefore);
    expect(seen).toEqual(model.history.map((h) => h.epoch));
    expect(model.history.length).toBeGreaterThan(3);
    expect(model.history[0]!.epoch).toBe(1);
    expect(model.layers.map((l) => [l.inputs, l.outputs])).toEqual([
      [6, 32],
      [32, 16],
      [16, 5],
    ]);
    // the loss went down
    expect(model.history.at(-1)!.trainLoss).toBeLessThan(model.history[0]!.trainLoss);
  });

  it('stores the normalisation computed on the training rows', () => {
    for (let c = 0; c < 6; c++) {
      let s = 0;
      for (let r = 0; r < train.rows; r++) s += train.features[r * 6 + c]!;
      expect(model.mean[c]!).toBeCloseTo(s / train.rows, 3);
      expect(model.std[c]!).toBeGreaterThan((c + 1) * 3 * 0.9); // scale of column c
      expect(model.std[c]!).toBeLessThan((c + 1) * 3 * 1.1);
    }
  });

  it('beats the majority class by far on dev', () => {
    const probs = predictJs(model, dev.features, dev.rows);
    const pred = argmaxRows(probs, dev.rows);
    const counts = [0, 0, 0, 0, 0];
    let correct = 0;
    for (let r = 0; r < dev.rows; r++) {
      counts[dev.levels[r]!]!++;
      if (pred[r] === dev.levels[r]) correct++;
    }
    const majority = Math.max(...counts) / dev.rows;
    const accuracy = correct / dev.rows;
    expect(majority).toBeLessThan(0.4);
    expect(accuracy).toBeGreaterThan(majority + 0.35);
    // expected levels follow the true level
    const el = expectedLevels(probs, dev.rows);
    let err = 0;
    for (let r = 0; r < dev.rows; r++) err += Math.abs(el[r]! - (dev.levels[r]! + 1));
    expect(err / dev.rows).toBeLessThan(0.4);
  });

  it('learns the soft labels as distributions, not one-hot', () => {
    // CE with soft targets is minimised at p = t: P(true level) should sit near 0.8, not near 1
    const probs = predictJs(model, dev.features, dev.rows);
    let pTrue = 0;
    for (let r = 0; r < dev.rows; r++) pTrue += probs[r * 5 + dev.levels[r]!]!;
    pTrue /= dev.rows;
    expect(pTrue).toBeGreaterThan(0.55);
    expect(pTrue).toBeLessThan(0.85);
  });

  it('keeps the best epoch: the dev loss of the kept weights is the lowest in the history', () => {
    const losses = model.history.map((h) => h.devLoss);
    const best = Math.min(...losses);
    expect(model.history[model.bestEpoch - 1]!.devLoss).toBe(best);
    const recomputed = softCrossEntropyJs(predictJs(model, dev.features, dev.rows), dev.targets, dev.rows);
    expect(Math.abs(recomputed - best)).toBeLessThan(1e-5);
  });

  it('tfjs predictions with the kept weights equal predictJs to 1e-5', async () => {
    const rows = 1000;
    const rand = mulberry32(99);
    const x = Float32Array.from({ length: rows * 6 }, () => (rand() * 2 - 1) * 40);
    const before = tf.memory().numTensors;
    const viaTf = await predictTf(model, x, rows, 256);
    expect(tf.memory().numTensors).toBe(before);
    expect(maxAbsDiff(viaTf, predictJs(model, x, rows))).toBeLessThan(1e-5);
  });
});

describe('early stopping', () => {
  it('stops when the dev loss rises and keeps the best epoch’s weights, not the last', async () => {
    // no signal at all: random features, random levels; a wide net memorises the 60 training rows
    // and the loss on the 20 dev rows rises after the first epochs
    const rand = mulberry32(5);
    const mk = (rows: number): TrainingSet => {
      const features = Float32Array.from({ length: rows * 6 }, () => gaussian(rand));
      const targets = new Float32Array(rows * 5);
      for (let r = 0; r < rows; r++) targets[r * 5 + Math.floor(rand() * 5)] = 1;
      return { features, rows, dims: 6, targets };
    };
    const train = mk(60);
    const dev = mk(20);
    const patience = 4;
    const model = await trainMlp(train, dev, { hidden: [128, 128], epochs: 300, batchSize: 16, learningRate: 1e-2, patience, seed: 3 });
    const h = model.history;
    expect(h.length).toBeLessThan(300);
    expect(h.length).toBe(model.bestEpoch + patience);
    const best = h[model.bestEpoch - 1]!.devLoss;
    for (const e of h.slice(model.bestEpoch)) expect(e.devLoss).toBeGreaterThanOrEqual(best);
    expect(h.at(-1)!.devLoss).toBeGreaterThan(best + 0.01);
    // the returned weights are the best epoch's: their dev loss is the best one, not the last one
    const kept = softCrossEntropyJs(predictJs(model, dev.features, dev.rows), dev.targets, dev.rows);
    expect(Math.abs(kept - best)).toBeLessThan(1e-5);
    expect(Math.abs(kept - h.at(-1)!.devLoss)).toBeGreaterThan(0.005);
  });
});

describe('reproducibility', () => {
  it('the same data, config and seed give identical weights (dropout included); another seed does not', async () => {
    const train = synthetic(400, 11);
    const dev = synthetic(100, 12);
    const cfg: Partial<MlpConfig> = { hidden: [16, 8], epochs: 4, batchSize: 32, learningRate: 1e-2, seed: 123, dropout: 0.2, l2: 1e-4 };
    const a = await trainMlp(train, dev, cfg);
    const b = await trainMlp(train, dev, cfg);
    const c = await trainMlp(train, dev, { ...cfg, seed: 124 });
    expect(a.history).toEqual(b.history);
    for (let i = 0; i < a.layers.length; i++) {
      // tfjs-backend-wasm runs single-threaded in Node, so this is bit-exact
      expect(Array.from(a.layers[i]!.weights)).toEqual(Array.from(b.layers[i]!.weights));
      expect(Array.from(a.layers[i]!.bias)).toEqual(Array.from(b.layers[i]!.bias));
    }
    expect(maxAbsDiff(a.layers[0]!.weights, c.layers[0]!.weights)).toBeGreaterThan(1e-3);
  });
});

describe('per-row weights', () => {
  it('zero weight on every L5 row makes the model stop predicting L5', async () => {
    const train = synthetic(2000, 21);
    const dev = synthetic(500, 22);
    const weights = Float32Array.from({ length: train.rows }, (_, r) => (train.levels[r] === 4 ? 0 : 1));
    const cfg = { ...FAST, epochs: 15 };
    const plain = await trainMlp(train, dev, cfg);
    const weighted = await trainMlp({ ...train, weights }, dev, cfg);
    const meanP5 = (m: TrainedMlp): number => {
      const p = predictJs(m, dev.features, dev.rows);
      let s = 0;
      let n = 0;
      for (let r = 0; r < dev.rows; r++) {
        if (dev.levels[r] === 4) {
          s += p[r * 5 + 4]!;
          n++;
        }
      }
      return s / n;
    };
    expect(meanP5(plain)).toBeGreaterThan(0.5);
    expect(meanP5(weighted)).toBeLessThan(0.2);
  });

  it('uniform weights train the same model as no weights', async () => {
    const train = synthetic(300, 31);
    const dev = synthetic(60, 32);
    const cfg = { hidden: [8], epochs: 3, batchSize: 64, seed: 1 };
    const a = await trainMlp(train, dev, cfg);
    const b = await trainMlp({ ...train, weights: new Float32Array(train.rows).fill(2) }, { ...dev, weights: new Float32Array(dev.rows).fill(3) }, cfg);
    expect(maxAbsDiff(a.layers[0]!.weights, b.layers[0]!.weights)).toBeLessThan(1e-5);
    expect(Math.abs(a.history.at(-1)!.devLoss - b.history.at(-1)!.devLoss)).toBeLessThan(1e-5);
  });
});

describe('predictJs and expectedLevels by hand', () => {
  it('computes softmax((x - mean) / std · W + b)', () => {
    // 1 feature, no hidden layer: logits = x' * [0, 1, 2, 3, 4]
    const model: TrainedMlp = {
      dims: 1,
      mean: Float32Array.of(10),
      std: Float32Array.of(2),
      layers: [{ weights: Float32Array.of(0, 1, 2, 3, 4), bias: Float32Array.of(0, 0, 0, 0, 1), inputs: 1, outputs: 5 }],
      history: [],
      bestEpoch: 0,
      config: { hidden: [], epochs: 1, batchSize: 1, learningRate: 1, patience: 1, seed: 1 },
      backend: 'none',
      notes: [],
    };
    const p = predictJs(model, Float32Array.of(12, 10), 2);
    // row 0: x' = 1 → logits [0,1,2,3,5]; row 1: x' = 0 → logits [0,0,0,0,1]
    const l0 = [0, 1, 2, 3, 5].map(Math.exp);
    const z0 = l0.reduce((a, b) => a + b);
    for (let k = 0; k < 5; k++) expect(p[k]!).toBeCloseTo(l0[k]! / z0, 6);
    const z1 = 4 + Math.E;
    for (let k = 0; k < 4; k++) expect(p[5 + k]!).toBeCloseTo(1 / z1, 6);
    expect(p[9]!).toBeCloseTo(Math.E / z1, 6);
    const el = expectedLevels(Float32Array.of(0, 0, 0, 0, 1, 0.5, 0, 0, 0, 0.5, 0.2, 0.2, 0.2, 0.2, 0.2), 3);
    expect(Array.from(el)).toEqual([5, 3, 3].map((v) => Math.fround(v)));
    expect(() => predictJs(model, Float32Array.of(1, 2, 3), 2)).toThrow(DistilrankError);
  });
});

describe('bad training data is refused before anything is trained', () => {
  const good = synthetic(100, 41);
  const dev = synthetic(30, 42);

  it('too few labels', async () => {
    const few = synthetic(19, 43);
    await expectError(trainMlp(few, dev), 'BAD_INPUT', /too few labels: 19 training rows/);
  });

  it('an empty dev split', async () => {
    const empty: TrainingSet = { features: new Float32Array(0), rows: 0, dims: 6, targets: new Float32Array(0) };
    await expectError(trainMlp(good, empty), 'BAD_INPUT', /the dev split has no labelled pairs/);
  });

  it('different feature widths for train and dev', async () => {
    const narrow: TrainingSet = { features: new Float32Array(30 * 5), rows: 30, dims: 5, targets: dev.targets };
    await expectError(trainMlp(good, narrow), 'BAD_INPUT', /6 features per row but the dev set has 5/);
  });

  it('NaN or Infinity in a feature, naming the column and the first row', async () => {
    const features = good.features.slice();
    features[7 * 6 + 3] = Number.NaN;
    features[9 * 6 + 1] = Number.NaN;
    const e = await expectError(trainMlp({ ...good, features }, dev), 'BAD_INPUT', /feature column 3 is NaN in row 7 of the training set/);
    expect(e.details.field).toBe('features[3]');
    const devFeatures = dev.features.slice();
    devFeatures[2 * 6 + 5] = Number.POSITIVE_INFINITY;
    await expectError(trainMlp(good, { ...dev, features: devFeatures }), 'BAD_INPUT', /feature column 5 is Infinity in row 2 of the dev set/);
  });

  it('targets that do not sum to 1', async () => {
    const targets = good.targets.slice();
    const level = good.levels[4]!;
    targets[4 * 5 + level] = targets[4 * 5 + level]! - 0.01;
    await expectError(trainMlp({ ...good, targets }, dev), 'BAD_INPUT', /targets of row 4 of the training set sum to 0\.99/);
    // within ±1e-3 is accepted by validation (checked on a tiny epoch)
    const close = good.targets.slice();
    close[0] = close[0]! + 5e-4;
    await expect(trainMlp({ ...good, targets: close }, dev, { epochs: 1 })).resolves.toBeTruthy();
  });

  it('a single class (every row’s most likely level is the same)', async () => {
    const targets = new Float32Array(good.rows * 5);
    for (let r = 0; r < good.rows; r++) targets.set([0.1, 0.1, 0.6, 0.1, 0.1], r * 5);
    await expectError(trainMlp({ ...good, targets }, dev), 'BAD_INPUT', /a single class: every row's most likely level is L3/);
  });

  it('shape errors and bad weights', async () => {
    await expectError(trainMlp({ ...good, features: good.features.subarray(1) }, dev), 'BAD_INPUT', /expected rows × dims/);
    await expectError(trainMlp({ ...good, targets: good.targets.subarray(5) }, dev), 'BAD_INPUT', /targets hold/);
    await expectError(trainMlp({ ...good, weights: new Float32Array(3) }, dev), 'BAD_INPUT', /3 weights for 100 rows/);
    await expectError(trainMlp({ ...good, weights: new Float32Array(100) }, dev), 'BAD_INPUT', /every weight of the training set is 0/);
    await expectError(trainMlp({ ...good, weights: new Float32Array(100).fill(-1) }, dev), 'BAD_INPUT', /weight of row 0/);
  });

  it('bad settings are BAD_OPTION', async () => {
    await expectError(trainMlp(good, dev, { learningRate: 0 }), 'BAD_OPTION', /learningRate/);
    await expectError(trainMlp(good, dev, { hidden: [8, 0] }), 'BAD_OPTION', /hidden/);
    await expectError(trainMlp(good, dev, { dropout: 1 }), 'BAD_OPTION', /dropout/);
  });

  it('a diverging run is TRAINING_FAILED, not a model full of NaN', async () => {
    await expectError(trainMlp(good, dev, { learningRate: 1e38, epochs: 5, hidden: [64, 64] }), 'TRAINING_FAILED', /diverged/);
  });
});

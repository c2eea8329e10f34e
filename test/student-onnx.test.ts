/**
 * The student as ONNX (src/student/onnx.ts): the exported graph (normalisation included) loads in
 * onnxruntime-node and scores exactly what the JS reference and tfjs compute; its metadata carries
 * the feature names; features of the wrong width are a MODEL_MISMATCH error, not an ORT crash.
 */
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistilrankError } from '../src/core/errors.ts';
import { mulberry32 } from '../src/core/index.ts';
import {
  expectedLevels,
  exportOnnx,
  ONNX_IR_VERSION,
  ONNX_OPSET,
  OnnxScorer,
  predictJs,
  predictTf,
  readStudentMetadata,
  trainMlp,
  type TrainedMlp,
  type TrainingSet,
} from '../src/ml/index.ts';

const { onnx } = onnxProto;
const NAMES = ['bm25_title', 'bm25_body', 'cosine', 'title_coverage', 'item_popularity', 'query_length'];

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** A learnable 6-feature problem: a linear score with noise, cut into 5 levels, soft targets. */
function synthetic(rows: number, seed: number): TrainingSet {
  const w = [1.0, -0.8, 0.6, 0.0, 0.4, -0.3];
  const rand = mulberry32(seed);
  const features = new Float32Array(rows * 6);
  const targets = new Float32Array(rows * 5);
  for (let r = 0; r < rows; r++) {
    let s = 0.15 * gaussian(rand);
    for (let c = 0; c < 6; c++) {
      const z = gaussian(rand);
      features[r * 6 + c] = z * (c + 1) * 3 + c * 10;
      s += w[c]! * z;
    }
    const level = s < -1.2 ? 0 : s < -0.4 ? 1 : s < 0.4 ? 2 : s < 1.2 ? 3 : 4;
    targets[r * 5 + level] = 0.9;
    targets[r * 5 + (level === 4 ? 3 : level + 1)] = 0.1;
  }
  return { features, rows, dims: 6, targets };
}

/** Rows spread well beyond the training distribution (negative, large, zero columns). */
function randomRows(rows: number, dims: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: rows * dims }, () => gaussian(rand) * 30 + 15);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A hand-made model of any width (random weights), no training needed. */
function handMadeModel(dims: number, hidden: number[], seed: number): TrainedMlp {
  const rand = mulberry32(seed);
  const widths = [dims, ...hidden, 5];
  return {
    dims,
    mean: Float32Array.from({ length: dims }, () => rand() * 10),
    std: Float32Array.from({ length: dims }, () => 0.5 + rand() * 5),
    layers: widths.slice(0, -1).map((inputs, i) => {
      const outputs = widths[i + 1]!;
      return {
        inputs,
        outputs,
        weights: Float32Array.from({ length: inputs * outputs }, () => rand() * 2 - 1),
        bias: Float32Array.from({ length: outputs }, () => rand() - 0.5),
      };
    }),
    history: [],
    bestEpoch: 0,
    config: { hidden, epochs: 1, batchSize: 1, learningRate: 1, patience: 1, seed },
    backend: 'none',
    notes: [],
  };
}

async function mismatch(p: Promise<unknown>, message: RegExp): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DistilrankError);
  expect((e as DistilrankError).code).toBe('MODEL_MISMATCH');
  expect((e as DistilrankError).message).toMatch(message);
  expect((e as DistilrankError).details.hint).toBeTruthy();
}

describe('a trained student exported to ONNX', () => {
  let model: TrainedMlp;
  let bytes: Uint8Array;
  let scorer: OnnxScorer;

  beforeAll(async () => {
    model = await trainMlp(synthetic(3000, 1), synthetic(600, 2), { hidden: [64, 32], epochs: 25, batchSize: 128, learningRate: 5e-3, seed: 9 });
    bytes = exportOnnx(model, { featureNames: NAMES, producer: 'distilrank-test', docString: 'parity fixture' });
    scorer = await OnnxScorer.load(bytes);
  });
  afterAll(async () => {
    await scorer?.close();
  });

  it('is a valid opset-13 model with a symbolic batch dimension', () => {
    const proto = onnx.ModelProto.decode(bytes);
    expect(Number(proto.irVersion)).toBe(ONNX_IR_VERSION);
    expect(proto.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', ONNX_OPSET]]);
    const graph = proto.graph as onnxProto.onnx.GraphProto;
    expect(graph.input.map((i) => i.name)).toEqual(['features']);
    const dims = graph.input[0]!.type!.tensorType!.shape!.dim!;
    expect(dims[0]!.dimParam).toBe('N');
    expect(Number(dims[1]!.dimValue)).toBe(6);
    expect(graph.output.map((o) => o.name)).toEqual(['probabilities', 'expected_level']);
    // normalisation is in the graph, before the first dense layer
    expect(graph.node.slice(0, 3).map((n) => n.opType)).toEqual(['Sub', 'Div', 'Gemm']);
    expect(graph.node.at(-3)!.opType).toBe('Softmax');
  });

  it('loads in onnxruntime and round-trips the metadata', () => {
    expect(scorer.dims).toBe(6);
    expect(scorer.featureNames).toEqual(NAMES);
    const meta = readStudentMetadata(bytes);
    expect(meta.featureNames).toEqual(NAMES);
    expect(JSON.parse(meta.props.feature_names!)).toEqual(NAMES);
    expect(meta.producer).toBe('distilrank-test');
    expect(meta.docString).toBe('parity fixture');
    expect(meta.props.best_epoch).toBe(String(model.bestEpoch));
  });

  it('ORT probabilities equal predictJs (and tfjs) to 1e-5 on 1,000 random rows; expected levels too', async () => {
    const rows = 1000;
    const x = randomRows(rows, 6, 77);
    const js = predictJs(model, x, rows);
    const ort = await scorer.predict(x, rows);
    expect(maxAbsDiff(ort, js)).toBeLessThan(1e-5);
    expect(maxAbsDiff(await predictTf(model, x, rows), js)).toBeLessThan(1e-5);
    const both = await scorer.score(x, rows);
    expect(maxAbsDiff(both.probabilities, ort)).toBe(0);
    expect(both.expectedLevel.length).toBe(rows);
    expect(maxAbsDiff(both.expectedLevel, expectedLevels(js, rows))).toBeLessThan(1e-5);
    // the rows are not trivially saturated: the model spreads its mass over several levels
    const levels = new Set(Array.from(both.expectedLevel, (v) => Math.round(v)));
    expect(levels.size).toBeGreaterThanOrEqual(3);
  });

  it('scores a large batch in one call, and a matrix that is a view into a bigger buffer', async () => {
    const rows = 20_000;
    const x = randomRows(rows, 6, 78);
    const ort = await scorer.predict(x, rows);
    expect(ort.length).toBe(rows * 5);
    expect(maxAbsDiff(ort.subarray(0, 500 * 5), predictJs(model, x.subarray(0, 500 * 6), 500))).toBeLessThan(1e-5);
    // a subarray starting at row 7: the byte offset must be honoured
    const view = x.subarray(7 * 6, 107 * 6);
    expect(maxAbsDiff(await scorer.predict(view, 100), ort.subarray(7 * 5, 107 * 5))).toBeLessThan(1e-6);
    expect((await scorer.predict(new Float32Array(0), 0)).length).toBe(0);
  });

  it('refuses features of the wrong width with MODEL_MISMATCH', async () => {
    await mismatch(scorer.predict(new Float32Array(10 * 7), 10), /takes 6 features per row, but got 70 values for 10 rows/);
    await mismatch(scorer.predict(new Float32Array(13), 2), /takes 6 features per row/);
    expect(() => predictJs(model, new Float32Array(14), 2)).toThrow(/takes 6 features per row/);
  });
});

describe('hand-made models of other widths', () => {
  it('a 4-feature model refuses 6-wide features (MODEL_MISMATCH, no ORT crash) and scores 4-wide ones', async () => {
    const m4 = handMadeModel(4, [8], 3);
    const s4 = await OnnxScorer.load(exportOnnx(m4, { featureNames: ['a', 'b', 'c', 'd'] }));
    try {
      expect(s4.dims).toBe(4);
      await mismatch(s4.predict(randomRows(50, 6, 1), 50), /takes 4 features per row/);
      const x = randomRows(300, 4, 2);
      expect(maxAbsDiff(await s4.predict(x, 300), predictJs(m4, x, 300))).toBeLessThan(1e-5);
    } finally {
      await s4.close();
    }
  });

  it('exports a model without hidden layers and one with three', async () => {
    for (const hidden of [[], [16, 16, 8]]) {
      const m = handMadeModel(3, hidden, 4);
      const s = await OnnxScorer.load(exportOnnx(m, { featureNames: ['x', 'y', 'z'] }));
      const x = randomRows(200, 3, 5);
      expect(maxAbsDiff(await s.predict(x, 200), predictJs(m, x, 200))).toBeLessThan(1e-5);
      await s.close();
    }
  });

  it('refuses feature names that do not fit, and bytes that are not a student', async () => {
    const m = handMadeModel(3, [4], 6);
    expect(() => exportOnnx(m, { featureNames: ['x', 'y'] })).toThrow(/2 feature names for a model of 3 features/);
    await mismatch(OnnxScorer.load(new Uint8Array([1, 2, 3, 4, 5])), /not a distilrank student model/);
    // a valid ONNX model that is not ours (no student metadata)
    const foreign = onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph: { name: 'g' } })).finish();
    await mismatch(OnnxScorer.load(foreign), /its format is null/);
    // metadata claims 3 features but the graph is corrupt
    const bytes = exportOnnx(m, { featureNames: ['x', 'y', 'z'] });
    const proto = onnx.ModelProto.decode(bytes);
    const graph = proto.graph as onnxProto.onnx.GraphProto;
    graph.node = graph.node.slice(1); // drop Sub: 'centred' has no producer
    await mismatch(OnnxScorer.load(onnx.ModelProto.encode(proto).finish()), /onnxruntime cannot load it/);
  });
});

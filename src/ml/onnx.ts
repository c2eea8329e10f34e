/**
 * The student as an ONNX artifact: export a trained MLP (normalisation included) with onnx-proto,
 * and score it in-process with onnxruntime-node.
 *
 * Graph (opset 13, IR 8):
 *   features [N, dims] → Sub(mean) → Div(std) → (Gemm → Relu)* → Gemm → Softmax(axis=-1) → probabilities [N, 5]
 *   probabilities → MatMul([1,2,3,4,5]ᵀ) → Reshape([-1]) → expected_level [N]
 * Gemm computes X·W + b exactly as MatMul + Add would (ORT fuses those into Gemm anyway).
 */
import onnxProto from 'onnx-proto';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { DistilrankError } from '../core/index.ts';
import { LEVELS, type TrainedMlp } from './mlp.ts';

const { onnx } = onnxProto;

export const ONNX_OPSET = 13;
/** IR version 8 (ONNX 1.10, what onnx-proto 8 encodes); onnxruntime 1.30 reads it. */
export const ONNX_IR_VERSION = 8;
/** metadata_props key marking the artifact kind and its format version. */
export const ONNX_MODEL_FORMAT = 'distilrank-student-mlp/1';
export const INPUT_NAME = 'features';
export const OUTPUT_PROBABILITIES = 'probabilities';
export const OUTPUT_EXPECTED_LEVEL = 'expected_level';

export interface OnnxExportMeta {
  /** One name per feature column, in column order (stored as JSON in metadata_props "feature_names"). */
  featureNames: string[];
  producer?: string;
  docString?: string;
}

/** What an exported student carries besides its weights. */
export interface StudentMetadata {
  format: string;
  dims: number;
  featureNames: string[];
  /** Every metadata_props entry, as stored. */
  props: Record<string, string>;
  producer: string;
  docString: string;
}

function floatTensor(name: string, dims: number[], values: Float32Array): onnxProto.onnx.ITensorProto {
  // raw_data is little-endian float32 (as typed arrays are on every platform Node runs on)
  const raw = new Uint8Array(values.byteLength);
  raw.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw };
}

function node(opType: string, inputs: string[], outputs: string[], attrs: onnxProto.onnx.IAttributeProto[] = []): onnxProto.onnx.INodeProto {
  return { opType, input: inputs, output: outputs, name: outputs[0] ?? opType, attribute: attrs };
}

function tensorValueInfo(name: string, dims: Array<number | string>): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

function checkModel(model: TrainedMlp): void {
  const bad = (msg: string): DistilrankError =>
    new DistilrankError('MODEL_MISMATCH', `cannot export the student: ${msg}`, { hint: 'export a model returned by trainMlp, unmodified' });
  if (model.mean.length !== model.dims || model.std.length !== model.dims)
    throw bad(`mean/std have ${model.mean.length}/${model.std.length} values for ${model.dims} features`);
  let width = model.dims;
  for (const [i, l] of model.layers.entries()) {
    if (l.inputs !== width) throw bad(`layer ${i} takes ${l.inputs} inputs, the previous layer gives ${width}`);
    if (l.weights.length !== l.inputs * l.outputs || l.bias.length !== l.outputs) throw bad(`layer ${i} has weights/bias of the wrong size`);
    width = l.outputs;
  }
  if (model.layers.length === 0 || width !== LEVELS) throw bad(`the last layer gives ${width} outputs, not ${LEVELS}`);
}

/** Serialise a trained MLP, normalisation included, as an ONNX model (opset 13). */
export function exportOnnx(model: TrainedMlp, meta: OnnxExportMeta): Uint8Array {
  checkModel(model);
  if (meta.featureNames.length !== model.dims) {
    throw new DistilrankError('MODEL_MISMATCH', `${meta.featureNames.length} feature names for a model of ${model.dims} features`, {
      field: 'featureNames',
      hint: 'pass the names of the feature set the model was trained on, one per column, in column order',
    });
  }
  const initializer: onnxProto.onnx.ITensorProto[] = [
    floatTensor('norm/mean', [1, model.dims], model.mean),
    floatTensor('norm/std', [1, model.dims], model.std),
    floatTensor(
      'levels',
      [LEVELS, 1],
      Float32Array.from({ length: LEVELS }, (_, k) => k + 1),
    ),
    { name: 'flat_shape', dims: [1], dataType: onnx.TensorProto.DataType.INT64, int64Data: [-1] },
  ];
  const nodes: onnxProto.onnx.INodeProto[] = [node('Sub', [INPUT_NAME, 'norm/mean'], ['centred']), node('Div', ['centred', 'norm/std'], ['normalised'])];
  let x = 'normalised';
  model.layers.forEach((l, i) => {
    initializer.push(floatTensor(`dense${i}/weights`, [l.inputs, l.outputs], l.weights), floatTensor(`dense${i}/bias`, [l.outputs], l.bias));
    const last = i === model.layers.length - 1;
    const y = last ? 'logits' : `dense${i}/linear`;
    nodes.push(node('Gemm', [x, `dense${i}/weights`, `dense${i}/bias`], [y]));
    if (!last) {
      nodes.push(node('Relu', [y], [`dense${i}/relu`]));
      x = `dense${i}/relu`;
    }
  });
  nodes.push(
    node('Softmax', ['logits'], [OUTPUT_PROBABILITIES], [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }]),
    node('MatMul', [OUTPUT_PROBABILITIES, 'levels'], ['expected_level_column']),
    node('Reshape', ['expected_level_column', 'flat_shape'], [OUTPUT_EXPECTED_LEVEL]),
  );

  const props: Record<string, string> = {
    format: ONNX_MODEL_FORMAT,
    dims: String(model.dims),
    feature_names: JSON.stringify(meta.featureNames),
    levels: JSON.stringify(['L1', 'L2', 'L3', 'L4', 'L5']),
    hidden: JSON.stringify(model.layers.slice(0, -1).map((l) => l.outputs)),
    best_epoch: String(model.bestEpoch),
    trained_with: `tfjs-${model.backend}`,
  };
  const proto = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: meta.producer ?? 'distilrank',
    producerVersion: '1',
    domain: 'distilrank',
    modelVersion: 1,
    docString: meta.docString ?? 'distilrank student: MLP over normalised features → P(L1..L5) and the expected level',
    metadataProps: Object.entries(props).map(([key, value]) => ({ key, value })),
    graph: {
      name: 'student_mlp',
      node: nodes,
      initializer,
      input: [tensorValueInfo(INPUT_NAME, ['N', model.dims])],
      output: [tensorValueInfo(OUTPUT_PROBABILITIES, ['N', LEVELS]), tensorValueInfo(OUTPUT_EXPECTED_LEVEL, ['N'])],
    },
  });
  return onnx.ModelProto.encode(proto).finish();
}

function notAStudent(why: string): DistilrankError {
  return new DistilrankError('MODEL_MISMATCH', `not a distilrank student model: ${why}`, {
    hint: 'pass the .onnx file written by distilrank for the student (retrain and export it if it was written by another version)',
  });
}

/** Read the student metadata (format, dims, feature names) from exported bytes without running them. */
export function readStudentMetadata(bytes: Uint8Array): StudentMetadata {
  let proto: onnxProto.onnx.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw notAStudent(`the bytes are not an ONNX model (${(e as Error).message})`);
  }
  const props: Record<string, string> = {};
  for (const p of proto.metadataProps) if (p.key) props[p.key] = p.value ?? '';
  if (props.format !== ONNX_MODEL_FORMAT)
    throw notAStudent(`its format is ${JSON.stringify(props.format ?? null)}, expected ${JSON.stringify(ONNX_MODEL_FORMAT)}`);
  const dims = Number(props.dims);
  let featureNames: unknown;
  try {
    featureNames = JSON.parse(props.feature_names ?? 'null');
  } catch {
    featureNames = null;
  }
  if (!Number.isInteger(dims) || dims < 1) throw notAStudent(`its metadata "dims" is ${JSON.stringify(props.dims ?? null)}`);
  if (!Array.isArray(featureNames) || featureNames.length !== dims || !featureNames.every((n) => typeof n === 'string')) {
    throw notAStudent('its metadata "feature_names" is not a list of one name per feature');
  }
  return { format: props.format, dims, featureNames: featureNames as string[], props, producer: proto.producerName, docString: proto.docString };
}

export interface OnnxScorerOptions {
  /** Threads for one inference (default 1: the service scales by processes, and we measure per core). */
  intraOpNumThreads?: number;
}

/** Probabilities and expected levels of a batch. */
export interface StudentScores {
  probabilities: Float32Array;
  expectedLevel: Float32Array;
}

/** An exported student loaded into onnxruntime-node (CPU), scoring feature matrices in-process. */
export class OnnxScorer {
  readonly dims: number;
  readonly featureNames: readonly string[];
  readonly metadata: StudentMetadata;
  private session: InferenceSession | undefined;

  private constructor(session: InferenceSession, metadata: StudentMetadata) {
    this.session = session;
    this.metadata = metadata;
    this.dims = metadata.dims;
    this.featureNames = Object.freeze([...metadata.featureNames]);
  }

  static async load(bytes: Uint8Array, options: OnnxScorerOptions = {}): Promise<OnnxScorer> {
    const metadata = readStudentMetadata(bytes);
    let session: InferenceSession;
    try {
      session = await InferenceSession.create(bytes, {
        intraOpNumThreads: options.intraOpNumThreads ?? 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
    } catch (e) {
      throw notAStudent(`onnxruntime cannot load it (${(e as Error).message})`);
    }
    const missing = [INPUT_NAME]
      .filter((n) => !session.inputNames.includes(n))
      .concat([OUTPUT_PROBABILITIES, OUTPUT_EXPECTED_LEVEL].filter((n) => !session.outputNames.includes(n)));
    if (missing.length > 0) {
      await session.release();
      throw notAStudent(`the graph lacks ${missing.join(', ')}`);
    }
    return new OnnxScorer(session, metadata);
  }

  private async run(features: Float32Array, rows: number, outputs: string[]): Promise<InferenceSession.ReturnType | undefined> {
    if (!this.session) throw new Error('OnnxScorer: used after close()');
    if (!Number.isInteger(rows) || rows < 0 || features.length !== rows * this.dims) {
      throw new DistilrankError('MODEL_MISMATCH', `the student model takes ${this.dims} features per row, but got ${features.length} values for ${rows} rows`, {
        field: 'features',
        hint: `extract features with the model's feature set (${this.dims} columns: ${this.featureNames.slice(0, 5).join(', ')}${this.dims > 5 ? ', …' : ''})`,
      });
    }
    if (rows === 0) return undefined;
    return this.session.run({ [INPUT_NAME]: new Tensor('float32', features, [rows, this.dims]) }, outputs);
  }

  /** rows × 5 probabilities P(L1..L5), row-major. */
  async predict(features: Float32Array, rows: number): Promise<Float32Array> {
    const out = await this.run(features, rows, [OUTPUT_PROBABILITIES]);
    return out ? Float32Array.from(out[OUTPUT_PROBABILITIES]!.data as Float32Array) : new Float32Array(0);
  }

  /** Probabilities and the expected level (1..5) per row, from one run. */
  async score(features: Float32Array, rows: number): Promise<StudentScores> {
    const out = await this.run(features, rows, [OUTPUT_PROBABILITIES, OUTPUT_EXPECTED_LEVEL]);
    if (!out) return { probabilities: new Float32Array(0), expectedLevel: new Float32Array(0) };
    return {
      probabilities: Float32Array.from(out[OUTPUT_PROBABILITIES]!.data as Float32Array),
      expectedLevel: Float32Array.from(out[OUTPUT_EXPECTED_LEVEL]!.data as Float32Array),
    };
  }

  async close(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    await s?.release();
  }
}

/**
 * The student stage (core): an MLP trained on soft 5-level labels (tfjs, WASM backend), exported to
 * ONNX with its feature normalisation, and scored in-process with onnxruntime-node. Features come
 * from the feature extractor; this stage takes row-major Float32Array matrices.
 */
export {
  DEFAULT_MLP_CONFIG,
  LEVELS,
  MIN_TRAINING_ROWS,
  expectedLevels,
  featureStats,
  initTfBackend,
  mulberry32,
  predictJs,
  predictTf,
  softCrossEntropyJs,
  trainMlp,
  validateTrainingData,
} from './mlp.ts';
export type { DenseLayer, EpochStats, MlpConfig, TrainedMlp, TrainingSet } from './mlp.ts';
export {
  INPUT_NAME,
  ONNX_IR_VERSION,
  ONNX_OPSET,
  OUTPUT_EXPECTED_LEVEL,
  OUTPUT_PROBABILITIES,
  OnnxScorer,
  ONNX_MODEL_FORMAT,
  exportOnnx,
  readStudentMetadata,
} from './onnx.ts';
export type { OnnxExportMeta, OnnxScorerOptions, StudentMetadata, StudentScores } from './onnx.ts';

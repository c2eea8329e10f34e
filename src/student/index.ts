/**
 * The student stage: an MLP over query–item features trained on soft 5-level labels (tfjs, WASM
 * backend), exported to ONNX with its feature normalisation, scored in-process with onnxruntime-node;
 * the versioned artifact with its model card; and the student as a ranking model with explanations.
 */
export {
  DEFAULT_MLP_CONFIG,
  LEVELS,
  MIN_TRAINING_ROWS,
  expectedLevels,
  featureStats,
  initTfBackend,
  predictJs,
  predictTf,
  softCrossEntropyJs,
  trainMlp,
  validateTrainingData,
} from './mlp.ts';
/** Seeded PRNG (shared; re-exported here because training code and its tests use it with the MLP). */
export { mulberry32 } from '../random.ts';
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
export { STUDENT_MLP_CONFIG, applyLabelShift, trainStudent } from './train.ts';
export type { TrainStudentOptions, TrainedStudent } from './train.ts';
export { STUDENT_FORMAT, STUDENT_FORMAT_VERSION, defaultStudentDir, readStudentArtifact, writeStudentArtifact } from './artifact.ts';
export type { ModelCard } from './artifact.ts';
export { DEFAULT_CANDIDATES, StudentRanker } from './ranker.ts';
export type { Explanation, FeatureContribution } from './ranker.ts';
export { DEFAULT_NEGATIVES, concatTables, filterRows, labelledPairs, teacherPairs } from './dataset.ts';
export type { NegativeSampling, PairTable, TeacherLabel } from './dataset.ts';
export { StudentFeatures } from './features.ts';
export type { RowSource } from './features.ts';

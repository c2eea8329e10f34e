/**
 * The student stage: an MLP over query–item features trained on soft 5-level labels (tfjs, WASM
 * backend), exported to ONNX with its feature normalisation, scored in-process with onnxruntime-node;
 * the versioned artifact with its model card; and the student as a ranking model with explanations.
 */
export { STUDENT_MLP_CONFIG, applyLabelShift, trainStudent } from './train.ts';
export type { TrainedStudent } from './train.ts';
export { STUDENT_FORMAT, STUDENT_FORMAT_VERSION, defaultStudentDir, readStudentArtifact, writeStudentArtifact } from './artifact.ts';
export type { ModelCard } from './artifact.ts';
export { DEFAULT_CANDIDATES, StudentRanker } from './ranker.ts';
export type { Explanation } from './ranker.ts';
export { DEFAULT_NEGATIVES, labelledPairs } from './dataset.ts';
export type { NegativeSampling } from './dataset.ts';
export { StudentFeatures } from './features.ts';

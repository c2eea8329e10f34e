/**
 * Machine learning shared by the student, the embeddings and the local teacher: the tfjs MLP over
 * soft 5-level labels (WASM backend) and its ONNX export and onnxruntime-node scorer.
 */
export { DEFAULT_MLP_CONFIG, expectedLevels, initTfBackend, predictJs, predictTf, softCrossEntropyJs, trainMlp } from './mlp.ts';
export type { MlpConfig, TrainedMlp, TrainingSet } from './mlp.ts';
export { ONNX_IR_VERSION, ONNX_OPSET, OnnxScorer, exportOnnx, readStudentMetadata } from './onnx.ts';

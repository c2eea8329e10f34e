/** Evaluation: IR and agreement metrics, TREC files, and the two named protocols. */
export * from './metrics.ts';
export { formatQrels, formatRun, readQrels, readRun, writeQrels, writeRun } from './trec.ts';
export { DEFAULT_MEASURES, DEFAULT_RETRIEVAL_DEPTH, PROTOCOLS, evaluate, parseProtocol, percentile, splitQrels } from './evaluate.ts';
export type { EvalReport, Evaluation, EvaluateOptions, Protocol } from './evaluate.ts';
export { IsotonicLevels, calibrateRanker } from './calibrate.ts';
export { LEVEL_CLASSES, argmaxLevel, evaluateLabels, expectedLevel, labelAgreement } from './labels.ts';
export type { LabelReport } from './labels.ts';
export * from './plot.ts';
export * from './report.ts';
export { pairMetrics } from './pair-metrics.ts';
export type { LabelledRows } from './pair-metrics.ts';

/**
 * Pure measures: IR metrics over runs and graded qrels (trec_eval's definitions), label-agreement
 * measures (accuracy, κ, macro-F1, RMSE, Kendall τ), pair metrics for training curves, and TREC run and
 * qrels files. A leaf: it reads no store and knows no ranker.
 */
export { ndcgAt, parseMeasure, evaluateRun, accuracy, confusionMatrix, macroF1, cohenKappa, rmse, kendallTau } from './measures.ts';
export type { ScoredItem, Qrels, Run } from './measures.ts';
export { pairMetrics } from './pair-metrics.ts';
export { writeQrels, writeRun } from './trec.ts';

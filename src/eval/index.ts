/** Evaluation: the two named protocols (rerank, retrieval) over any Ranker, scores calibrated to levels, label agreement against human judgments, and the reports and plots. */
export { DEFAULT_MEASURES, DEFAULT_RETRIEVAL_DEPTH, evaluate, parseProtocol, percentile, splitQrels } from './evaluate.ts';
export type { EvalReport, Protocol } from './evaluate.ts';
export { calibrateRanker } from './score-levels.ts';
export { evaluateLabels, expectedLevel, labelAgreement } from './labels.ts';
export { confusionSvg } from './plot.ts';
export { writeHtmlReport, evalTableSection, confusionSection, curveSection } from './report.ts';
export type { HtmlSection } from './report.ts';

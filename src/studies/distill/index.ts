/** The distillation study: the scaling curve and the ROI table (does the teacher pay for itself?). */
export { DEFAULT_CPU_USD_PER_HOUR, DEFAULT_MULTIPLES, ROI_CANDIDATES, runDistillStudy } from './study.ts';
export type { DistillStudy, DistillStudyOptions, RoiRow, ScalingRow } from './study.ts';
export { formatStudy, roiCaption, ROI_HEADER, roiRows, SCALING_HEADER, scalingCaption, scalingRows, studySections } from './report.ts';

/**
 * Studies: experiments that run the stages below them end to end and report what each earns — the
 * distillation study (scaling curve, ROI), the teacher's agreement with humans and its temperature
 * calibration, and the field ablation of the item text representation.
 */
export { DEFAULT_CPU_USD_PER_HOUR, DEFAULT_MULTIPLES, runDistillStudy, formatStudy, studySections } from './distill/index.ts';
export type { DistillStudy } from './distill/index.ts';
export { evaluateTeacher } from './teacher-eval/evaluate-teacher.ts';
export type { TeacherEvalReport } from './teacher-eval/evaluate-teacher.ts';
export { DEFAULT_ABLATION_SETTINGS, runAblation } from './ablation.ts';
export type { AblationModel, AblationResult } from './ablation.ts';

/** The teacher stage: LLM (endpoint or local GGUF) and local judges of (query, item) pairs, by name. */
export { addCost, TeacherCallError, ZERO_COST } from './types.ts';
export type { Teacher, TeacherCost, TeacherErrorKind, TeacherJudgment, TeacherPair } from './types.ts';
export {
  createLlmTeacher,
  distributionFromLogprobs,
  endpointCallError,
  LEVEL_SCHEMA,
  LLM_DEFAULTS,
  LLM_ENV,
  LLM_MODES,
  llmPromptVersion,
  LlmTeacher,
  llmTeacherConfigFromEnv,
  readLlmEnv,
  redactUrl,
  resolveLlmTeacherConfig,
  retryAfterMs,
  sampleLevel,
  tokenLevel,
} from './llm.ts';
export type { EndpointErrorContext, Env, LlmMode, LlmPricing, LlmTeacherConfig, LlmTeacherOverrides, ResolvedLlmTeacherConfig } from './llm.ts';
export {
  buildMessages,
  DEFAULT_MAX_ITEM_CHARS,
  ITEM_CLOSE,
  ITEM_OPEN,
  neutralise,
  PROMPT_VERSION,
  QUERY_CLOSE,
  QUERY_OPEN,
  SYSTEM_PROMPTS,
  truncate,
} from './prompt.ts';
export type { AnswerFormat, PromptMessage } from './prompt.ts';
export {
  DEFAULT_TEACHER_SEEDS,
  defaultLocalTeacherDir,
  LOCAL_TEACHER_DESCRIPTION,
  LOCAL_TEACHER_FORMAT,
  LOCAL_TEACHER_FORMAT_VERSION,
  LOCAL_TEACHER_MLP_CONFIG,
  LocalTeacher,
  localTeacherModel,
  readLocalTeacherArtifact,
  trainLocalTeacher,
  writeLocalTeacherArtifact,
} from './local.ts';
export type { LocalTeacherCard, TrainedLocalTeacher, TrainLocalTeacherOptions } from './local.ts';
export { LOCAL_FEATURES, LOCAL_FEATURE_SET_ID, LocalFeatureExtractor, localFeatureNames, withinOneEdit } from './local-features.ts';
export type { AssocHoldout } from './local-features.ts';
export {
  createLlamaTeacher,
  digitLevel,
  importNodeLlamaCpp,
  LLAMA_DEFAULTS,
  LLAMA_ENV,
  LLAMA_FIELDS,
  llamaPromptVersion,
  LlamaTeacher,
  llamaTeacherConfigFromEnv,
} from './llama.ts';
export type { LlamaTeacherConfig, LlamaTeacherOptions, NodeLlamaCpp, ResolvedLlamaTeacherConfig } from './llama.ts';
export { readGgufHeader } from './gguf.ts';
export type { GgufHeader } from './gguf.ts';
export { createTeacher, llmTeacherConfig, TEACHERS } from './registry.ts';
export { crossEncoderTeacherConfig } from './registry.ts';
export {
  CROSS_ENCODER_DEFAULTS,
  CROSS_ENCODER_ENV,
  CROSS_ENCODER_SCHEME,
  crossEncoderConfigFromEnv,
  CrossEncoderTeacher,
  createCrossEncoderTeacher,
  inspectCrossEncoderFolder,
  levelOfLabels,
} from './cross-encoder.ts';
export type { CrossEncoderFolder, CrossEncoderTeacherConfig } from './cross-encoder.ts';
export type { TeacherCreateOptions, TeacherFactory } from './registry.ts';
export * from './evaluate.ts';

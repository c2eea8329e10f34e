/** The teacher stage: LLM (endpoint or local GGUF) and local judges of (query, item) pairs, by name. */
export type { Teacher, TeacherJudgment, TeacherPair } from './types.ts';
export { createLlmTeacher, LlmTeacher, llmTeacherConfigFromEnv, resolveLlmTeacherConfig } from './llm.ts';
export type { LlmTeacherConfig } from './llm.ts';
export { ITEM_CLOSE, ITEM_OPEN, neutralise, PROMPT_VERSION, SYSTEM_PROMPTS } from './prompt.ts';
export { defaultLocalTeacherDir, LOCAL_TEACHER_FORMAT_VERSION, LocalTeacher, trainLocalTeacher } from './local.ts';
export type { TrainedLocalTeacher } from './local.ts';
export { LOCAL_FEATURES, LOCAL_FEATURE_SET_ID, LocalFeatureExtractor, withinOneEdit } from './local-features.ts';
export type { AssocHoldout } from './local-features.ts';
export { createLlamaTeacher, digitLevel, importNodeLlamaCpp, LlamaTeacher, llamaTeacherConfigFromEnv } from './llama.ts';
export { readGgufHeader } from './gguf.ts';
export { createTeacher, TEACHERS } from './registry.ts';
export { CrossEncoderTeacher, levelOfLabels } from './cross-encoder.ts';

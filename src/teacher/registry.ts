/**
 * The teachers, by name. Each entry says what it is, whether it is an LLM (an LLM teacher costs money
 * or GPU time per call and its labels go through the budgeted labelling job), and how to build it.
 *
 * Reserved for later (not implemented): `llama` (a local GGUF through node-llama-cpp),
 * `onnx-cross-encoder` (a local ONNX cross-encoder folder), `local` (a non-LLM model trained here).
 */
import { DistilrankError, unknownName } from '../errors.ts';
import { createLlmTeacher, llmTeacherConfigFromEnv, LLM_ENV, type Env, type LlmTeacherOverrides, type ResolvedLlmTeacherConfig } from './llm.ts';
import type { Teacher } from './types.ts';

export interface TeacherCreateOptions {
  /** Where DISTILRANK_* settings are read from (default: process.env). */
  env?: Env;
  /**
   * Settings that override the environment, by the teacher's config field names (for `llm`: the
   * fields of LlmTeacherConfig). Unknown names are BAD_OPTION errors.
   */
  settings?: Readonly<Record<string, unknown>>;
}

export interface TeacherFactory {
  /** One line for `--help` and docs. */
  description: string;
  /** True for LLM teachers (per-call cost in money or accelerator time). */
  isLLM: boolean;
  create(options?: TeacherCreateOptions): Teacher;
}

const LLM_FIELDS = ['baseURL', 'apiKey', 'model', 'pricing', 'timeoutMs', 'mode', 'samples', 'temperature', 'seed', 'maxItemChars'] as const;

/** The llm teacher's config: the environment, with explicit settings on top. */
export function llmTeacherConfig(options: TeacherCreateOptions = {}): ResolvedLlmTeacherConfig {
  const settings = options.settings ?? {};
  for (const key of Object.keys(settings)) {
    if (!(LLM_FIELDS as readonly string[]).includes(key)) {
      throw new DistilrankError('BAD_OPTION', `the llm teacher has no setting "${key}"`, {
        field: key,
        hint: `use one of: ${LLM_FIELDS.join(', ')}`,
      });
    }
  }
  return llmTeacherConfigFromEnv(options.env ?? process.env, settings as LlmTeacherOverrides);
}

export const TEACHERS: Readonly<Record<string, TeacherFactory>> = Object.freeze({
  llm: Object.freeze({
    description: `an OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp server, hosted APIs): logprobs of a one-digit answer, or k structured samples; set ${Object.keys(LLM_ENV).slice(0, 5).join(', ')}`,
    isLLM: true,
    create: (options?: TeacherCreateOptions) => createLlmTeacher(llmTeacherConfig(options)),
  }),
});

/** Build a teacher by registry name; UNKNOWN_NAME lists the valid names. */
export function createTeacher(name: string, options?: TeacherCreateOptions): Teacher {
  const factory = Object.hasOwn(TEACHERS, name) ? TEACHERS[name] : undefined;
  if (!factory) throw unknownName('teacher', name, Object.keys(TEACHERS));
  return factory.create(options);
}

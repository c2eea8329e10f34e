/**
 * The teachers, by name. Each entry says what it is, whether it is an LLM (an LLM teacher costs money
 * or GPU time per call and its labels go through the budgeted labelling job), and how to build it.
 *
 * `local` is not an LLM: an ensemble trained here on the human labels (./local.ts), the default where
 * no LLM is configured. `onnx-cross-encoder` is a local ONNX cross-encoder folder run through
 * transformers.js (./cross-encoder.ts), configured by DISTILRANK_CROSS_ENCODER_DIR. `llama` runs a
 * local GGUF model through node-llama-cpp (./llama.ts), configured by DISTILRANK_LLAMA_MODEL.
 */
import { DistilrankError, unknownName } from '../core/index.ts';
import { createLlmTeacher, llmTeacherConfigFromEnv, LLM_ENV, type LlmTeacherOverrides, type ResolvedLlmTeacherConfig } from './llm.ts';
import { type Env } from '../jobs/index.ts';
import { LOCAL_TEACHER_DESCRIPTION, LocalTeacher } from './local.ts';
import { createCrossEncoderTeacher, crossEncoderConfigFromEnv, type CrossEncoderTeacherConfig } from './cross-encoder.ts';
import { createLlamaTeacher, llamaTeacherConfigFromEnv } from './llama.ts';
import type { Dataset } from '../store/index.ts';
import type { Teacher } from './types.ts';

export interface TeacherCreateOptions {
  /** Where DISTILRANK_* settings are read from (default: process.env). */
  env?: Env;
  /**
   * Settings that override the environment, by the teacher's config field names (for `llm`: the
   * fields of LlmTeacherConfig). Unknown names are BAD_OPTION errors.
   */
  settings?: Readonly<Record<string, unknown>>;
  /** For `local`: the data set whose trained teacher to load. */
  dataset?: Dataset;
  /** For `local`: the artifact folder (default: defaultLocalTeacherDir of the store and data set). */
  modelDir?: string;
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
  local: Object.freeze({
    description: `the default without an LLM; ${LOCAL_TEACHER_DESCRIPTION}`,
    isLLM: false,
    create: (options?: TeacherCreateOptions) => {
      if (!options?.dataset) {
        throw new DistilrankError('BAD_OPTION', 'the local teacher needs a store and a data set', {
          field: 'dataset',
          hint: 'pass --dataset NAME (and --store PATH): the local teacher is trained per data set',
        });
      }
      return LocalTeacher.load(options.dataset, options.modelDir);
    },
  }),
  'onnx-cross-encoder': Object.freeze({
    description:
      'a local ONNX cross-encoder folder (exported Hugging Face sequence classifier with five labels) run by transformers.js, nothing downloaded; set DISTILRANK_CROSS_ENCODER_DIR',
    isLLM: false,
    create: (options?: TeacherCreateOptions) => createCrossEncoderTeacher(crossEncoderTeacherConfig(options)),
  }),
  llama: Object.freeze({
    description:
      'a local GGUF model run in-process by node-llama-cpp (CPU by default): next-token probabilities of a one-digit answer; set DISTILRANK_LLAMA_MODEL (and DISTILRANK_LLAMA_THREADS, …)',
    isLLM: true,
    create: (options?: TeacherCreateOptions) => createLlamaTeacher(llamaTeacherConfigFromEnv(options?.env ?? process.env, options?.settings)),
  }),
});

const CROSS_ENCODER_FIELDS = ['dir', 'maxBatch', 'maxLength', 'threads'] as const;

/** The onnx-cross-encoder teacher's config: DISTILRANK_CROSS_ENCODER_*, with explicit settings on top. */
export function crossEncoderTeacherConfig(options: TeacherCreateOptions = {}): CrossEncoderTeacherConfig {
  const settings = options.settings ?? {};
  for (const key of Object.keys(settings)) {
    if (!(CROSS_ENCODER_FIELDS as readonly string[]).includes(key)) {
      throw new DistilrankError('BAD_OPTION', `the onnx-cross-encoder teacher has no setting "${key}"`, {
        field: key,
        hint: `use one of: ${CROSS_ENCODER_FIELDS.join(', ')}`,
      });
    }
  }
  return crossEncoderConfigFromEnv(options.env ?? process.env, settings as Partial<CrossEncoderTeacherConfig>);
}

/** Build a teacher by registry name; UNKNOWN_NAME lists the valid names. */
export function createTeacher(name: string, options?: TeacherCreateOptions): Teacher {
  const factory = Object.hasOwn(TEACHERS, name) ? TEACHERS[name] : undefined;
  if (!factory) throw unknownName('teacher', name, Object.keys(TEACHERS));
  return factory.create(options);
}

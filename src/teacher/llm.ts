/**
 * The `llm` teacher: relevance distributions from any OpenAI-compatible chat-completions endpoint
 * (vLLM, Ollama, llama.cpp server, hosted APIs) through the `openai` client.
 *
 * Two ways to read a distribution:
 * - `logprobs`: one short greedy completion (temperature 0) asking for a single digit; the first
 *   non-blank generated token's `top_logprobs` give the probability of the tokens "1" … "5" (also
 *   "L1" … "L5"), normalised over the five. One HTTP call, one or two output tokens.
 * - `samples`: k completions constrained to the strict JSON schema `{"level": 1|2|3|4|5}` at the
 *   configured temperature (one call with `n = k` where the endpoint honours `n`, otherwise k calls
 *   with seeds seed, seed+1, …); the distribution is the share of valid samples at each level, with NO
 *   smoothing: a level no sample chose gets 0 (k = 5 gives multiples of 0.2). Smoothing is a prior
 *   the consumer can add (and calibrate) itself; hiding it here would blur the cache.
 * - `auto` tries logprobs; when the endpoint returns none (or refuses the logprobs parameters with a
 *   400) it uses samples, and remembers that for the rest of this teacher's life.
 *
 * The teacher never retries (the labelling job owns retries: the client runs with maxRetries 0);
 * every failure is a CallError whose kind says what the job should do.
 */
import OpenAI from 'openai';
import { DistilrankError, isRecord, type Level, type LevelDistribution } from '../core/index.ts';
import { buildMessages, DEFAULT_MAX_ITEM_CHARS, PROMPT_VERSION, type AnswerFormat } from './prompt.ts';
import { CallError, endpointCallError, redactUrl, type CallCost, type Env, type LlmPricing } from '../jobs/index.ts';
import type { Teacher, TeacherJudgment, TeacherPair } from './types.ts';

export type LlmMode = 'logprobs' | 'samples' | 'auto';
export const LLM_MODES: readonly LlmMode[] = ['logprobs', 'samples', 'auto'];

export interface LlmTeacherConfig {
  /** The endpoint's base URL, up to and including /v1 (e.g. http://127.0.0.1:8000/v1). */
  baseURL: string;
  /** Sent as a Bearer token; local servers usually need none (a placeholder is sent). */
  apiKey?: string;
  /** The model name the endpoint serves. */
  model: string;
  pricing: LlmPricing;
  /** Time limit of one HTTP call, headers and body, in milliseconds. Default 60 000. */
  timeoutMs?: number;
  /** How the distribution is read. Default 'auto'. */
  mode?: LlmMode;
  /** Samples per pair in the samples mode. Default 5. */
  samples?: number;
  /** Sampling temperature in the samples mode. Default 1. */
  temperature?: number;
  /** Sent as `seed` when set (samples made with separate calls get seed, seed+1, …). */
  seed?: number;
  /** Character budget of the item text in the prompt. Default 2000. */
  maxItemChars?: number;
}

/** A config with every default filled in. */
export interface ResolvedLlmTeacherConfig {
  baseURL: string;
  apiKey: string | undefined;
  model: string;
  pricing: LlmPricing;
  timeoutMs: number;
  mode: LlmMode;
  samples: number;
  temperature: number;
  seed: number | undefined;
  maxItemChars: number;
}

export const LLM_DEFAULTS = Object.freeze({
  timeoutMs: 60_000,
  mode: 'auto' as LlmMode,
  samples: 5,
  temperature: 1,
  maxItemChars: DEFAULT_MAX_ITEM_CHARS,
});

/** top_logprobs requested in the logprobs mode (the OpenAI API's and vLLM's default maximum). */
export const TOP_LOGPROBS = 20;
/** max_tokens in the logprobs mode: room for one leading blank token before the digit. */
export const LOGPROBS_MAX_TOKENS = 2;
/** max_tokens per sample in the samples mode (`{"level": 4}` is about six tokens). */
export const SAMPLES_MAX_TOKENS = 20;

/** The strict JSON schema of one sample. */
export const LEVEL_SCHEMA = Object.freeze({
  name: 'relevance_level',
  strict: true,
  schema: {
    type: 'object',
    properties: { level: { type: 'integer', enum: [1, 2, 3, 4, 5] } },
    required: ['level'],
    additionalProperties: false,
  },
});

// ---------------------------------------------------------------------------------------------

// Configuration

/** The environment variables the llm teacher reads, with what each holds. */
export const LLM_ENV = Object.freeze({
  DISTILRANK_LLM_BASE_URL: 'base URL of the OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 (required)',
  DISTILRANK_LLM_MODEL: 'model name the endpoint serves (required)',
  DISTILRANK_LLM_API_KEY: 'API key, sent as a Bearer token (optional for local servers)',
  DISTILRANK_LLM_PRICE_INPUT: 'USD per 1M input tokens, 0 for a self-hosted model (required)',
  DISTILRANK_LLM_PRICE_OUTPUT: 'USD per 1M output tokens, 0 for a self-hosted model (required)',
  DISTILRANK_LLM_MODE: 'logprobs, samples or auto (default auto)',
  DISTILRANK_LLM_SAMPLES: 'samples per pair in the samples mode (default 5)',
  DISTILRANK_LLM_TEMPERATURE: 'sampling temperature in the samples mode (default 1)',
  DISTILRANK_LLM_SEED: 'integer seed sent to the endpoint (optional)',
  DISTILRANK_LLM_TIMEOUT_MS: 'time limit of one HTTP call in milliseconds (default 60000)',
  DISTILRANK_LLM_MAX_ITEM_CHARS: 'character budget of the item text in the prompt (default 2000)',
});

function bad(field: string, message: string, hint: string): DistilrankError {
  return new DistilrankError('BAD_OPTION', message, { field, hint });
}

function envString(env: Env, name: keyof typeof LLM_ENV): string | undefined {
  const v = env[name];
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

function envNumber(env: Env, name: keyof typeof LLM_ENV, hint: string): number | undefined {
  const v = envString(env, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw bad(name, `${name}="${v}" is not a number`, `set ${name} to ${hint}`);
  return n;
}

/** The DISTILRANK_LLM_* values that are set, parsed (numbers checked), nothing required yet. */
export function readLlmEnv(env: Env): Partial<Omit<LlmTeacherConfig, 'pricing'>> & { pricing: Partial<LlmPricing> } {
  const out: Partial<Omit<LlmTeacherConfig, 'pricing'>> & { pricing: Partial<LlmPricing> } = { pricing: {} };
  const priceHint = 'a price in USD per 1M tokens, e.g. 0.15 (0 for a self-hosted model)';
  const baseURL = envString(env, 'DISTILRANK_LLM_BASE_URL');
  if (baseURL !== undefined) out.baseURL = baseURL;
  const model = envString(env, 'DISTILRANK_LLM_MODEL');
  if (model !== undefined) out.model = model;
  const apiKey = envString(env, 'DISTILRANK_LLM_API_KEY');
  if (apiKey !== undefined) out.apiKey = apiKey;
  const input = envNumber(env, 'DISTILRANK_LLM_PRICE_INPUT', priceHint);
  if (input !== undefined) out.pricing.inputPerMTok = input;
  const output = envNumber(env, 'DISTILRANK_LLM_PRICE_OUTPUT', priceHint);
  if (output !== undefined) out.pricing.outputPerMTok = output;
  const mode = envString(env, 'DISTILRANK_LLM_MODE');
  if (mode !== undefined) out.mode = mode as LlmMode;
  const numbers = [
    ['timeoutMs', 'DISTILRANK_LLM_TIMEOUT_MS', 'a time in milliseconds, e.g. 60000'],
    ['samples', 'DISTILRANK_LLM_SAMPLES', 'a whole number of samples, e.g. 5'],
    ['temperature', 'DISTILRANK_LLM_TEMPERATURE', 'a temperature between 0 and 2, e.g. 1'],
    ['seed', 'DISTILRANK_LLM_SEED', 'an integer'],
    ['maxItemChars', 'DISTILRANK_LLM_MAX_ITEM_CHARS', 'a number of characters, e.g. 2000'],
  ] as const;
  for (const [field, name, hint] of numbers) {
    const v = envNumber(env, name, hint);
    if (v !== undefined) out[field] = v;
  }
  return out;
}

/** Settings given in code or on the command line, which win over the environment. */
export type LlmTeacherOverrides = Partial<Omit<LlmTeacherConfig, 'pricing'>> & { pricing?: Partial<LlmPricing> };

/**
 * The llm teacher's config from DISTILRANK_LLM_* variables (see LLM_ENV), with `overrides` on top.
 * Missing or invalid values are BAD_OPTION errors that name the variable (or the override) and say
 * how to fix it.
 */
export function llmTeacherConfigFromEnv(env: Env = process.env, overrides: LlmTeacherOverrides = {}): ResolvedLlmTeacherConfig {
  const fromEnv = readLlmEnv(env);
  const given = new Set<string>();
  const merged: Record<string, unknown> = { ...fromEnv };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined || k === 'pricing') continue;
    merged[k] = v;
    given.add(k);
  }
  const pricing: Partial<LlmPricing> = { ...fromEnv.pricing };
  for (const k of ['inputPerMTok', 'outputPerMTok'] as const) {
    const v = overrides.pricing?.[k];
    if (v !== undefined) {
      pricing[k] = v;
      given.add(`pricing.${k}`);
    }
  }
  merged.pricing = pricing;
  const nameOf = (field: string): string | undefined => (given.has(field) ? field : ENV_OF_FIELD[field]);
  const required = (ok: boolean, field: string, what: string, hint: string): void => {
    if (ok) return;
    const name = nameOf(field) ?? field;
    throw bad(name, `${name} is not set: ${what}`, `set ${name} to ${hint}`);
  };
  const priceHint = 'a price in USD per 1M tokens, e.g. 0.15 (0 for a self-hosted model)';
  required(
    merged.baseURL !== undefined,
    'baseURL',
    'the llm teacher needs an OpenAI-compatible endpoint',
    "the endpoint's base URL, e.g. http://127.0.0.1:8000/v1 (vLLM) or http://127.0.0.1:11434/v1 (Ollama)",
  );
  required(merged.model !== undefined, 'model', 'the llm teacher needs a model name', 'the model name the endpoint serves');
  required(pricing.inputPerMTok !== undefined, 'pricing.inputPerMTok', 'costs and budgets need the price of input tokens', priceHint);
  required(pricing.outputPerMTok !== undefined, 'pricing.outputPerMTok', 'costs and budgets need the price of output tokens', priceHint);
  return resolveLlmTeacherConfig(merged as unknown as LlmTeacherConfig, nameOf);
}

const ENV_OF_FIELD: Readonly<Record<string, string>> = {
  baseURL: 'DISTILRANK_LLM_BASE_URL',
  apiKey: 'DISTILRANK_LLM_API_KEY',
  model: 'DISTILRANK_LLM_MODEL',
  'pricing.inputPerMTok': 'DISTILRANK_LLM_PRICE_INPUT',
  'pricing.outputPerMTok': 'DISTILRANK_LLM_PRICE_OUTPUT',
  timeoutMs: 'DISTILRANK_LLM_TIMEOUT_MS',
  mode: 'DISTILRANK_LLM_MODE',
  samples: 'DISTILRANK_LLM_SAMPLES',
  temperature: 'DISTILRANK_LLM_TEMPERATURE',
  seed: 'DISTILRANK_LLM_SEED',
  maxItemChars: 'DISTILRANK_LLM_MAX_ITEM_CHARS',
};

/**
 * Check a config and fill in the defaults. `nameOf` turns a config field into the name the user
 * knows it by (an environment variable, a CLI option); by default the field name itself.
 */
export function resolveLlmTeacherConfig(config: LlmTeacherConfig, nameOf: (field: string) => string | undefined = () => undefined): ResolvedLlmTeacherConfig {
  const name = (field: string): string => nameOf(field) ?? field;
  const check = (ok: boolean, field: string, value: unknown, expected: string): void => {
    if (!ok) throw bad(name(field), `${name(field)}=${JSON.stringify(value)} is invalid: expected ${expected}`, `set ${name(field)} to ${expected}`);
  };

  const baseURL = typeof config.baseURL === 'string' ? config.baseURL.trim() : '';
  let url: URL | undefined;
  try {
    url = new URL(baseURL);
  } catch {
    url = undefined;
  }
  check(
    url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:'),
    'baseURL',
    config.baseURL,
    'an http(s) URL such as http://127.0.0.1:8000/v1',
  );
  check(typeof config.model === 'string' && config.model.trim() !== '', 'model', config.model, 'the model name the endpoint serves');
  check(config.apiKey === undefined || typeof config.apiKey === 'string', 'apiKey', '(hidden)', 'a string');
  const price = (v: unknown, field: string): number => {
    check(typeof v === 'number' && Number.isFinite(v) && v >= 0, field, v, 'a price in USD per 1M tokens, 0 or more');
    return v as number;
  };
  const pricing = {
    inputPerMTok: price(config.pricing?.inputPerMTok, 'pricing.inputPerMTok'),
    outputPerMTok: price(config.pricing?.outputPerMTok, 'pricing.outputPerMTok'),
  };
  const timeoutMs = config.timeoutMs ?? LLM_DEFAULTS.timeoutMs;
  check(Number.isInteger(timeoutMs) && timeoutMs > 0, 'timeoutMs', timeoutMs, 'a whole number of milliseconds above 0');
  const mode = config.mode ?? LLM_DEFAULTS.mode;
  check(LLM_MODES.includes(mode), 'mode', mode, `one of ${LLM_MODES.join(', ')}`);
  const samples = config.samples ?? LLM_DEFAULTS.samples;
  check(Number.isInteger(samples) && samples >= 1 && samples <= 128, 'samples', samples, 'a whole number from 1 to 128');
  const temperature = config.temperature ?? LLM_DEFAULTS.temperature;
  check(typeof temperature === 'number' && temperature >= 0 && temperature <= 2, 'temperature', temperature, 'a number from 0 to 2');
  check(config.seed === undefined || Number.isSafeInteger(config.seed), 'seed', config.seed, 'an integer');
  const maxItemChars = config.maxItemChars ?? LLM_DEFAULTS.maxItemChars;
  check(Number.isInteger(maxItemChars) && maxItemChars >= 16, 'maxItemChars', maxItemChars, 'a whole number of characters, 16 or more');
  return {
    baseURL: baseURL.replace(/\/+$/, ''),
    apiKey: config.apiKey === undefined || config.apiKey === '' ? undefined : config.apiKey,
    model: config.model.trim(),
    pricing,
    timeoutMs,
    mode,
    samples,
    temperature,
    seed: config.seed,
    maxItemChars,
  };
}

/** The promptVersion of a config: the prompt plus everything that changes how the distribution is read. */
export function llmPromptVersion(c: ResolvedLlmTeacherConfig): string {
  const samples = `k${c.samples}-t${c.temperature}${c.seed === undefined ? '' : `-s${c.seed}`}`;
  const read = c.mode === 'logprobs' ? 'logprobs' : c.mode === 'samples' ? `samples-${samples}` : `auto-${samples}`;
  return `${PROMPT_VERSION}/${read}/chars${c.maxItemChars}`;
}

// ---------------------------------------------------------------------------------------------
// Reading answers

/** The level a generated token stands for: "4", " 4", "L4", "▁4" … or null. */
export function tokenLevel(token: string): Level | null {
  const t = token.replace(/^[\s\u2581\u0120]+/, '').trim();
  const m = /^[Ll]?([1-5])$/.exec(t);
  return m ? (Number(m[1]) as Level) : null;
}

/**
 * The distribution in one choice's logprobs: at the first non-blank generated position, the
 * probability mass of the top tokens that name a level, normalised over the five levels.
 * Returns 'absent' when the choice has no usable logprobs at all, null when none of the top tokens
 * names a level.
 */
export function distributionFromLogprobs(choice: unknown): LevelDistribution | null | 'absent' {
  if (!isRecord(choice) || !isRecord(choice.logprobs) || !Array.isArray(choice.logprobs.content)) return 'absent';
  const positions = choice.logprobs.content.filter(isRecord);
  if (positions.length === 0) return 'absent';
  const first = positions.find((p) => typeof p.token === 'string' && p.token.trim() !== '') ?? positions[0]!;
  const top = Array.isArray(first.top_logprobs) ? first.top_logprobs.filter(isRecord) : [];
  const candidates = top.length > 0 ? top : [first];
  if (top.length === 0 && positions.every((p) => !Array.isArray(p.top_logprobs) || p.top_logprobs.length === 0)) {
    // Only the chosen tokens, no alternatives: not a distribution.
    return 'absent';
  }
  const mass: LevelDistribution = [0, 0, 0, 0, 0];
  const seen = new Set<string>();
  let total = 0;
  for (const t of candidates) {
    if (typeof t.token !== 'string' || typeof t.logprob !== 'number' || Number.isNaN(t.logprob)) continue;
    if (seen.has(t.token)) continue; // a server listing a token twice must not count it twice
    seen.add(t.token);
    const level = tokenLevel(t.token);
    if (level === null) continue;
    const p = Math.exp(t.logprob);
    if (!Number.isFinite(p)) continue;
    mass[level - 1] = mass[level - 1]! + p;
    total += p;
  }
  if (!(total > 0)) return null;
  return mass.map((m) => m / total) as LevelDistribution;
}

/** The level in one structured sample (`{"level": 4}`), or null when it is not a valid sample. */
export function sampleLevel(content: unknown): Level | null {
  if (typeof content !== 'string') return null;
  let text = content.trim();
  const fenced = /^```(?:json)?\s*([\s\S]*?)\s*```$/i.exec(text);
  if (fenced) text = fenced[1]!;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(parsed)) return null;
  const level = parsed.level;
  return typeof level === 'number' && Number.isInteger(level) && level >= 1 && level <= 5 ? (level as Level) : null;
}

/** The share of valid samples at each level (as judge() computes it), or null when none is valid. */
export function distributionFromSampleContents(contents: readonly unknown[]): LevelDistribution | null {
  const counts: LevelDistribution = [0, 0, 0, 0, 0];
  let valid = 0;
  for (const content of contents) {
    const level = sampleLevel(content);
    if (level === null) continue;
    counts[level - 1] = counts[level - 1]! + 1;
    valid += 1;
  }
  return valid === 0 ? null : (counts.map((c) => c / valid) as LevelDistribution);
}

// ---------------------------------------------------------------------------------------------
// The teacher

interface CallResult {
  body: Record<string, unknown>;
  choices: unknown[];
}

interface Meter {
  calls: number;
  inputTokens: number;
  outputTokens: number;
}

const NO_KEY = 'no-key';

export class LlmTeacher implements Teacher {
  readonly name = 'llm';
  readonly model: string;
  readonly promptVersion: string;
  readonly config: Readonly<ResolvedLlmTeacherConfig>;
  private readonly client: OpenAI;
  private readonly endpoint: string;
  /** In auto mode: set once the endpoint has shown whether it returns logprobs. */
  private resolvedMode: 'logprobs' | 'samples' | undefined;
  /** False once the endpoint has shown that it ignores or refuses `n`. */
  private nSupported = true;

  constructor(config: LlmTeacherConfig | ResolvedLlmTeacherConfig) {
    this.config = Object.freeze(resolveLlmTeacherConfig(config as LlmTeacherConfig));
    this.model = this.config.model;
    this.promptVersion = llmPromptVersion(this.config);
    this.resolvedMode = this.config.mode === 'auto' ? undefined : this.config.mode;
    this.endpoint = `${redactUrl(this.config.baseURL)}/chat/completions`;
    this.client = new OpenAI({
      baseURL: this.config.baseURL,
      // Never let the client fall back to OPENAI_API_KEY / OPENAI_ORG_ID …: they belong to another endpoint.
      apiKey: this.config.apiKey ?? NO_KEY,
      organization: null,
      project: null,
      webhookSecret: null,
      maxRetries: 0,
      timeout: this.config.timeoutMs,
      logLevel: 'off',
    });
  }

  /** How distributions are read now: the configured mode, or what auto settled on (undefined: not yet). */
  get currentMode(): 'logprobs' | 'samples' | undefined {
    return this.resolvedMode;
  }

  // -------------------------------------------------------------------------------------------
  // Offline batches (the OpenAI Batch API and `vllm run-batch` JSONL): the request judge() sends,
  // and judge()'s reading of the answer, without any HTTP call.

  /**
   * The mode a batch runs in: the configured one. 'auto' is refused (BAD_OPTION): it decides from the
   * endpoint's first answers, which a batch does not have, and its labels are keyed under 'auto'.
   */
  batchMode(): 'logprobs' | 'samples' {
    const mode = this.config.mode;
    if (mode === 'auto') {
      throw new DistilrankError('BAD_OPTION', "the llm teacher's mode is auto, which a batch cannot use: it picks the mode from the endpoint's first answers", {
        field: 'DISTILRANK_LLM_MODE',
        hint: 'set DISTILRANK_LLM_MODE (or the mode option) to logprobs (the endpoint returns top_logprobs) or samples (the endpoint honours n)',
      });
    }
    return mode;
  }

  /**
   * The /v1/chat/completions body judge() sends for `pair` in one call: the logprobs request, or in
   * the samples mode the one request with n = k (a batch cannot top up with single calls, so the
   * endpoint must honour n; see parseBatchResponse).
   */
  batchRequestBody(pair: TeacherPair): Record<string, unknown> {
    if (this.batchMode() === 'logprobs') {
      return this.params(pair, 'digit', { max_tokens: LOGPROBS_MAX_TOKENS, temperature: 0, logprobs: true, top_logprobs: TOP_LOGPROBS });
    }
    const k = this.config.samples;
    const seed = this.config.seed;
    return this.params(pair, 'json', {
      max_tokens: SAMPLES_MAX_TOKENS,
      temperature: this.config.temperature,
      response_format: { type: 'json_schema', json_schema: LEVEL_SCHEMA },
      ...(k > 1 ? { n: k } : {}),
      ...(seed === undefined ? {} : { seed }),
    });
  }

  /**
   * The judgment in one chat-completion body answering batchRequestBody, read as judge() reads it;
   * cost: one call, the body's usage at the configured prices, 0 seconds (a batch has no per-request
   * time). Throws CallError when the body cannot be read (no logprobs, no level, fewer than
   * k samples because the endpoint ignored n).
   */
  parseBatchResponse(body: unknown): TeacherJudgment {
    const mode = this.batchMode();
    if (!isRecord(body)) throw new CallError('malformed', 'the response body is not a JSON object');
    const meter: Meter = { calls: 1, inputTokens: 0, outputTokens: 0 };
    if (isRecord(body.usage)) {
      const u = body.usage;
      if (typeof u.prompt_tokens === 'number' && Number.isFinite(u.prompt_tokens)) meter.inputTokens += u.prompt_tokens;
      if (typeof u.completion_tokens === 'number' && Number.isFinite(u.completion_tokens)) meter.outputTokens += u.completion_tokens;
    }
    const choices = body.choices;
    if (!Array.isArray(choices) || choices.length === 0) throw new CallError('malformed', 'the response has no choices');
    if (mode === 'logprobs') {
      const dist = distributionFromLogprobs(choices[0]);
      if (dist === 'absent') {
        throw new CallError('fatal', `the response has no logprobs for model "${this.model}": use the samples mode with this endpoint`);
      }
      if (dist === null) throw new CallError('malformed', 'none of the top tokens of the answer is a level 1–5');
      return { distribution: dist, method: 'logprobs', cost: this.cost(meter, 0) };
    }
    const k = this.config.samples;
    if (choices.length < k) {
      throw new CallError('malformed', `the response has ${choices.length} of ${k} samples: the endpoint ignored n (label such endpoints without a batch)`);
    }
    const dist = distributionFromSampleContents(choices.slice(0, k).map((c) => (isRecord(c) && isRecord(c.message) ? c.message.content : undefined)));
    if (dist === null) throw new CallError('malformed', `none of the ${k} samples was a JSON object {"level": 1–5}`);
    return { distribution: dist, method: 'samples', cost: this.cost(meter, 0) };
  }

  async judge(pair: TeacherPair, signal?: AbortSignal): Promise<TeacherJudgment> {
    signal?.throwIfAborted();
    const started = performance.now();
    const meter: Meter = { calls: 0, inputTokens: 0, outputTokens: 0 };
    const finish = (distribution: LevelDistribution, method: string): TeacherJudgment => ({
      distribution,
      method,
      cost: this.cost(meter, (performance.now() - started) / 1000),
    });

    if (this.resolvedMode !== 'samples') {
      const got = await this.judgeLogprobs(pair, meter, signal);
      if (got !== 'absent') {
        this.resolvedMode = 'logprobs';
        return finish(got, 'logprobs');
      }
      this.resolvedMode = 'samples';
    }
    return finish(await this.judgeSamples(pair, meter, signal), 'samples');
  }

  private cost(m: Meter, seconds: number): CallCost {
    const { inputPerMTok, outputPerMTok } = this.config.pricing;
    return {
      calls: m.calls,
      inputTokens: m.inputTokens,
      outputTokens: m.outputTokens,
      seconds,
      usd: (m.inputTokens * inputPerMTok + m.outputTokens * outputPerMTok) / 1e6,
    };
  }

  /** The logprobs read; 'absent' (only in auto mode) when the endpoint gives no logprobs. */
  private async judgeLogprobs(pair: TeacherPair, meter: Meter, signal?: AbortSignal): Promise<LevelDistribution | 'absent'> {
    // Only the first answers of an auto teacher decide the mode; once logprobs worked they are required.
    const auto = this.config.mode === 'auto' && this.resolvedMode === undefined;
    let result: CallResult;
    try {
      result = await this.call(
        this.params(pair, 'digit', {
          max_tokens: LOGPROBS_MAX_TOKENS,
          temperature: 0,
          logprobs: true,
          top_logprobs: TOP_LOGPROBS,
        }),
        meter,
        signal,
      );
    } catch (e) {
      // Some endpoints refuse the logprobs parameters outright.
      if (auto && e instanceof CallError && e.status === 400) return 'absent';
      throw e;
    }
    const dist = distributionFromLogprobs(result.choices[0]);
    if (dist === 'absent') {
      if (auto) return 'absent';
      throw new CallError('fatal', `${this.endpoint} returned no logprobs for model "${this.model}": set the llm teacher's mode to samples (or auto)`);
    }
    if (dist === null) {
      throw new CallError('malformed', `${this.endpoint}: none of the top tokens of the answer is a level 1–5`);
    }
    return dist;
  }

  private async judgeSamples(pair: TeacherPair, meter: Meter, signal?: AbortSignal): Promise<LevelDistribution> {
    const k = this.config.samples;
    const seed = this.config.seed;
    const base = {
      max_tokens: SAMPLES_MAX_TOKENS,
      temperature: this.config.temperature,
      response_format: { type: 'json_schema', json_schema: LEVEL_SCHEMA },
    };
    const contents: unknown[] = [];
    let nRefused = false;
    if (k > 1 && this.nSupported) {
      try {
        const r = await this.call(this.params(pair, 'json', { ...base, n: k, ...(seed === undefined ? {} : { seed }) }), meter, signal);
        for (const c of r.choices.slice(0, k)) contents.push(isRecord(c) && isRecord(c.message) ? c.message.content : undefined);
        if (r.choices.length < k) this.nSupported = false; // the endpoint ignores n: top up with single calls
      } catch (e) {
        // llama.cpp's server refuses n > 1 with a 400; retry with single calls once to find out.
        if (!(e instanceof CallError && e.status === 400)) throw e;
        nRefused = true;
      }
    }
    while (contents.length < k) {
      const i = contents.length;
      const r = await this.call(this.params(pair, 'json', { ...base, ...(seed === undefined ? {} : { seed: seed + i }) }), meter, signal);
      if (nRefused) this.nSupported = false; // a single call worked where n did not
      const c = r.choices[0];
      contents.push(isRecord(c) && isRecord(c.message) ? c.message.content : undefined);
    }
    const counts: LevelDistribution = [0, 0, 0, 0, 0];
    let valid = 0;
    for (const content of contents) {
      const level = sampleLevel(content);
      if (level === null) continue;
      counts[level - 1] = counts[level - 1]! + 1;
      valid += 1;
    }
    if (valid === 0) {
      throw new CallError('malformed', `${this.endpoint}: none of the ${k} samples was a JSON object {"level": 1–5}`);
    }
    return counts.map((c) => c / valid) as LevelDistribution;
  }

  private params(pair: TeacherPair, format: AnswerFormat, extra: Record<string, unknown>): Record<string, unknown> {
    return {
      model: this.model,
      messages: buildMessages(pair.queryText, pair.itemText, format, this.config.maxItemChars),
      ...(this.config.seed !== undefined && format === 'digit' ? { seed: this.config.seed } : {}),
      ...extra,
    };
  }

  /** One HTTP call, counted in `meter`, with its own deadline; every failure becomes a CallError. */
  private async call(params: Record<string, unknown>, meter: Meter, signal?: AbortSignal): Promise<CallResult> {
    signal?.throwIfAborted();
    const deadline = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      deadline.abort();
    }, this.config.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
    meter.calls += 1;
    let raw: unknown;
    try {
      raw = await this.client.chat.completions.create(params as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming, {
        signal: combined,
        timeout: this.config.timeoutMs,
      });
    } catch (e) {
      if (signal?.aborted) signal.throwIfAborted();
      throw this.mapError(e, timedOut);
    } finally {
      clearTimeout(timer);
    }
    if (!isRecord(raw)) {
      throw new CallError('malformed', `${this.endpoint} answered with something that is not a JSON object`);
    }
    const usage = raw.usage;
    if (isRecord(usage)) {
      if (typeof usage.prompt_tokens === 'number' && Number.isFinite(usage.prompt_tokens)) meter.inputTokens += usage.prompt_tokens;
      if (typeof usage.completion_tokens === 'number' && Number.isFinite(usage.completion_tokens)) meter.outputTokens += usage.completion_tokens;
    }
    const choices = raw.choices;
    if (!Array.isArray(choices) || choices.length === 0) {
      throw new CallError('malformed', `${this.endpoint} answered without choices`);
    }
    return { body: raw, choices };
  }

  private mapError(e: unknown, timedOut: boolean): CallError {
    return endpointCallError(e, timedOut, {
      endpoint: this.endpoint,
      timeoutMs: this.config.timeoutMs,
      model: this.model,
      keyVariable: 'DISTILRANK_LLM_API_KEY',
      redact: (t) => this.redact(t),
    });
  }

  /** Remove the API key from any text that may end up in a message or a log. */
  private redact(text: string): string {
    const key = this.config.apiKey;
    let out = text;
    if (key !== undefined && key.length > 0) out = out.split(key).join('***');
    return out.length > 300 ? `${out.slice(0, 300)}…` : out;
  }
}

export function createLlmTeacher(config: LlmTeacherConfig): LlmTeacher {
  return new LlmTeacher(config);
}

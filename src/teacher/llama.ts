/**
 * The `llama` teacher: a local GGUF model run in-process through node-llama-cpp (llama.cpp), CPU
 * only by default. The distribution is read straight from the model's next-token distribution after
 * the prompt, with no generation: the same guideline prompt as the `llm` teacher (answer format: one
 * digit), rendered with the model's own chat template (the GGUF's tokenizer.chat_template, reasoning
 * off) or node-llama-cpp's plain general template when the file has none; then the probabilities of
 * every vocabulary token that reads as a digit 1–5 (with or without leading blanks: "5", "▁5", "Ġ5",
 * byte tokens) are summed per level and normalised over the five. Method 'next-token'.
 *
 * node-llama-cpp is an optional dependency: it is imported only when the first pair is judged, and a
 * missing or broken install is a MISSING_DEPENDENCY error that says how to install it. The GGUF file
 * itself is checked when the teacher is created (./gguf.ts), before anything is loaded.
 *
 * Loading a model is slow, so a teacher loads it once, on first use, and keeps one context. The
 * labelling job calls judge() concurrently (--concurrency, default 4). The context holds `sequences`
 * independent sequences (default 1); each judgment takes a free one and waits in FIFO order when all
 * are busy. One sequence is the right default on a CPU: each judgment is a prompt prefill of hundreds
 * of tokens, which already keeps every thread busy, so parallel sequences add memory (a KV cache
 * each) without adding throughput; on a GPU, several sequences are evaluated in one batch and do
 * help. Each sequence keeps its last prompt in its KV cache and evaluates only the tokens after the
 * common prefix with the next one (the constant system message, often the query), which is most of
 * a prompt.
 *
 * Cost per judgment: 1 call, the prompt's token count as input tokens, 0 output tokens, the seconds
 * spent evaluating (not waiting for a sequence), $0.
 */
import { basename } from 'node:path';
import type * as NodeLlamaCppModule from 'node-llama-cpp';
import type { ChatHistoryItem, ChatWrapper, Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { DistilrankError, type Level, type LevelDistribution } from '../core/index.ts';
import { readGgufHeader, type GgufHeader } from './gguf.ts';
import { type Env, CallError } from '../jobs/index.ts';
import { buildMessages, DEFAULT_MAX_ITEM_CHARS, PROMPT_VERSION } from './prompt.ts';
import { type Teacher, type TeacherJudgment, type TeacherPair } from './types.ts';

/** The node-llama-cpp module, as the dynamic import returns it. */
export type NodeLlamaCpp = typeof NodeLlamaCppModule;

export interface LlamaTeacherConfig {
  /** Path of the .gguf file. */
  modelPath: string;
  /** CPU threads for evaluation. Default: node-llama-cpp's choice (the machine's math cores). */
  threads?: number;
  /** Layers to offload to a GPU: 0 (the default) runs on the CPU only; 'max' offloads all. */
  gpuLayers?: number | 'max';
  /** Tokens per sequence (capped at the model's training context). Default 4096. */
  contextSize?: number;
  /** Independent sequences in the context (judgments evaluated at once). Default 1. */
  sequences?: number;
  /** Character budget of the item text in the prompt. Default 2000. */
  maxItemChars?: number;
}

export interface ResolvedLlamaTeacherConfig {
  modelPath: string;
  threads: number | undefined;
  gpuLayers: number | 'max';
  contextSize: number;
  sequences: number;
  maxItemChars: number;
}

export const LLAMA_DEFAULTS = Object.freeze({ gpuLayers: 0, contextSize: 4096, sequences: 1, maxItemChars: DEFAULT_MAX_ITEM_CHARS });

/** The environment variables the llama teacher reads, with what each holds. */
export const LLAMA_ENV = Object.freeze({
  DISTILRANK_LLAMA_MODEL: 'path of the GGUF model file (required)',
  DISTILRANK_LLAMA_THREADS: "CPU threads (default: node-llama-cpp's choice, the machine's math cores)",
  DISTILRANK_LLAMA_GPU_LAYERS: 'layers to offload to a GPU: 0 runs on the CPU only (default), max offloads all',
  DISTILRANK_LLAMA_CONTEXT_SIZE: "tokens per sequence, capped at the model's training context (default 4096)",
  DISTILRANK_LLAMA_SEQUENCES: 'sequences evaluated at once; more help on a GPU, not on a CPU (default 1)',
  DISTILRANK_LLAMA_MAX_ITEM_CHARS: 'character budget of the item text in the prompt (default 2000)',
});

const ENV_OF_FIELD: Readonly<Record<keyof LlamaTeacherConfig, keyof typeof LLAMA_ENV>> = {
  modelPath: 'DISTILRANK_LLAMA_MODEL',
  threads: 'DISTILRANK_LLAMA_THREADS',
  gpuLayers: 'DISTILRANK_LLAMA_GPU_LAYERS',
  contextSize: 'DISTILRANK_LLAMA_CONTEXT_SIZE',
  sequences: 'DISTILRANK_LLAMA_SEQUENCES',
  maxItemChars: 'DISTILRANK_LLAMA_MAX_ITEM_CHARS',
};

/** The config fields `settings` may override. */
export const LLAMA_FIELDS = Object.keys(ENV_OF_FIELD) as ReadonlyArray<keyof LlamaTeacherConfig>;

const INSTALL = 'npm install node-llama-cpp@3.21.1';

function bad(field: string, message: string, hint: string): DistilrankError {
  return new DistilrankError('BAD_OPTION', message, { field, hint });
}

/**
 * The llama teacher's config from DISTILRANK_LLAMA_* variables (see LLAMA_ENV), with `settings` (by
 * config field name) on top. Unknown settings, missing or invalid values are BAD_OPTION errors that
 * name the variable or setting.
 */
export function llamaTeacherConfigFromEnv(env: Env = process.env, settings: Readonly<Record<string, unknown>> = {}): ResolvedLlamaTeacherConfig {
  for (const key of Object.keys(settings)) {
    if (!(LLAMA_FIELDS as readonly string[]).includes(key)) {
      throw bad(key, `the llama teacher has no setting "${key}"`, `use one of: ${LLAMA_FIELDS.join(', ')}`);
    }
  }
  const given = new Set(Object.keys(settings).filter((k) => settings[k] !== undefined));
  const nameOf = (field: keyof LlamaTeacherConfig): string => (given.has(field) ? field : ENV_OF_FIELD[field]);
  const raw = (field: keyof LlamaTeacherConfig): unknown => {
    if (given.has(field)) return settings[field];
    const v = env[ENV_OF_FIELD[field]]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const int = (field: keyof LlamaTeacherConfig, min: number, fallback: number | undefined, what: string): number | undefined => {
    const v = raw(field);
    if (v === undefined) return fallback;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min) {
      throw bad(nameOf(field), `${nameOf(field)}=${JSON.stringify(v)} is invalid: expected ${what}`, `set ${nameOf(field)} to ${what}`);
    }
    return n;
  };

  const modelPath = raw('modelPath');
  if (modelPath === undefined) {
    throw bad(
      nameOf('modelPath'),
      `${nameOf('modelPath')} is not set: the llama teacher needs a GGUF model file`,
      `set ${nameOf('modelPath')} to the path of a .gguf file, e.g. DISTILRANK_LLAMA_MODEL=/models/qwen2.5-7b-instruct-q4_k_m.gguf`,
    );
  }
  if (typeof modelPath !== 'string') throw bad(nameOf('modelPath'), `${nameOf('modelPath')} must be a path`, 'give the path of a .gguf file');
  const gpuRaw = raw('gpuLayers');
  const gpuLayers = gpuRaw === 'max' ? 'max' : (int('gpuLayers', 0, LLAMA_DEFAULTS.gpuLayers, 'a whole number of layers (0 for CPU only) or max') as number);
  return {
    modelPath,
    threads: int('threads', 1, undefined, 'a whole number of threads, 1 or more'),
    gpuLayers,
    contextSize: int('contextSize', 64, LLAMA_DEFAULTS.contextSize, 'a whole number of tokens, 64 or more') as number,
    sequences: int('sequences', 1, LLAMA_DEFAULTS.sequences, 'a whole number of sequences, 1 or more') as number,
    maxItemChars: int('maxItemChars', 16, LLAMA_DEFAULTS.maxItemChars, 'a whole number of characters, 16 or more') as number,
  };
}

/** The promptVersion of a model file and config: the prompt, how it is read, and the file's identity. */
export function llamaPromptVersion(header: GgufHeader, config: ResolvedLlamaTeacherConfig): string {
  return `${PROMPT_VERSION}/next-token/chars${config.maxItemChars}/gguf-${header.identity.slice(0, 16)}`;
}

/** The level a token's text stands for: "5", " 5", "\n5 " … or null. */
export function digitLevel(text: string): Level | null {
  const m = /^\s*([1-5])\s*$/.exec(text);
  return m ? (Number(m[1]) as Level) : null;
}

/** Import node-llama-cpp; a missing or broken install is a MISSING_DEPENDENCY error saying how to install it. */
export async function importNodeLlamaCpp(load: () => Promise<NodeLlamaCpp> = () => import('node-llama-cpp')): Promise<NodeLlamaCpp> {
  try {
    return await load();
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const message = e instanceof Error ? e.message : String(e);
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes('node-llama-cpp')) {
      throw new DistilrankError('MISSING_DEPENDENCY', 'the llama teacher needs node-llama-cpp, which is not installed', {
        field: 'teacher',
        hint: `install it beside distilrank: ${INSTALL} (an optional dependency, with prebuilt CPU binaries for Linux, macOS and Windows)`,
      });
    }
    throw new DistilrankError('MISSING_DEPENDENCY', `node-llama-cpp could not be loaded: ${message}`, {
      field: 'teacher',
      hint: `reinstall it (${INSTALL}); its prebuilt binaries cover Linux, macOS and Windows on x64 and arm64`,
    });
  }
}

export interface LlamaTeacherOptions {
  /** How node-llama-cpp is imported (tests pass a failing one to check the error). */
  importBinding?: () => Promise<NodeLlamaCpp>;
  /** Keep each sequence's last prompt in its KV cache and evaluate only what follows the common prefix. Default true (false: the benchmark's ablation). */
  reusePrefix?: boolean;
}

interface Loaded {
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
  wrapper: ChatWrapper;
  /** Every token that reads as a level, with its level. */
  levelTokens: Map<Token, Level>;
  contextSize: number;
}

/** A sequence and the FIFO of judgments waiting for one. */
interface Waiter {
  resolve: (s: LlamaContextSequence) => void;
  reject: (e: unknown) => void;
}

export class LlamaTeacher implements Teacher {
  readonly name = 'llama';
  readonly model: string;
  readonly promptVersion: string;
  readonly header: GgufHeader;
  private loading: Promise<Loaded> | undefined;
  private free: LlamaContextSequence[] = [];
  private waiters: Waiter[] = [];
  private closed = false;
  private logTail: string[] = [];

  constructor(
    readonly config: ResolvedLlamaTeacherConfig,
    private readonly options: LlamaTeacherOptions = {},
  ) {
    this.header = readGgufHeader(config.modelPath, ENV_OF_FIELD.modelPath);
    this.model = basename(config.modelPath);
    this.promptVersion = llamaPromptVersion(this.header, config);
  }

  /** Load node-llama-cpp, the model and its context (once; judge() calls it). */
  load(): Promise<Loaded> {
    if (this.closed) return Promise.reject(new CallError('fatal', 'the llama teacher is closed'));
    this.loading ??= this.loadOnce();
    return this.loading;
  }

  private async loadOnce(): Promise<Loaded> {
    const lib = await importNodeLlamaCpp(this.options.importBinding);
    const c = this.config;
    const path = c.modelPath;
    const log = (level: unknown, message: string): void => {
      // llama.cpp's warnings and errors, kept for the error message when loading fails.
      if (level === lib.LlamaLogLevel.warn || level === lib.LlamaLogLevel.error || level === lib.LlamaLogLevel.fatal) {
        this.logTail.push(message.trim());
        if (this.logTail.length > 8) this.logTail.shift();
      }
    };
    let llama: Llama;
    try {
      llama = await lib.getLlama({
        gpu: c.gpuLayers === 0 ? false : 'auto',
        build: 'never',
        skipDownload: true,
        progressLogs: false,
        logLevel: lib.LlamaLogLevel.warn,
        logger: log,
        ...(c.threads !== undefined ? { maxThreads: c.threads } : {}),
      });
    } catch (e) {
      throw new DistilrankError('MISSING_DEPENDENCY', `node-llama-cpp has no usable llama.cpp binary here: ${errorText(e)}`, {
        field: 'teacher',
        hint: `reinstall node-llama-cpp (${INSTALL}); distilrank never compiles llama.cpp at run time`,
      });
    }
    let model: LlamaModel | undefined;
    try {
      model = await llama.loadModel({ modelPath: path, gpuLayers: c.gpuLayers === 'max' ? 'max' : c.gpuLayers });
      const contextSize = Math.min(c.contextSize, model.trainContextSize > 0 ? model.trainContextSize : c.contextSize);
      const context = await model.createContext({
        contextSize,
        sequences: c.sequences,
        ...(c.threads !== undefined ? { threads: c.threads } : {}),
      });
      this.free = Array.from({ length: c.sequences }, () => context.getSequence());
      const levelTokens = new Map<Token, Level>();
      for (const t of model.iterateAllTokens()) {
        if (model.isSpecialToken(t)) continue;
        const level = digitLevel(model.detokenize([t]));
        if (level !== null) levelTokens.set(t, level);
      }
      const present = new Set(levelTokens.values());
      const missing = ([1, 2, 3, 4, 5] as const).filter((l) => !present.has(l));
      if (missing.length) {
        throw new DistilrankError(
          'MODEL_MISMATCH',
          `the model's vocabulary has no token for the digit${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: it cannot answer on the 1–5 scale`,
          {
            file: path,
            hint: 'use an instruction-tuned chat model whose tokenizer has the digits 1–5',
          },
        );
      }
      return { llama, model, context, wrapper: chatWrapper(lib, this.header, model), levelTokens, contextSize: context.contextSize };
    } catch (e) {
      await model?.dispose().catch(() => undefined);
      await llama.dispose().catch(() => undefined);
      if (e instanceof DistilrankError) throw e;
      const detail = this.logTail.length ? ` (llama.cpp: ${this.logTail.slice(-3).join(' | ')})` : '';
      throw new DistilrankError('MODEL_MISMATCH', `llama.cpp could not load the model: ${errorText(e)}${detail}`, {
        file: path,
        hint: 'check that the file is a complete GGUF model of an architecture this node-llama-cpp (3.21.1) supports; with DISTILRANK_LLAMA_GPU_LAYERS above 0, try 0 (CPU only)',
      });
    }
  }

  /** The prompt's tokens: the chat rendered with the model's template, the answer turn opened. */
  promptTokens(loaded: Loaded, pair: TeacherPair): Token[] {
    const [system, user] = buildMessages(pair.queryText, pair.itemText, 'digit', this.config.maxItemChars);
    const chatHistory: ChatHistoryItem[] = [
      { type: 'system', text: system.content },
      { type: 'user', text: user.content },
      { type: 'model', response: [] },
    ];
    const { contextText } = loaded.wrapper.generateContextState({ chatHistory });
    return contextText.tokenize(loaded.model.tokenizer);
  }

  async judge(pair: TeacherPair, signal?: AbortSignal): Promise<TeacherJudgment> {
    signal?.throwIfAborted();
    const loaded = await this.load();
    const sequence = await this.acquire(signal);
    const started = performance.now();
    try {
      // An abort that came while the model loaded, or before a sequence was free, still counts.
      signal?.throwIfAborted();
      const tokens = this.promptTokens(loaded, pair);
      if (tokens.length >= loaded.contextSize) {
        throw new CallError(
          'malformed',
          `the prompt has ${tokens.length} tokens, more than the context of ${loaded.contextSize}: raise DISTILRANK_LLAMA_CONTEXT_SIZE or lower DISTILRANK_LLAMA_MAX_ITEM_CHARS`,
        );
      }
      const probabilities = await this.nextTokenProbabilities(sequence, tokens);
      const mass: LevelDistribution = [0, 0, 0, 0, 0];
      let total = 0;
      for (const [token, level] of loaded.levelTokens) {
        const p = probabilities.get(token) ?? 0;
        mass[level - 1] = mass[level - 1]! + p;
        total += p;
      }
      if (!(total > 0) || !Number.isFinite(total)) {
        throw new CallError('malformed', 'the model gives the digits 1–5 no probability after this prompt');
      }
      return {
        distribution: mass.map((m) => m / total) as LevelDistribution,
        method: 'next-token',
        cost: { calls: 1, inputTokens: tokens.length, outputTokens: 0, seconds: (performance.now() - started) / 1000, usd: 0 },
      };
    } finally {
      this.release(sequence);
    }
  }

  /**
   * Evaluate `tokens` on the sequence and return the full next-token distribution (softmax of the
   * logits at temperature 1, no top-k/top-p cut). The sequence's KV cache keeps the common prefix
   * with its previous prompt; at least the last token is always evaluated, to get its logits.
   */
  private async nextTokenProbabilities(sequence: LlamaContextSequence, tokens: Token[]): Promise<Map<Token, number>> {
    try {
      const common = this.options.reusePrefix === false ? 0 : sequence.compareContextTokens(tokens).firstDifferentIndex;
      const keep = Math.min(common, tokens.length - 1);
      if (keep < sequence.nextTokenIndex) await sequence.eraseContextTokenRanges([{ start: keep, end: sequence.nextTokenIndex }]);
      const rest = tokens.slice(keep);
      const last = rest.length - 1;
      const out = await sequence.controlledEvaluate(
        rest.map((t, i) => (i === last ? [t, { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } }] : t)),
      );
      const probabilities = out[last]?.next.probabilities;
      if (!probabilities) throw new Error('no next-token probabilities came back');
      return probabilities;
    } catch (e) {
      // The sequence's state is unknown now: forget it, so the next prompt is evaluated in full.
      await sequence.clearHistory().catch(() => undefined);
      throw new CallError('fatal', `llama.cpp failed to evaluate the prompt: ${errorText(e)}`);
    }
  }

  private acquire(signal?: AbortSignal): Promise<LlamaContextSequence> {
    if (this.closed) return Promise.reject(new CallError('fatal', 'the llama teacher is closed'));
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const s = this.free.pop();
    if (s) return Promise.resolve(s);
    return new Promise<LlamaContextSequence>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (seq) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(seq);
        },
        reject,
      };
      const onAbort = (): void => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private release(sequence: LlamaContextSequence): void {
    const next = this.waiters.shift();
    if (next) next.resolve(sequence);
    else this.free.push(sequence);
  }

  /** Free the model and its context; judgments waiting for a sequence fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(new CallError('fatal', 'the llama teacher was closed'));
    const loading = this.loading;
    if (!loading) return;
    const loaded = await loading.catch(() => undefined);
    if (!loaded) return;
    await loaded.context.dispose();
    await loaded.model.dispose();
    await loaded.llama.dispose();
  }
}

/**
 * The chat template: the GGUF's own (Jinja, rendered by node-llama-cpp with reasoning off, so a
 * thinking model answers at once), else node-llama-cpp's pick for the model, else its general one.
 */
function chatWrapper(lib: NodeLlamaCpp, header: GgufHeader, model: LlamaModel): ChatWrapper {
  const template = header.metadata.get('tokenizer.chat_template');
  if (typeof template === 'string' && template.trim() !== '') {
    try {
      const wrapper = new lib.JinjaTemplateChatWrapper({ template, reasoning: false, tokenizer: model.tokenizer });
      // Render once: a template node-llama-cpp cannot run fails here, not on the first pair.
      wrapper.generateContextState({
        chatHistory: [
          { type: 'system', text: 's' },
          { type: 'user', text: 'u' },
          { type: 'model', response: [] },
        ],
      });
      return wrapper;
    } catch {
      return lib.resolveChatWrapper(model, { fallbackToOtherWrappersOnJinjaError: true }) ?? new lib.GeneralChatWrapper();
    }
  }
  return new lib.GeneralChatWrapper();
}

function errorText(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** The teacher for a config; the GGUF file is checked now, the model loaded on first use. */
export function createLlamaTeacher(config: ResolvedLlamaTeacherConfig, options?: LlamaTeacherOptions): LlamaTeacher {
  return new LlamaTeacher(config, options);
}

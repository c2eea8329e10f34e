/**
 * The `onnx-cross-encoder` teacher: a local cross-encoder folder (an exported Hugging Face
 * sequence-classification model) run in-process through transformers.js, with remote loading off.
 * It has the shape of Pinterest's teacher: the (query, item text) pair goes in as one input
 * ([CLS] query [SEP] item [SEP] for BERT), the model gives one logit per relevance level, and the
 * softmax of those five logits is the distribution. Nothing is downloaded: the folder is the model.
 *
 * The folder: config.json (model_type, id2label with exactly five labels), tokenizer.json,
 * tokenizer_config.json, and onnx/model.onnx (the layout transformers.js and Optimum export) or
 * model.onnx at the folder's root. What the five labels mean is read from id2label (see levelOfLabels);
 * anything else is refused with MODEL_MISMATCH naming the file and field.
 *
 * Truncation: the query is never cut. When the pair is longer than the model's max length, the item
 * text is cut to the tokens that fit (the item's token prefix is decoded and re-encoded, so the cut
 * follows the tokenizer's own word pieces and the model's own special-token template). Only a query
 * that leaves fewer than half the window to the item is cut, to that half: a pair must hold some item.
 *
 * Batching: the labelling job calls judge() once per pair with `--concurrency` calls in flight. The
 * teacher gathers the pairs waiting at the moment into one forward pass (at most maxBatch), so
 * `--concurrency 32` gives batches of up to 32 without a second code path in the job. Cost per pair:
 * one call, its token count as input tokens, its share of the batch's seconds, $0.
 *
 * promptVersion (part of the label cache key) is a hash of config.json, the tokenizer files and the
 * bytes of the ONNX file(s), plus the version of this reading scheme: swapping or retraining the
 * model in the same folder never mixes its labels with the old ones.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { DistilrankError, LEVEL_NAMES, LEVELS, type Level, type LevelDistribution } from '../core/index.ts';
import { type Env, CallError } from '../jobs/index.ts';
import { type Teacher, type TeacherJudgment, type TeacherPair } from './types.ts';

/** Bumped whenever the way pairs are encoded or logits are read changes (part of promptVersion). */
export const CROSS_ENCODER_SCHEME = 'xenc1';

export const CROSS_ENCODER_ENV = Object.freeze({
  DISTILRANK_CROSS_ENCODER_DIR: 'folder of the cross-encoder: config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx (required)',
  DISTILRANK_CROSS_ENCODER_MAX_BATCH: 'most pairs in one forward pass (default 32)',
  DISTILRANK_CROSS_ENCODER_MAX_LENGTH: "token window of a pair, at most the model's own (default: the model's model_max_length, capped at 512)",
  DISTILRANK_CROSS_ENCODER_THREADS: 'onnxruntime intra-op threads (default 0: onnxruntime chooses)',
});

export interface CrossEncoderTeacherConfig {
  /** The model folder (relative paths resolve against the working directory). */
  dir: string;
  /** Most pairs in one forward pass. Default 32. */
  maxBatch?: number;
  /** Token window of a pair; only lowers the model's own. */
  maxLength?: number;
  /** onnxruntime intra-op threads; 0 lets onnxruntime choose. Default 0. */
  threads?: number;
}

export const CROSS_ENCODER_DEFAULTS = Object.freeze({ maxBatch: 32, threads: 0, maxLength: 512 });

/** The files a folder must hold, for messages. */
const EXPECTED =
  'config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx (or model.onnx) — an exported Hugging Face sequence-classification model';

function bad(field: string, message: string, hint: string): DistilrankError {
  return new DistilrankError('BAD_OPTION', message, { field, hint });
}

/**
 * The cross-encoder teacher's config from DISTILRANK_CROSS_ENCODER_* (see CROSS_ENCODER_ENV), with
 * `overrides` on top. BAD_OPTION names the variable that is missing or invalid.
 */
export function crossEncoderConfigFromEnv(env: Env = process.env, overrides: Partial<CrossEncoderTeacherConfig> = {}): CrossEncoderTeacherConfig {
  const read = (name: keyof typeof CROSS_ENCODER_ENV): string | undefined => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  const int = (name: keyof typeof CROSS_ENCODER_ENV, field: keyof CrossEncoderTeacherConfig, min: number): number | undefined => {
    const given = overrides[field];
    const raw = given !== undefined ? String(given) : read(name);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    const label = given !== undefined ? field : name;
    if (!Number.isInteger(n) || n < min)
      throw bad(label, `${label}=${JSON.stringify(raw)} is invalid: expected a whole number ≥ ${min}`, `set ${label} to a whole number ≥ ${min}`);
    return n;
  };
  const dir = overrides.dir ?? read('DISTILRANK_CROSS_ENCODER_DIR');
  if (!dir) {
    throw bad(
      'DISTILRANK_CROSS_ENCODER_DIR',
      'DISTILRANK_CROSS_ENCODER_DIR is not set: the onnx-cross-encoder teacher needs a model folder',
      `set DISTILRANK_CROSS_ENCODER_DIR to a folder holding ${EXPECTED}`,
    );
  }
  const config: CrossEncoderTeacherConfig = { dir };
  const maxBatch = int('DISTILRANK_CROSS_ENCODER_MAX_BATCH', 'maxBatch', 1);
  if (maxBatch !== undefined) config.maxBatch = maxBatch;
  const maxLength = int('DISTILRANK_CROSS_ENCODER_MAX_LENGTH', 'maxLength', 8);
  if (maxLength !== undefined) config.maxLength = maxLength;
  const threads = int('DISTILRANK_CROSS_ENCODER_THREADS', 'threads', 0);
  if (threads !== undefined) config.threads = threads;
  return config;
}

// ---------------------------------------------------------------------------------------------
// the folder

/**
 * Which level each output of the model is, from config.json's id2label (index i → level). Accepted,
 * case-insensitive, `-`/`_`/spaces alike, all five labels of one kind:
 * - numbered: `L1`…`L5`, `level 1`…`level 5`, `1`…`5`, `LABEL_1`… → that level; the same prefixes
 *   with `0`…`4` (e.g. the Hugging Face defaults `LABEL_0`…`LABEL_4`, or bare `0`…`4`) → number + 1;
 * - level names: `highly irrelevant`, `irrelevant`, `marginally relevant`, `relevant`, `highly relevant`.
 * Anything else (other counts, duplicates, mixed kinds, unknown names) is MODEL_MISMATCH.
 */
export function levelOfLabels(id2label: unknown, file: string): Level[] {
  const refuse = (why: string): DistilrankError =>
    new DistilrankError('MODEL_MISMATCH', `id2label ${why}; the cross-encoder must have exactly five outputs, one per relevance level`, {
      file,
      field: 'id2label',
      hint: 'use a model fine-tuned with five labels named L1…L5 (or 0…4, or the level names highly irrelevant … highly relevant)',
    });
  if (id2label === null || typeof id2label !== 'object' || Array.isArray(id2label)) throw refuse('is missing or not an object');
  const entries = Object.entries(id2label as Record<string, unknown>);
  if (entries.length !== 5) throw refuse(`has ${entries.length} label${entries.length === 1 ? '' : 's'}`);
  const labels: string[] = [];
  for (let i = 0; i < 5; i++) {
    const label = (id2label as Record<string, unknown>)[String(i)];
    if (typeof label !== 'string') throw refuse(`has no label for output ${i} (keys must be 0…4)`);
    labels.push(label);
  }
  const norm = labels.map((l) =>
    l
      .trim()
      .toLowerCase()
      .replace(/[-_\s]+/g, ' '),
  );
  const names = Object.fromEntries(LEVELS.map((l) => [LEVEL_NAMES[l], l])) as Record<string, Level>;
  let levels: number[];
  if (norm.every((l) => Object.hasOwn(names, l))) {
    levels = norm.map((l) => names[l]!);
  } else {
    const numbers = norm.map((l) => /^(?:l|level|label|grade)? ?([0-9])$/.exec(l)?.[1]);
    if (numbers.some((n) => n === undefined)) throw refuse(`labels ${JSON.stringify(labels)} are not levels`);
    const ns = numbers.map(Number);
    const zeroBased = ns.every((n) => n <= 4) && ns.includes(0);
    levels = ns.map((n) => (zeroBased ? n + 1 : n));
  }
  if (new Set(levels).size !== 5 || !levels.every((l) => l >= 1 && l <= 5))
    throw refuse(`labels ${JSON.stringify(labels)} do not name the five levels once each`);
  return levels as Level[];
}

function readJson(file: string, what: string): Record<string, unknown> {
  if (!existsSync(file)) {
    throw new DistilrankError('FILE_NOT_FOUND', `the cross-encoder folder has no ${basename(file)} (${what})`, {
      file,
      hint: `the folder must hold ${EXPECTED}`,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new DistilrankError('MODEL_MISMATCH', `${basename(file)} is not valid JSON (${(e as Error).message})`, {
      file,
      hint: 're-export the model, or copy the whole folder again',
    });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DistilrankError('MODEL_MISMATCH', `${basename(file)} does not hold a JSON object`, {
      file,
      hint: 're-export the model, or copy the whole folder again',
    });
  }
  return value as Record<string, unknown>;
}

/** SHA-256 of files, streamed (a real cross-encoder is hundreds of MB). */
function hashFiles(files: readonly string[]): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  for (const f of files) {
    h.update(`${basename(f)}\0${statSync(f).size}\0`);
    const fd = openSync(f, 'r');
    try {
      for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) h.update(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  }
  return h.digest('hex');
}

export interface CrossEncoderFolder {
  dir: string;
  /** Level of each model output, by output index. */
  levels: Level[];
  /** '' (model.onnx at the root) or 'onnx'. */
  subfolder: string;
  onnxFile: string;
  /** The model's own token window (tokenizer_config model_max_length, capped by config.json). */
  modelMaxLength: number;
  /** SHA-256 over config, tokenizer files and ONNX bytes. */
  sha256: string;
}

/** Check a cross-encoder folder without loading it (FILE_NOT_FOUND / MODEL_MISMATCH name the file). */
export function inspectCrossEncoderFolder(dirIn: string): CrossEncoderFolder {
  const dir = resolve(dirIn);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new DistilrankError('FILE_NOT_FOUND', 'no cross-encoder folder here', {
      file: dir,
      hint: `set DISTILRANK_CROSS_ENCODER_DIR to a folder holding ${EXPECTED}`,
    });
  }
  const configFile = join(dir, 'config.json');
  const config = readJson(configFile, 'the model config with model_type and id2label');
  const levels = levelOfLabels(config.id2label, configFile);
  if (typeof config.model_type !== 'string' || config.model_type === '') {
    throw new DistilrankError('MODEL_MISMATCH', 'config.json has no model_type (transformers.js needs it to pick the architecture)', {
      file: configFile,
      field: 'model_type',
      hint: 're-export the model with its Hugging Face config.json (e.g. model_type "bert")',
    });
  }
  const tokenizerFile = join(dir, 'tokenizer.json');
  const tokenizerConfigFile = join(dir, 'tokenizer_config.json');
  readJson(tokenizerFile, 'the fast-tokenizer definition');
  const tokenizerConfig = readJson(tokenizerConfigFile, 'the tokenizer settings');
  const nested = join(dir, 'onnx', 'model.onnx');
  const root = join(dir, 'model.onnx');
  const subfolder = existsSync(nested) ? 'onnx' : existsSync(root) ? '' : undefined;
  if (subfolder === undefined) {
    throw new DistilrankError('FILE_NOT_FOUND', 'the cross-encoder folder has no ONNX model (looked for onnx/model.onnx and model.onnx)', {
      file: nested,
      hint: 'export the model to ONNX (e.g. with Hugging Face Optimum) into onnx/model.onnx inside the folder',
    });
  }
  const onnxFile = subfolder ? nested : root;
  // external weights (model.onnx_data) are part of the model too
  const onnxDir = subfolder ? join(dir, 'onnx') : dir;
  const weights = readdirSync(onnxDir)
    .filter((f) => f.startsWith('model.onnx_data'))
    .sort()
    .map((f) => join(onnxDir, f));
  const fromTokenizer = Number(tokenizerConfig.model_max_length);
  const fromConfig = Number(config.max_position_embeddings);
  const candidates = [fromTokenizer, fromConfig, CROSS_ENCODER_DEFAULTS.maxLength].filter((n) => Number.isInteger(n) && n > 0);
  return {
    dir,
    levels,
    subfolder,
    onnxFile,
    modelMaxLength: Math.min(...candidates),
    sha256: hashFiles([configFile, tokenizerFile, tokenizerConfigFile, onnxFile, ...weights]),
  };
}

// ---------------------------------------------------------------------------------------------
// the teacher

/** The transformers.js pieces the teacher uses (loaded lazily: importing it costs ~0.3 s). */
interface Loaded {
  tokenizer: {
    (text: string, options: Record<string, unknown>): { input_ids: number[]; attention_mask: number[]; token_type_ids?: number[] };
    encode(text: string, options?: Record<string, unknown>): number[];
    decode(ids: number[], options?: Record<string, unknown>): string;
    all_special_tokens: string[];
    pad_token_id: number;
  };
  model: {
    (inputs: Record<string, unknown>): Promise<{ logits?: { dims: number[]; data: ArrayLike<number> } }>;
    dispose(): Promise<unknown>;
  };
  Tensor: new (type: 'int64', data: BigInt64Array, dims: number[]) => unknown;
}

interface Encoded {
  ids: number[];
  types: number[] | undefined;
}

interface Waiting {
  pair: TeacherPair;
  resolve: (j: TeacherJudgment) => void;
  reject: (e: unknown) => void;
}

export class CrossEncoderTeacher implements Teacher {
  readonly name = 'onnx-cross-encoder';
  /** The folder's name. */
  readonly model: string;
  /** `xenc1-<first 16 hex of the folder's SHA-256>`: a different model gives a different label cache key. */
  readonly promptVersion: string;
  readonly folder: CrossEncoderFolder;
  /** The token window of one pair. */
  readonly maxLength: number;
  readonly maxBatch: number;
  private readonly threads: number;
  /** Forward passes run and pairs judged so far (mean batch size = pairs / passes). */
  readonly stats = { passes: 0, pairs: 0 };
  private loading: Promise<Loaded> | undefined;
  private queue: Waiting[] = [];
  private running = false;
  private closed = false;
  private specials: RegExp | undefined;

  /** Checks the folder now (errors name the file); the model itself loads on the first judgment. */
  constructor(config: CrossEncoderTeacherConfig) {
    this.folder = inspectCrossEncoderFolder(config.dir);
    this.model = basename(this.folder.dir);
    this.promptVersion = `${CROSS_ENCODER_SCHEME}-${this.folder.sha256.slice(0, 16)}`;
    this.maxLength = Math.min(this.folder.modelMaxLength, config.maxLength ?? Infinity);
    this.maxBatch = config.maxBatch ?? CROSS_ENCODER_DEFAULTS.maxBatch;
    this.threads = config.threads ?? CROSS_ENCODER_DEFAULTS.threads;
  }

  /** Load the tokenizer and the ONNX session (once); MODEL_MISMATCH when transformers.js cannot. */
  load(): Promise<Loaded> {
    this.loading ??= (async () => {
      const tf = await import('@huggingface/transformers');
      tf.env.allowRemoteModels = false;
      tf.env.allowLocalModels = true;
      const { dir, subfolder, onnxFile } = this.folder;
      try {
        const tokenizer = (await tf.AutoTokenizer.from_pretrained(dir, { local_files_only: true })) as unknown as Loaded['tokenizer'];
        const model = (await tf.AutoModelForSequenceClassification.from_pretrained(dir, {
          local_files_only: true,
          subfolder,
          model_file_name: 'model',
          dtype: 'fp32',
          device: 'cpu',
          session_options: this.threads > 0 ? { intraOpNumThreads: this.threads, interOpNumThreads: 1 } : {},
        })) as unknown as Loaded['model'];
        const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        const specials = tokenizer.all_special_tokens.filter((t) => t.length > 0);
        this.specials = specials.length ? new RegExp(specials.map(escape).join('|'), 'g') : undefined;
        return { tokenizer, model, Tensor: tf.Tensor as unknown as Loaded['Tensor'] };
      } catch (e) {
        throw new DistilrankError('MODEL_MISMATCH', `transformers.js could not load the cross-encoder: ${(e as Error).message}`, {
          file: onnxFile,
          hint: 'check that the folder is a complete ONNX export of a sequence-classification model (config.json, tokenizer.json, onnx/model.onnx)',
        });
      }
    })();
    return this.loading;
  }

  judge(pair: TeacherPair, signal?: AbortSignal): Promise<TeacherJudgment> {
    // Reject, never throw: callers map pairs to promises and handle failures on them.
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (this.closed) return Promise.reject(new CallError('fatal', 'the cross-encoder teacher is closed'));
    return new Promise<TeacherJudgment>((resolve, reject) => {
      this.queue.push({ pair, resolve, reject });
      if (!this.running) {
        this.running = true;
        // let the other callers of this tick join the batch
        setImmediate(() => void this.drain());
      }
    });
  }

  /** Judge many pairs, in batches of maxBatch. Same results as judge() one by one. */
  async judgeMany(pairs: readonly TeacherPair[], signal?: AbortSignal): Promise<TeacherJudgment[]> {
    signal?.throwIfAborted();
    const out: TeacherJudgment[] = [];
    for (let i = 0; i < pairs.length; i += this.maxBatch) {
      signal?.throwIfAborted();
      out.push(...(await this.forward(pairs.slice(i, i + this.maxBatch))));
    }
    return out;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.maxBatch);
        if (this.closed) {
          for (const w of batch) w.reject(new CallError('fatal', 'the cross-encoder teacher was closed'));
          continue;
        }
        try {
          const judgments = await this.forward(batch.map((w) => w.pair));
          batch.forEach((w, i) => w.resolve(judgments[i]!));
        } catch (e) {
          for (const w of batch) w.reject(e);
        }
      }
    } finally {
      this.running = false;
    }
  }

  /** Strip the tokenizer's special-token strings: item text is untrusted and must not forge a [SEP]. */
  private clean(text: string, maxChars: number): string {
    const t = text.length > maxChars ? text.slice(0, maxChars) : text;
    return this.specials ? t.replace(this.specials, ' ') : t;
  }

  /** Encode one pair within maxLength, cutting the item (see the module comment). */
  encodePair(tok: Loaded['tokenizer'], queryText: string, itemText: string): Encoded {
    // characters beyond ~24 per token cannot fit anyway: bound the tokenizer's work on huge text
    const query = this.clean(queryText, this.maxLength * 24);
    let item = this.clean(itemText, this.maxLength * 24);
    const enc = (q: string, it: string): Encoded => {
      const e = tok(q, { text_pair: it, add_special_tokens: true, return_tensor: false, truncation: false, return_token_type_ids: true });
      return { ids: e.input_ids, types: e.token_type_ids };
    };
    let e = enc(query, item);
    if (e.ids.length <= this.maxLength) return e;
    let queryIds = tok.encode(query, { add_special_tokens: false });
    const itemIds = tok.encode(item, { add_special_tokens: false });
    const overhead = e.ids.length - queryIds.length - itemIds.length;
    let q = query;
    const half = Math.floor((this.maxLength - overhead) / 2);
    if (this.maxLength - overhead - queryIds.length < Math.min(half, itemIds.length)) {
      // a query too long to leave half the window to the item: the only case the query is cut
      queryIds = queryIds.slice(0, Math.max(1, this.maxLength - overhead - Math.min(half, itemIds.length)));
      q = tok.decode(queryIds, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    }
    let budget = this.maxLength - overhead - queryIds.length;
    for (let attempt = 0; attempt < 6 && budget > 0; attempt++) {
      item = tok.decode(itemIds.slice(0, budget), { skip_special_tokens: false, clean_up_tokenization_spaces: false });
      e = enc(q, item);
      if (e.ids.length <= this.maxLength) return e;
      budget -= e.ids.length - this.maxLength;
    }
    // decode/encode did not settle (an unusual tokenizer): keep the item's first tokens of the window
    e = enc(q, '');
    return e.ids.length <= this.maxLength ? e : { ids: e.ids.slice(0, this.maxLength), types: e.types?.slice(0, this.maxLength) };
  }

  private async forward(pairs: readonly TeacherPair[]): Promise<TeacherJudgment[]> {
    if (!pairs.length) return [];
    const { tokenizer, model, Tensor } = await this.load();
    const t0 = performance.now();
    const encoded = pairs.map((p) => this.encodePair(tokenizer, p.queryText, p.itemText));
    const width = Math.max(...encoded.map((e) => e.ids.length));
    const n = pairs.length;
    const ids = new BigInt64Array(n * width).fill(BigInt(tokenizer.pad_token_id ?? 0));
    const mask = new BigInt64Array(n * width);
    const types = new BigInt64Array(n * width);
    encoded.forEach((e, r) => {
      e.ids.forEach((id, c) => {
        ids[r * width + c] = BigInt(id);
        mask[r * width + c] = 1n;
        types[r * width + c] = BigInt(e.types?.[c] ?? 0);
      });
    });
    const inputs: Record<string, unknown> = {
      input_ids: new Tensor('int64', ids, [n, width]),
      attention_mask: new Tensor('int64', mask, [n, width]),
    };
    if (encoded.some((e) => e.types !== undefined)) inputs.token_type_ids = new Tensor('int64', types, [n, width]);
    let out: { dims: number[]; data: ArrayLike<number> } | undefined;
    try {
      out = (await model(inputs)).logits;
    } catch (e) {
      throw new DistilrankError('MODEL_MISMATCH', `the cross-encoder failed to run: ${(e as Error).message}`, {
        file: this.folder.onnxFile,
        hint: 'the ONNX graph must take input_ids, attention_mask (and token_type_ids) as int64 and give logits [batch, 5]',
      });
    }
    if (!out || out.dims.length !== 2 || out.dims[0] !== n || out.dims[1] !== 5) {
      throw new DistilrankError('MODEL_MISMATCH', `the cross-encoder gave logits of shape [${out?.dims.join(', ') ?? 'none'}], expected [${n}, 5]`, {
        file: this.folder.onnxFile,
        hint: 'the model must be a sequence classifier with five outputs, one per relevance level',
      });
    }
    const logits = out.data;
    const seconds = (performance.now() - t0) / 1000 / n;
    this.stats.passes += 1;
    this.stats.pairs += n;
    const { levels } = this.folder;
    return encoded.map((e, r) => {
      const row = Array.from({ length: 5 }, (_, k) => Number(logits[r * 5 + k]));
      if (!row.every(Number.isFinite))
        throw new CallError('malformed', `the cross-encoder gave non-finite logits for "${pairs[r]!.queryId}" / "${pairs[r]!.itemId}"`);
      const top = Math.max(...row);
      const exp = row.map((x) => Math.exp(x - top));
      const z = exp.reduce((a, b) => a + b, 0);
      const distribution = [0, 0, 0, 0, 0] as LevelDistribution;
      exp.forEach((x, k) => (distribution[levels[k]! - 1] = x / z));
      return { distribution, cost: { calls: 1, inputTokens: e.ids.length, outputTokens: 0, seconds, usd: 0 }, method: 'logits' };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const loading = this.loading;
    this.loading = undefined;
    if (!loading) return;
    try {
      await (await loading).model.dispose();
    } catch {
      // a model that never loaded has nothing to release
    }
  }
}

export function createCrossEncoderTeacher(config: CrossEncoderTeacherConfig): CrossEncoderTeacher {
  return new CrossEncoderTeacher(config);
}

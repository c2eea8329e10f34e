/**
 * A tiny llama-architecture GGUF model whose next-token distribution the test chooses, built with
 * ./gguf-writer.ts (no GGUF weights exist on this machine), and an oracle that computes the same
 * distribution in plain TypeScript from the weights written.
 *
 * Architecture: one transformer block whose query, key and feed-forward weights are zero. With zero
 * queries and keys every attention score is 0, so the last position attends uniformly to all
 * positions (the causal mask allows them all), and RoPE has nothing to rotate. Two variants:
 * - `attention: 'zero'` (default): value and output projections are zero too, the block adds nothing,
 *   and every token embeds to the all-ones vector: the logit of token v is L_v / √(1 + ε), the same
 *   after any prompt. Tests choose the logits L directly.
 * - `attention: 'mean'`: value and output projections are identities, so the block adds the mean of
 *   the RMS-normalised embeddings of the whole prompt; embeddings differ per token (dimension 1), and
 *   the digits' output rows read that dimension. The distribution then depends on every prompt token,
 *   so evaluating a stale or partial prompt gives a different answer than the oracle.
 * Row v of the output matrix holds L_v / n_embd in every column (plus the prompt weight on
 * dimension 1 in the 'mean' variant); output-norm weights are 1.
 *
 * Tokenizer: SentencePiece-style ("llama"): <unk>, <s>, </s>, the 256 byte-fallback tokens <0x00> …
 * <0xFF> (so any UTF-8 text tokenizes), "▁" (the space) and every printable ASCII character, the
 * leading-space digit variants "▁1" … "▁5", the words of the teacher's guideline with a leading "▁"
 * and every prefix of them (so SentencePiece's pairwise merges can build each word, and a prompt is a
 * few hundred tokens rather than one per character), and (optionally) ChatML's <|im_start|> /
 * <|im_end|> as control tokens for a chat template. Longer pieces score higher, so merges prefer them.
 */
import { mulberry32 } from '../src/core/random.ts';
import { SYSTEM_PROMPTS } from '../src/teacher/prompt.ts';
import { bool, f32, f32s, i32s, str, strs, u32, writeGguf, type GgufTensor, type GgufValue } from './gguf-writer.ts';

/** Token types of tokenizer.ggml.token_type (llama.cpp's llama_token_type). */
const NORMAL = 1;
const UNKNOWN = 2;
const CONTROL = 3;
const BYTE = 6;

export const RMS_EPS = 1e-5;

/** A ChatML template, in the Jinja form GGUF files carry. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export interface TinyLlamaOptions {
  /** Logits L of chosen tokens by their text ("5", "▁5", "<0x33>" …); every other token gets a small seeded random logit. */
  logits: Readonly<Record<string, number>>;
  /** 'zero' (default): the distribution ignores the prompt; 'mean': it depends on every prompt token. */
  attention?: 'zero' | 'mean';
  /** In the 'mean' variant: how strongly each digit's logit follows the prompt (by token text). */
  promptWeights?: Readonly<Record<string, number>>;
  /** Jinja chat template to embed (tokenizer.chat_template); none when absent. */
  chatTemplate?: string;
  nEmbd?: number;
  contextLength?: number;
  /** Seed of the other tokens' logits. */
  seed?: number;
}

export interface TinyLlama {
  /** Vocabulary, by token id. */
  tokens: string[];
  /** tokenizer.ggml.token_type, by token id. */
  types: number[];
  attention: 'zero' | 'mean';
  nEmbd: number;
  /** The stored (f32) embedding and output matrices, row-major by token. */
  embeddings: Float32Array;
  output: Float32Array;
  /** The file's metadata and tensors, for writeGguf. */
  metadata: Array<readonly [string, GgufValue]>;
  tensors: GgufTensor[];
}

/** The vocabulary: specials, byte fallbacks, "▁", printable ASCII, "▁1" … "▁5", ChatML tokens. */
function vocabulary(chat: boolean): { tokens: string[]; types: number[] } {
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const types: number[] = [UNKNOWN, CONTROL, CONTROL];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(BYTE);
  }
  tokens.push('▁');
  types.push(NORMAL);
  for (let c = 0x21; c <= 0x7e; c++) {
    tokens.push(String.fromCharCode(c));
    types.push(NORMAL);
  }
  for (let d = 1; d <= 5; d++) {
    tokens.push(`▁${d}`);
    types.push(NORMAL);
  }
  const seen = new Set(tokens);
  for (const word of new Set(SYSTEM_PROMPTS.digit.match(/[A-Za-z]{2,}/g) ?? [])) {
    for (let end = 2; end <= word.length + 1; end++) {
      const piece = `▁${word}`.slice(0, end);
      if (seen.has(piece)) continue;
      seen.add(piece);
      tokens.push(piece);
      types.push(NORMAL);
    }
  }
  if (chat) {
    tokens.push('<|im_start|>', '<|im_end|>');
    types.push(CONTROL, CONTROL);
  }
  return { tokens, types };
}

export function tinyLlama(opts: TinyLlamaOptions): TinyLlama {
  const nEmbd = opts.nEmbd ?? 32;
  const nHead = 4;
  const nFf = 2 * nEmbd;
  const attention = opts.attention ?? 'zero';
  const { tokens, types } = vocabulary(opts.chatTemplate !== undefined);
  const nVocab = tokens.length;
  const index = new Map(tokens.map((t, i) => [t, i]));
  const idOf = (text: string): number => {
    const id = index.get(text);
    if (id === undefined) throw new Error(`the tiny vocabulary has no token "${text}"`);
    return id;
  };
  const random = mulberry32(opts.seed ?? 7);

  // The base logits: chosen ones, the rest small and seeded.
  const wanted = new Float64Array(nVocab);
  for (let v = 0; v < nVocab; v++) wanted[v] = random() - 0.5;
  for (const [text, logit] of Object.entries(opts.logits)) wanted[idOf(text)] = logit;
  const output = new Float32Array(nVocab * nEmbd);
  for (let v = 0; v < nVocab; v++) output.fill(wanted[v]! / nEmbd, v * nEmbd, (v + 1) * nEmbd);
  // Embeddings: all ones; in the 'mean' variant dimension 1 varies with the token (seven values in [-1, 1]).
  const embeddings = new Float32Array(nVocab * nEmbd).fill(1);
  if (attention === 'mean') {
    // Byte and control tokens keep 0, so the template's closing newline adds nothing of its own.
    for (let v = 0; v < nVocab; v++) if (types[v] === NORMAL) embeddings[v * nEmbd + 1] = (((v * 37) % 7) - 3) / 3;
    for (const [text, weight] of Object.entries(opts.promptWeights ?? {})) output[idOf(text) * nEmbd + 1] = weight;
  }

  const matrix = (name: string, cols: number, rows: number, fill = 0): GgufTensor => ({
    name,
    dims: [cols, rows],
    data: new Float32Array(cols * rows).fill(fill),
  });
  const identity = (name: string): GgufTensor => {
    const t = matrix(name, nEmbd, nEmbd);
    if (attention === 'mean') for (let i = 0; i < nEmbd; i++) t.data[i * nEmbd + i] = 1;
    return t;
  };
  const vector = (name: string, n: number, fill: number): GgufTensor => ({ name, dims: [n], data: new Float32Array(n).fill(fill) });
  const tensors: GgufTensor[] = [
    { name: 'token_embd.weight', dims: [nEmbd, nVocab], data: embeddings },
    vector('blk.0.attn_norm.weight', nEmbd, 1),
    matrix('blk.0.attn_q.weight', nEmbd, nEmbd),
    matrix('blk.0.attn_k.weight', nEmbd, nEmbd),
    identity('blk.0.attn_v.weight'),
    identity('blk.0.attn_output.weight'),
    vector('blk.0.ffn_norm.weight', nEmbd, 1),
    matrix('blk.0.ffn_gate.weight', nEmbd, nFf),
    matrix('blk.0.ffn_up.weight', nEmbd, nFf),
    matrix('blk.0.ffn_down.weight', nFf, nEmbd),
    vector('output_norm.weight', nEmbd, 1),
    { name: 'output.weight', dims: [nEmbd, nVocab], data: output },
  ];

  const scores = tokens.map((t, i) => (types[i] === NORMAL ? t.length : 0));
  const metadata: Array<readonly [string, GgufValue]> = [
    ['general.architecture', str('llama')],
    ['general.name', str('distilrank tiny test llama')],
    ['general.file_type', u32(0)], // all f32
    ['llama.context_length', u32(opts.contextLength ?? 8192)],
    ['llama.embedding_length', u32(nEmbd)],
    ['llama.block_count', u32(1)],
    ['llama.feed_forward_length', u32(nFf)],
    ['llama.attention.head_count', u32(nHead)],
    ['llama.attention.head_count_kv', u32(nHead)],
    ['llama.attention.layer_norm_rms_epsilon', f32(RMS_EPS)],
    ['llama.rope.dimension_count', u32(nEmbd / nHead)],
    ['llama.vocab_size', u32(nVocab)],
    ['tokenizer.ggml.model', str('llama')],
    ['tokenizer.ggml.tokens', strs(tokens)],
    ['tokenizer.ggml.scores', f32s(scores)],
    ['tokenizer.ggml.token_type', i32s(types)],
    ['tokenizer.ggml.unknown_token_id', u32(0)],
    ['tokenizer.ggml.bos_token_id', u32(1)],
    ['tokenizer.ggml.eos_token_id', u32(opts.chatTemplate !== undefined ? nVocab - 1 : 2)],
    ['tokenizer.ggml.add_bos_token', bool(true)],
    ['tokenizer.ggml.add_eos_token', bool(false)],
  ];
  if (opts.chatTemplate !== undefined) metadata.push(['tokenizer.chat_template', str(opts.chatTemplate)]);
  return { tokens, types, attention, nEmbd, embeddings, output, metadata, tensors };
}

/** `x` rounded to the nearest IEEE half-precision value (ties to even). */
export function roundF16(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const exponent = Math.max(-14, Math.floor(Math.log2(Math.abs(x))));
  const ulp = 2 ** (exponent - 10);
  const q = x / ulp;
  const r = Math.round(q);
  const even = Math.abs(q - Math.trunc(q)) === 0.5 ? 2 * Math.round(q / 2) : r;
  return even * ulp;
}

function rmsNorm(x: Float64Array): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const scale = 1 / Math.sqrt(ss / x.length + RMS_EPS);
  return x.map((v) => v * scale);
}

/**
 * The oracle: the model's logits after `prompt` (token ids), computed in float64 from the stored
 * weights, as the architecture above defines them. With `valueRounding: 'f16'` (the default) the
 * attention sum is done as llama.cpp's CPU flash attention does it: values stored in the f16 KV cache
 * and summed position by position into an f16 accumulator (every score is 0, so each weight is 1),
 * then divided by the count. That reproduces llama.cpp on one thread to about 1e-7; plain float64
 * sums differ by about 2e-3.
 */
export function oracleLogits(model: TinyLlama, prompt: readonly number[], valueRounding: 'f16' | 'none' = 'f16'): Float64Array {
  const n = model.nEmbd;
  const embedding = (t: number): Float64Array => Float64Array.from(model.embeddings.subarray(t * n, (t + 1) * n));
  const h = embedding(prompt[prompt.length - 1]!);
  if (model.attention === 'mean') {
    // Uniform attention over every position, value and output projections the identity.
    const sum = new Float64Array(n);
    for (const t of prompt) {
      const x = rmsNorm(embedding(t));
      for (let j = 0; j < n; j++) sum[j] = valueRounding === 'f16' ? roundF16(sum[j]! + roundF16(x[j]!)) : sum[j]! + x[j]!;
    }
    for (let j = 0; j < n; j++) h[j] = h[j]! + sum[j]! / prompt.length;
  }
  const z = rmsNorm(h);
  const logits = new Float64Array(model.tokens.length);
  for (let v = 0; v < logits.length; v++) {
    let sum = 0;
    for (let j = 0; j < n; j++) sum += model.output[v * n + j]! * z[j]!;
    logits[v] = sum;
  }
  return logits;
}

/**
 * The oracle's five-level distribution: the softmax over the whole vocabulary, summed per level over
 * every token whose text is a digit 1–5 with or without blanks ("5", "▁5", the byte token <0x35>),
 * renormalised over the five.
 */
export function oracleDistribution(model: TinyLlama, prompt: readonly number[], valueRounding: 'f16' | 'none' = 'f16'): number[] {
  const p = softmax(oracleLogits(model, prompt, valueRounding));
  const mass = [0, 0, 0, 0, 0];
  model.tokens.forEach((token, id) => {
    if (model.types[id] !== NORMAL && model.types[id] !== BYTE) return;
    const byte = /^<0x([0-9A-F]{2})>$/.exec(token);
    const text = byte ? String.fromCharCode(parseInt(byte[1]!, 16)) : token.replace(/▁/g, ' ');
    const m = /^\s*([1-5])\s*$/.exec(text);
    if (m) mass[Number(m[1]) - 1]! += p[id]!;
  });
  const total = mass.reduce((a, b) => a + b, 0);
  return mass.map((m) => m / total);
}

/** Build the model and write it to `path`. */
export function writeTinyLlama(path: string, opts: TinyLlamaOptions): TinyLlama {
  const model = tinyLlama(opts);
  writeGguf(path, model.metadata, model.tensors);
  return model;
}

/** Softmax over the whole vocabulary of the model's logits. */
export function softmax(logits: Float64Array): Float64Array {
  let max = -Infinity;
  for (const l of logits) max = Math.max(max, l);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / sum;
  return out;
}

/**
 * A tiny BERT-shaped cross-encoder folder, built here because no weights can be downloaded. It has
 * the layout a real exported Hugging Face cross-encoder has (config.json, tokenizer.json,
 * tokenizer_config.json, onnx/model.onnx), so the `onnx-cross-encoder` teacher reads it through
 * transformers.js exactly as it reads a real one.
 *
 * The tokenizer is a WordPiece tokenizer (BERT normaliser and pre-tokeniser, [CLS] A [SEP] B [SEP]
 * template) whose vocabulary holds the whole words of the given texts. The graph is not a
 * transformer: its weights are chosen so its answers mean something a test can check. It computes
 * the query coverage — the share of the query's word tokens (token type 0) that also occur among the
 * item's tokens (token type 1) — and gives logits peaking at level 1 + 4 × coverage:
 *
 *   logits[b, k] = −sharpness × (4 × coverage[b] − k)²,  k = 0 … 4
 *
 * so an item that repeats the query's words is judged L5 and an unrelated one L1. Special tokens,
 * [UNK] and punctuation carry weight 0 (they never count as a match). Quality is meaningless; this
 * model exists to exercise the real code path.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export const TINY_SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;
export const TINY_LABELS = ['L1', 'L2', 'L3', 'L4', 'L5'] as const;

export interface TinyCrossEncoderOptions {
  /** Texts whose words make the vocabulary (queries and item texts). */
  texts: readonly string[];
  /** Keep at most this many words, the most frequent first (default 30 000). */
  maxVocab?: number;
  /** model_max_length of the tokenizer and max_position_embeddings of the config (default 128). */
  maxLength?: number;
  /** How sharply the logits peak at 1 + 4 × coverage (default 2). */
  sharpness?: number;
  /** Labels written to config.json id2label (default L1 … L5); tests pass others to check refusals. */
  labels?: readonly string[];
  /** Write the graph at the folder's root (model.onnx) instead of onnx/model.onnx. */
  onnxAtRoot?: boolean;
}

/** Lower-case, accents stripped, split on whitespace and punctuation: what BertPreTokenizer sees. */
function words(text: string): string[] {
  return text
    .normalize('NFD')
    .replace(/\p{Mn}/gu, '')
    .toLowerCase()
    .split(/(\p{P}|\p{S})|\s+/u)
    .filter((w): w is string => w !== undefined && w !== '');
}

function vocabulary(texts: readonly string[], maxVocab: number): string[] {
  const counts = new Map<string, number>();
  for (const t of texts) for (const w of words(t)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([w]) => w);
  return [...TINY_SPECIAL_TOKENS, ...ranked.filter((w) => !(TINY_SPECIAL_TOKENS as readonly string[]).includes(w)).slice(0, maxVocab)];
}

function tokenizerJson(vocab: readonly string[]): unknown {
  const id = (t: string) => vocab.indexOf(t);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: TINY_SPECIAL_TOKENS.map((content) => ({
      id: id(content),
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: Object.fromEntries(['[CLS]', '[SEP]'].map((t) => [t, { id: t, ids: [id(t)], tokens: [t] }])),
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// the graph

const INT = onnx.AttributeProto.AttributeType.INT;
const INTS = onnx.AttributeProto.AttributeType.INTS;

function node(opType: string, inputs: string[], outputs: string[], attrs: onnxProto.onnx.IAttributeProto[] = []): onnxProto.onnx.INodeProto {
  return { opType, input: inputs, output: outputs, name: outputs[0] ?? opType, attribute: attrs };
}

function floats(name: string, dims: number[], values: readonly number[]): onnxProto.onnx.ITensorProto {
  const a = Float32Array.from(values);
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(a.buffer) };
}

function ints(name: string, values: readonly number[]): onnxProto.onnx.ITensorProto {
  return { name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: [...values] };
}

function io(name: string, elemType: number, dims: Array<number | string>): onnxProto.onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } } };
}

/** The coverage graph (opset 13): see the module comment. */
export function tinyCrossEncoderGraph(tokenWeights: readonly number[], sharpness: number): Uint8Array {
  const I64 = onnx.TensorProto.DataType.INT64;
  const F = onnx.TensorProto.DataType.FLOAT;
  const cast = (x: string, y: string) => node('Cast', [x], [y], [{ name: 'to', type: INT, i: F }]);
  const nodes: onnxProto.onnx.INodeProto[] = [
    // per-position weights: 1 for a word token, 0 for specials, [UNK], punctuation and padding
    node('Gather', ['token_weights', 'input_ids'], ['content'], [{ name: 'axis', type: INT, i: 0 }]),
    cast('attention_mask', 'mask_f'),
    cast('token_type_ids', 'type_f'),
    node('Mul', ['content', 'mask_f'], ['live']),
    node('Mul', ['live', 'type_f'], ['item_w']), // [B, L]
    node('Sub', ['one', 'type_f'], ['not_type']),
    node('Mul', ['live', 'not_type'], ['query_w']), // [B, L]
    // same[b, i, j] = input_ids[b, i] == input_ids[b, j]
    node('Unsqueeze', ['input_ids', 'axis2'], ['ids_col']), // [B, L, 1]
    node('Unsqueeze', ['input_ids', 'axis1'], ['ids_row']), // [B, 1, L]
    node('Equal', ['ids_col', 'ids_row'], ['same_b']),
    cast('same_b', 'same'),
    node('Unsqueeze', ['item_w', 'axis1'], ['item_row']), // [B, 1, L]
    node('Mul', ['same', 'item_row'], ['hits']),
    node(
      'ReduceMax',
      ['hits'],
      ['matched'],
      [
        { name: 'axes', type: INTS, ints: [2] },
        { name: 'keepdims', type: INT, i: 0 },
      ],
    ), // [B, L]
    node('Mul', ['matched', 'query_w'], ['covered']),
    node('ReduceSum', ['covered', 'axis1'], ['covered_n']), // [B, 1]
    node('ReduceSum', ['query_w', 'axis1'], ['query_n']), // [B, 1]
    node('Max', ['query_n', 'one'], ['query_n1']),
    node('Div', ['covered_n', 'query_n1'], ['coverage']),
    node('Mul', ['coverage', 'four'], ['position']), // [B, 1]
    node('Sub', ['position', 'centres'], ['offset']), // [B, 5]
    node('Mul', ['offset', 'offset'], ['offset2']),
    node('Mul', ['offset2', 'minus_sharpness'], ['logits']),
  ];
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'distilrank-tiny-cross-encoder',
    producerVersion: '1',
    docString: 'tiny test cross-encoder: logits peak at level 1 + 4 × query coverage by the item (quality meaningless)',
    graph: {
      name: 'tiny_cross_encoder',
      node: nodes,
      initializer: [
        floats('token_weights', [tokenWeights.length], tokenWeights),
        floats('one', [], [1]),
        floats('four', [], [4]),
        floats('centres', [1, 5], [0, 1, 2, 3, 4]),
        floats('minus_sharpness', [], [-sharpness]),
        ints('axis1', [1]),
        ints('axis2', [2]),
      ],
      input: [
        io('input_ids', I64, ['batch_size', 'sequence_length']),
        io('attention_mask', I64, ['batch_size', 'sequence_length']),
        io('token_type_ids', I64, ['batch_size', 'sequence_length']),
      ],
      output: [io('logits', F, ['batch_size', 5])],
    },
  });
  return onnx.ModelProto.encode(proto).finish();
}

/** Write the folder at `dir` (created if missing); returns `dir`. */
export function writeTinyCrossEncoder(dir: string, opts: TinyCrossEncoderOptions): string {
  const maxLength = opts.maxLength ?? 128;
  const labels = opts.labels ?? TINY_LABELS;
  const vocab = vocabulary(opts.texts, opts.maxVocab ?? 30_000);
  const weights = vocab.map((t, i) => (i < TINY_SPECIAL_TOKENS.length || /^[\p{P}\p{S}]$/u.test(t) ? 0 : 1));
  mkdirSync(join(dir, opts.onnxAtRoot ? '' : 'onnx'), { recursive: true });
  const json = (name: string, value: unknown) => writeFileSync(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
  json('config.json', {
    architectures: ['BertForSequenceClassification'],
    model_type: 'bert',
    vocab_size: vocab.length,
    hidden_size: 8,
    num_hidden_layers: 1,
    num_attention_heads: 1,
    intermediate_size: 8,
    max_position_embeddings: maxLength,
    type_vocab_size: 2,
    pad_token_id: 0,
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    problem_type: 'single_label_classification',
  });
  json('tokenizer_config.json', {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: true,
    model_max_length: maxLength,
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    pad_token: '[PAD]',
    unk_token: '[UNK]',
    mask_token: '[MASK]',
    clean_up_tokenization_spaces: true,
  });
  json('tokenizer.json', tokenizerJson(vocab));
  writeFileSync(join(dir, opts.onnxAtRoot ? 'model.onnx' : join('onnx', 'model.onnx')), tinyCrossEncoderGraph(weights, opts.sharpness ?? 2));
  return dir;
}

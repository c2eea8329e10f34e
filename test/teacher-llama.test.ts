/**
 * The `llama` teacher against tiny GGUF models built here (test/tiny-llama.ts; no GGUF weights can be
 * had on this machine), run by the real node-llama-cpp on the CPU:
 *
 * - the GGUF the test writes reads back through distilrank's own header reader;
 * - a model whose logits the test chose: the teacher's distribution equals the softmax the test
 *   computes from the weights it wrote, digit variants ("5", "▁5", the byte token <0x35>) summed;
 * - a model whose answer depends on every prompt token: the teacher matches the oracle for prompts of
 *   different lengths, and the KV-cache prefix reuse gives the same numbers in any order;
 * - configuration, file and dependency errors, with the codes and hints a user sees.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistilrankError } from '../src/core/errors.ts';
import {
  createTeacher,
  digitLevel,
  importNodeLlamaCpp,
  LlamaTeacher,
  llamaTeacherConfigFromEnv,
  PROMPT_VERSION,
  readGgufHeader,
  TEACHERS,
  type TeacherPair,
} from '../src/teacher/index.ts';
import { CallError } from '../src/jobs/index.ts';
import { encodeGguf } from './gguf-writer.ts';
import { caught, tempDir } from './helpers.ts';
import { CHATML_TEMPLATE, oracleDistribution, tinyLlama, writeTinyLlama, type TinyLlama } from './tiny-llama.ts';

const PAIR: TeacherPair = { queryId: 'q1', queryText: 'red running shoes', itemId: 'i1', itemText: 'Red running shoes, mesh upper, size 42.' };
const pairWith = (itemText: string): TeacherPair => ({ ...PAIR, itemId: `i-${itemText.length}`, itemText });

/** A teacher on `path`, one CPU thread (the test machine is shared), a context that fits the tiny tokenizer's prompts. */
function teacherOn(path: string, extra: Record<string, string> = {}): LlamaTeacher {
  return createTeacher('llama', {
    env: { DISTILRANK_LLAMA_MODEL: path, DISTILRANK_LLAMA_THREADS: '1', DISTILRANK_LLAMA_CONTEXT_SIZE: '4096', ...extra },
  }) as LlamaTeacher;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

const dir = tempDir('distilrank-llama-');
afterAll(() => dir.cleanup());

describe('the tiny GGUF model file', () => {
  it("reads back through the teacher's GGUF header reader", () => {
    const path = join(dir.path, 'roundtrip.gguf');
    const model = writeTinyLlama(path, { logits: { '5': 3 }, chatTemplate: CHATML_TEMPLATE });
    const h = readGgufHeader(path);
    expect(h.version).toBe(3);
    expect(h.tensorCount).toBe(model.tensors.length);
    expect(h.metadata.get('general.architecture')).toBe('llama');
    expect(h.metadata.get('llama.embedding_length')).toBe(32);
    expect(h.metadata.get('llama.attention.layer_norm_rms_epsilon')).toBeCloseTo(1e-5, 10);
    expect(h.metadata.get('tokenizer.ggml.add_bos_token')).toBe(true);
    expect(h.metadata.get('tokenizer.chat_template')).toBe(CHATML_TEMPLATE);
    expect(h.arrayLengths.get('tokenizer.ggml.tokens')).toBe(model.tokens.length);
    expect(h.size).toBe(readFileSync(path).length);
    // The tensor infos start where the metadata ends: the first is named token_embd.weight.
    const bytes = readFileSync(path);
    expect(Number(bytes.readBigUInt64LE(h.metadataEnd))).toBe('token_embd.weight'.length);
    expect(bytes.subarray(h.metadataEnd + 8, h.metadataEnd + 8 + 17).toString()).toBe('token_embd.weight');
  });

  it('the identity follows the content, not the name', () => {
    const a = join(dir.path, 'id-a.gguf');
    writeTinyLlama(a, { logits: { '5': 3 } });
    const copy = join(dir.path, 'id-copy.gguf');
    copyFileSync(a, copy);
    const b = join(dir.path, 'id-b.gguf');
    writeTinyLlama(b, { logits: { '4': 3 } });
    expect(readGgufHeader(copy).identity).toBe(readGgufHeader(a).identity);
    expect(readGgufHeader(b).identity).not.toBe(readGgufHeader(a).identity);
  });
});

describe('llama teacher configuration and files', () => {
  const good = join(dir.path, 'config.gguf');
  beforeAll(() => {
    writeTinyLlama(good, { logits: { '5': 3 } });
  });

  it('is registered as an LLM teacher', () => {
    expect(TEACHERS.llama?.isLLM).toBe(true);
    expect(TEACHERS.llama?.description).toMatch(/DISTILRANK_LLAMA_MODEL/);
  });

  it('reads DISTILRANK_LLAMA_* with defaults, settings on top', () => {
    const c = llamaTeacherConfigFromEnv({ DISTILRANK_LLAMA_MODEL: good, DISTILRANK_LLAMA_THREADS: '3' });
    expect(c).toEqual({ modelPath: good, threads: 3, gpuLayers: 0, contextSize: 4096, sequences: 1, maxItemChars: 2000 });
    const s = llamaTeacherConfigFromEnv({ DISTILRANK_LLAMA_MODEL: good, DISTILRANK_LLAMA_GPU_LAYERS: 'max' }, { sequences: 2, contextSize: 8192 });
    expect(s).toMatchObject({ gpuLayers: 'max', sequences: 2, contextSize: 8192 });
  });

  it('a missing model path, a bad number and an unknown setting are BAD_OPTION errors naming the variable', () => {
    const missing = caught(() => createTeacher('llama', { env: {} }));
    expect(missing.code).toBe('BAD_OPTION');
    expect(missing.message).toMatch(/DISTILRANK_LLAMA_MODEL is not set/);
    expect(missing.details.hint).toMatch(/\.gguf/);
    const threads = caught(() => llamaTeacherConfigFromEnv({ DISTILRANK_LLAMA_MODEL: good, DISTILRANK_LLAMA_THREADS: 'many' }));
    expect(threads.code).toBe('BAD_OPTION');
    expect(threads.details.field).toBe('DISTILRANK_LLAMA_THREADS');
    const gpu = caught(() => llamaTeacherConfigFromEnv({ DISTILRANK_LLAMA_MODEL: good, DISTILRANK_LLAMA_GPU_LAYERS: '-1' }));
    expect(gpu.details.field).toBe('DISTILRANK_LLAMA_GPU_LAYERS');
    const unknown = caught(() => createTeacher('llama', { env: { DISTILRANK_LLAMA_MODEL: good }, settings: { temperature: 1 } }));
    expect(unknown.code).toBe('BAD_OPTION');
    expect(unknown.details.hint).toMatch(/modelPath/);
  });

  it('a missing file and a folder are FILE_NOT_FOUND, naming the path', () => {
    const path = join(dir.path, 'no-such.gguf');
    const e = caught(() => teacherOn(path));
    expect(e.code).toBe('FILE_NOT_FOUND');
    expect(e.details.file).toBe(path);
    expect(e.message).toMatch(/does not exist/);
    expect(e.details.hint).toMatch(/DISTILRANK_LLAMA_MODEL/);
    const folder = join(dir.path, 'a-folder.gguf');
    mkdirSync(folder);
    expect(caught(() => teacherOn(folder))).toMatchObject({ code: 'FILE_NOT_FOUND', message: expect.stringMatching(/not a file/) });
  });

  it('a file that is not GGUF, an unknown GGUF version and cut metadata are MODEL_MISMATCH', () => {
    const text = join(dir.path, 'notes.gguf');
    writeFileSync(text, 'these are notes, not a model\n'.repeat(4));
    const e = caught(() => teacherOn(text));
    expect(e.code).toBe('MODEL_MISMATCH');
    expect(e.details.file).toBe(text);
    expect(e.message).toMatch(/GGUF magic/);
    expect(e.details.hint).toMatch(/GGUF/);

    const v1 = Buffer.from(readFileSync(good));
    v1.writeUInt32LE(1, 4);
    writeFileSync(join(dir.path, 'v1.gguf'), v1);
    expect(caught(() => teacherOn(join(dir.path, 'v1.gguf'))).message).toMatch(/version 1/);

    const cut = readFileSync(good).subarray(0, 2000);
    writeFileSync(join(dir.path, 'cut.gguf'), cut);
    const c = caught(() => teacherOn(join(dir.path, 'cut.gguf')));
    expect(c.code).toBe('MODEL_MISMATCH');
    expect(c.message).toMatch(/cut or corrupt/);
  });

  it('promptVersion carries the prompt, the read method and the file identity; model is the file name', () => {
    const t = teacherOn(good);
    expect(t.name).toBe('llama');
    expect(t.model).toBe('config.gguf');
    expect(t.promptVersion).toBe(`${PROMPT_VERSION}/next-token/chars2000/gguf-${readGgufHeader(good).identity.slice(0, 16)}`);
    expect(teacherOn(good, { DISTILRANK_LLAMA_MAX_ITEM_CHARS: '500' }).promptVersion).toMatch(/\/chars500\//);
  });

  it('digitLevel reads digits with blanks around them, nothing else', () => {
    expect(['5', ' 5', '\n3', '1 ', '\t2\n'].map(digitLevel)).toEqual([5, 5, 3, 1, 2]);
    expect(['0', '6', '55', 'L5', '5.', ''].map(digitLevel)).toEqual([null, null, null, null, null, null]);
  });
});

describe('node-llama-cpp missing or broken', () => {
  it('a package that is not installed is MISSING_DEPENDENCY with the install command', async () => {
    // A real failed import of a package that is not there, as Node reports it.
    const e = await rejection(importNodeLlamaCpp(() => import('node-llama-cpp-absent' as string) as never));
    expect(e).toBeInstanceOf(DistilrankError);
    expect((e as DistilrankError).code).toBe('MISSING_DEPENDENCY');
    expect((e as DistilrankError).message).toMatch(/needs node-llama-cpp, which is not installed/);
    expect((e as DistilrankError).details.hint).toMatch(/npm install node-llama-cpp@3\.21\.1/);
  });

  it('a binding that fails to load is MISSING_DEPENDENCY, from judge(), not at import', async () => {
    const path = join(dir.path, 'broken-binding.gguf');
    writeTinyLlama(path, { logits: {} });
    const t = new LlamaTeacher(llamaTeacherConfigFromEnv({ DISTILRANK_LLAMA_MODEL: path }), {
      importBinding: () => Promise.reject(new Error('libllama.so: cannot open shared object file')),
    });
    const e = await rejection(t.judge(PAIR));
    expect(e).toMatchObject({ code: 'MISSING_DEPENDENCY', message: expect.stringMatching(/libllama\.so/) });
    await t.close();
  });
});

describe('the llama teacher on a model with chosen logits', () => {
  // "4" itself is unlikely, but "▁4" is the likeliest token: level 4 wins only if variants are summed.
  // Level 3 comes mostly from the byte-fallback token <0x33>.
  const LOGITS = { '▁4': 6, '4': -2, '5': 4, '<0x33>': 4.5, '3': 0, '2': 1, '▁1': 2 };
  let model: TinyLlama;
  let teacher: LlamaTeacher;
  let prompt: number[];

  beforeAll(async () => {
    const path = join(dir.path, 'chosen.gguf');
    model = writeTinyLlama(path, { logits: LOGITS, chatTemplate: CHATML_TEMPLATE });
    teacher = teacherOn(path);
    prompt = teacher.promptTokens(await teacher.load(), PAIR);
  });
  afterAll(() => teacher.close());

  it('gives the softmax the test computes from the weights, variants summed, normalised over the five', async () => {
    const j = await teacher.judge(PAIR);
    expect(j.method).toBe('next-token');
    const expected = oracleDistribution(model, prompt);
    j.distribution.forEach((p, i) => expect(p).toBeCloseTo(expected[i]!, 6));
    expect(j.distribution.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(j.distribution.indexOf(Math.max(...j.distribution))).toBe(3); // level 4, carried by "▁4"
    expect(j.distribution[2]).toBeGreaterThan(j.distribution[4]!); // level 3, carried by <0x33>
    // Counting only the plain digit tokens would have put the mode on 5: the variants matter here.
    const plain = ['1', '2', '3', '4', '5'].map((d) => Math.exp(LOGITS[d as keyof typeof LOGITS] ?? 0));
    expect(plain.indexOf(Math.max(...plain))).toBe(4);
  });

  it("renders the chat with the model's template and reports the cost of a local call", async () => {
    const text = teacher.promptTokens(await teacher.load(), PAIR);
    const j = await teacher.judge(PAIR);
    expect(j.cost).toMatchObject({ calls: 1, inputTokens: text.length, outputTokens: 0, usd: 0 });
    expect(j.cost.seconds).toBeGreaterThan(0);
    const loaded = await teacher.load();
    const rendered = loaded.model.detokenize(text, true);
    expect(rendered).toMatch(/^<\|im_start\|>\s?system\n/);
    expect(rendered).toContain('<query>\nred running shoes\n</query>');
    expect(rendered).toMatch(/<\|im_start\|>\s?assistant\n$/);
  });

  it('serves concurrent judgments from its one sequence, each the same answer', async () => {
    const items = ['a', 'bb', 'ccc', 'dddd', 'eeeee', 'ffffff'].map((s) => pairWith(`Item ${s}`));
    const results = await Promise.all(items.map((p) => teacher.judge(p)));
    const loaded = await teacher.load();
    results.forEach((r, i) => {
      const expected = oracleDistribution(model, teacher.promptTokens(loaded, items[i]!));
      r.distribution.forEach((p, k) => expect(p).toBeCloseTo(expected[k]!, 6));
    });
  });

  it('an aborted signal stops a judgment before it starts', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(teacher.judge(PAIR, ac.signal)).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('the llama teacher on a model whose answer depends on the whole prompt', () => {
  // The mean of the prompt's token embeddings moves the logits of "5" (up) and "1" (down).
  const OPTIONS = { logits: { '5': 0, '1': 0 }, attention: 'mean', promptWeights: { '5': 6, '1': -6 } } as const;
  const ITEMS = [
    'short',
    'A much longer item text with many more words: red running shoes for road and trail. '.repeat(5),
    'zzzz qqqq xxxx',
    'Kaffeemühle für Espresso, 抹茶 パウダー 100g',
  ];
  let model: TinyLlama;
  let withTemplate: LlamaTeacher;
  let plain: TinyLlama;
  let plainTeacher: LlamaTeacher;

  beforeAll(() => {
    model = writeTinyLlama(join(dir.path, 'mean-chatml.gguf'), { ...OPTIONS, chatTemplate: CHATML_TEMPLATE });
    withTemplate = teacherOn(join(dir.path, 'mean-chatml.gguf'));
    plain = writeTinyLlama(join(dir.path, 'mean-plain.gguf'), OPTIONS);
    plainTeacher = teacherOn(join(dir.path, 'mean-plain.gguf'), { DISTILRANK_LLAMA_SEQUENCES: '2' });
  });
  afterAll(async () => {
    await withTemplate.close();
    await plainTeacher.close();
  });

  it('matches the oracle for prompts of different lengths, one after another on one sequence', async () => {
    const loaded = await withTemplate.load();
    const seen: number[][] = [];
    for (const item of [...ITEMS, ITEMS[0]!]) {
      const pair = pairWith(item);
      const j = await withTemplate.judge(pair);
      const expected = oracleDistribution(model, withTemplate.promptTokens(loaded, pair));
      // The oracle follows llama.cpp's f16 attention sums (1e-7 here); the margin allows other CPUs' rounding.
      j.distribution.forEach((p, k) => expect(Math.abs(p - expected[k]!)).toBeLessThan(5e-4));
      seen.push(j.distribution);
    }
    // The prompts really move the answer by more than that tolerance, so a wrong prompt would show.
    const level5 = seen.map((d) => d[4]!);
    expect(Math.max(...level5) - Math.min(...level5)).toBeGreaterThan(0.02);
    // The first prompt judged again after three others: the same numbers.
    seen[0]!.forEach((p, k) => expect(seen[4]![k]).toBeCloseTo(p, 6));
  });

  it('gives the same numbers in any order and with concurrent sequences (prefix reuse is exact)', async () => {
    const inOrder: number[][] = [];
    for (const item of ITEMS) inOrder.push((await withTemplate.judge(pairWith(item))).distribution);
    // Without a chat template: the plain template, two sequences, all at once, in reverse order.
    const reversed = await Promise.all([...ITEMS].reverse().map((item) => plainTeacher.judge(pairWith(item))));
    const again = await Promise.all([...ITEMS].reverse().map((item) => withTemplate.judge(pairWith(item))));
    ITEMS.forEach((_, i) => {
      const j = ITEMS.length - 1 - i;
      again[j]!.distribution.forEach((p, k) => expect(p).toBeCloseTo(inOrder[i]![k]!, 6));
    });
    const loaded = await plainTeacher.load();
    reversed.forEach((r, i) => {
      const expected = oracleDistribution(plain, plainTeacher.promptTokens(loaded, pairWith([...ITEMS].reverse()[i]!)));
      // Two sequences evaluated in one batch can take another llama.cpp kernel (and rounding) than one
      // sequence alone: up to 2.7e-3 seen in CI. Still well under the > 0.02 a wrong prompt moves the
      // answer by (asserted in the test above), so a stale or partial prompt would fail this.
      r.distribution.forEach((p, k) => expect(Math.abs(p - expected[k]!)).toBeLessThan(5e-3));
    });
    // The plain template has no ChatML tokens; it still carries the same guideline and blocks.
    const rendered = loaded.model.detokenize(plainTeacher.promptTokens(loaded, PAIR), true);
    expect(rendered).not.toContain('<|im_start|>');
    expect(rendered).toContain('<item>\nRed running shoes, mesh upper, size 42.\n</item>');
  });
});

describe('the llama teacher when something goes wrong', () => {
  it('a prompt longer than the context is a per-pair failure that names the settings to change', async () => {
    const path = join(dir.path, 'small-context.gguf');
    writeTinyLlama(path, { logits: { '5': 3 } });
    const t = teacherOn(path, { DISTILRANK_LLAMA_CONTEXT_SIZE: '256' });
    const e = await rejection(t.judge(PAIR));
    expect(e).toBeInstanceOf(CallError);
    expect((e as CallError).kind).toBe('malformed');
    expect((e as CallError).message).toMatch(/DISTILRANK_LLAMA_CONTEXT_SIZE/);
    await t.close();
  });

  it('a GGUF llama.cpp cannot load (a tensor missing) is MODEL_MISMATCH, quoting llama.cpp', async () => {
    const m = tinyLlama({ logits: {} });
    const path = join(dir.path, 'missing-tensor.gguf');
    writeFileSync(
      path,
      encodeGguf(
        m.metadata,
        m.tensors.filter((t) => t.name !== 'blk.0.ffn_up.weight'),
      ),
    );
    const t = teacherOn(path);
    const e = await rejection(t.judge(PAIR));
    expect(e).toBeInstanceOf(DistilrankError);
    expect(e).toMatchObject({ code: 'MODEL_MISMATCH', details: { file: path } });
    expect((e as DistilrankError).message).toMatch(/could not load the model/);
    await t.close();
  });

  it('a closed teacher refuses to judge', async () => {
    const path = join(dir.path, 'closed.gguf');
    writeTinyLlama(path, { logits: { '5': 3 } });
    const t = teacherOn(path);
    await t.judge(PAIR);
    await t.close();
    const e = await rejection(t.judge(PAIR));
    expect(e).toMatchObject({ kind: 'fatal' });
  });
});

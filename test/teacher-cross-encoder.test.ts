/**
 * The onnx-cross-encoder teacher on a tiny BERT-shaped folder built by test/tiny-cross-encoder.ts
 * (a WordPiece tokenizer and an ONNX graph whose logits peak at level 1 + 4 × query coverage), run
 * through transformers.js as a real exported model is:
 *
 * 1. distributions: five probabilities summing to 1; an item repeating the query's words is judged
 *    higher than an unrelated one; same inputs → same outputs (one by one, batched, reloaded);
 * 2. truncation: a long item is cut to the window, the query never is;
 * 3. refusals: missing folder/files (FILE_NOT_FOUND), 3 labels, unknown labels, malformed JSON,
 *    no model_type (MODEL_MISMATCH), naming file and field; the label mapping from id2label;
 * 4. the CLI: `label --teacher onnx-cross-encoder` fills the label cache and a rerun requests nothing
 *    new; `teacher eval --teacher onnx-cross-encoder` prints its agreement table.
 */
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabelCache } from '../src/label/index.ts';
import { expectedLevel } from '../src/core/index.ts';
import { createTeacher, CrossEncoderTeacher, levelOfLabels, TEACHERS, type TeacherPair } from '../src/teacher/index.ts';
import { caught, DATA_DIR, runCli, tempDir } from './helpers.ts';
import { writeTinyCrossEncoder } from './tiny-cross-encoder.ts';

const STACK = /\n {4}at /;
const TEXTS = [
  'cordless drill with lithium battery and charger',
  'blue garden hose 50 ft with brass fittings',
  'red drill bit set for wood and metal',
  'white ceiling paint one gallon',
  'stainless steel kitchen sink',
];
const pair = (queryText: string, itemText: string, itemId = itemText.slice(0, 12)): TeacherPair => ({ queryId: `q:${queryText}`, queryText, itemId, itemText });

const dir = tempDir('distilrank-xenc-');
afterAll(() => dir.cleanup());

describe('the onnx-cross-encoder teacher on a tiny test-built model', () => {
  let teacher: CrossEncoderTeacher;
  const modelDir = join(dir.path, 'tiny-xenc');

  beforeAll(() => {
    writeTinyCrossEncoder(modelDir, { texts: TEXTS, maxLength: 32 });
    teacher = new CrossEncoderTeacher({ dir: modelDir, threads: 1 });
  });
  afterAll(async () => teacher.close());

  it('is named by the registry and the folder; reads logits', async () => {
    expect(teacher.name).toBe('onnx-cross-encoder');
    expect(teacher.model).toBe('tiny-xenc');
    expect(teacher.promptVersion).toMatch(/^xenc1-[0-9a-f]{16}$/);
    expect(teacher.maxLength).toBe(32);
    const j = await teacher.judge(pair('cordless drill', TEXTS[0]!));
    expect(j.method).toBe('logits');
    expect(j.cost).toMatchObject({ calls: 1, outputTokens: 0, usd: 0 });
    // [CLS] cordless drill [SEP] + 7 item words + [SEP]
    expect(j.cost.inputTokens).toBe(1 + 2 + 1 + 7 + 1);
    expect(j.cost.seconds).toBeGreaterThan(0);
  });

  it('gives five probabilities summing to 1, and ranks an item repeating the query above an unrelated one', async () => {
    const on = await teacher.judge(pair('cordless drill battery', TEXTS[0]!));
    const half = await teacher.judge(pair('cordless drill battery', 'drill bit set'));
    const off = await teacher.judge(pair('cordless drill battery', TEXTS[3]!));
    for (const j of [on, half, off]) {
      expect(j.distribution).toHaveLength(5);
      expect(j.distribution.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      for (const p of j.distribution) expect(p).toBeGreaterThanOrEqual(0);
    }
    // full coverage peaks at L5, none at L1, a third in between
    expect(on.distribution.indexOf(Math.max(...on.distribution))).toBe(4);
    expect(off.distribution.indexOf(Math.max(...off.distribution))).toBe(0);
    expect(expectedLevel(on.distribution)).toBeGreaterThan(expectedLevel(half.distribution));
    expect(expectedLevel(half.distribution)).toBeGreaterThan(expectedLevel(off.distribution));
  });

  it('same inputs give the same outputs: one by one, batched together with others, and after a reload', async () => {
    const pairs = TEXTS.map((t) => pair('drill set for wood', t));
    const single = [];
    for (const p of pairs) single.push(await teacher.judge(p));
    const together = await Promise.all(pairs.map((p) => teacher.judge(p))); // one micro-batch
    const many = await teacher.judgeMany([...pairs].reverse());
    const again = new CrossEncoderTeacher({ dir: modelDir, threads: 1, maxBatch: 2 });
    try {
      expect(again.promptVersion).toBe(teacher.promptVersion);
      const reloaded = await Promise.all(pairs.map((p) => again.judge(p)));
      single.forEach((s, i) => {
        expect(together[i]!.distribution).toEqual(s.distribution);
        expect(many[pairs.length - 1 - i]!.distribution).toEqual(s.distribution);
        expect(reloaded[i]!.distribution).toEqual(s.distribution);
        expect(together[i]!.cost.inputTokens).toBe(s.cost.inputTokens);
      });
    } finally {
      await again.close();
    }
    // different items do get different judgments (the model is not constant)
    expect(new Set(single.map((s) => expectedLevel(s.distribution).toFixed(4))).size).toBeGreaterThan(1);
  });

  it('cuts a long item to the window and never the query', async () => {
    const { tokenizer } = await teacher.load();
    const filler = 'white ceiling paint '.repeat(40);
    const query = 'cordless lithium charger';
    const e = teacher.encodePair(tokenizer, query, `${filler} cordless lithium charger`);
    expect(e.ids.length).toBe(32);
    const queryIds = tokenizer.encode(query, { add_special_tokens: false });
    // [CLS] + the whole query + [SEP], all of token type 0, then the item
    expect(e.ids.slice(1, 1 + queryIds.length)).toEqual(queryIds);
    expect(e.types!.slice(0, queryIds.length + 2).every((t) => t === 0)).toBe(true);
    expect(e.types![queryIds.length + 2]).toBe(1);
    expect(e.ids[e.ids.length - 1]).toBe(e.ids[queryIds.length + 1]); // ends with [SEP]
    // the item's matching words were past the window: cut, so the judgment is L1
    const cut = await teacher.judge(pair(query, `${filler} cordless lithium charger`));
    expect(cut.cost.inputTokens).toBe(32);
    expect(cut.distribution.indexOf(Math.max(...cut.distribution))).toBe(0);
    const front = await teacher.judge(pair(query, `cordless lithium charger ${filler}`));
    expect(front.distribution.indexOf(Math.max(...front.distribution))).toBe(4);
    // a query longer than the window: judged, within the window
    const long = await teacher.judge(pair('drill '.repeat(50), 'drill bit set'));
    expect(long.cost.inputTokens).toBeLessThanOrEqual(32);
  });

  it('item text cannot forge special tokens: a literal [SEP] in the item is plain text', async () => {
    const { tokenizer } = await teacher.load();
    const forged = teacher.encodePair(tokenizer, 'drill', 'garden [SEP] drill [CLS] hose');
    const sep = tokenizer.encode('', { add_special_tokens: true }).at(-1)!;
    expect(forged.ids.filter((id) => id === sep)).toHaveLength(2); // only the template's
  });
});

describe('folders the teacher refuses', () => {
  const good = join(dir.path, 'good');
  beforeAll(() => writeTinyCrossEncoder(good, { texts: TEXTS }));

  const variant = (name: string, change: (d: string) => void): string => {
    const d = join(dir.path, name);
    rmSync(d, { recursive: true, force: true });
    cpSync(good, d, { recursive: true });
    change(d);
    return d;
  };
  const editConfig = (d: string, edit: (c: Record<string, unknown>) => void): void => {
    const file = join(d, 'config.json');
    const c = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    edit(c);
    writeFileSync(file, JSON.stringify(c));
  };

  it('a missing folder: FILE_NOT_FOUND naming it', () => {
    const e = caught(() => new CrossEncoderTeacher({ dir: join(dir.path, 'nowhere') }));
    expect(e.code).toBe('FILE_NOT_FOUND');
    expect(e.details.file).toBe(join(dir.path, 'nowhere'));
    expect(e.details.hint).toMatch(/onnx\/model\.onnx/);
  });

  it('no ONNX file: FILE_NOT_FOUND naming onnx/model.onnx', () => {
    const d = variant('no-onnx', (x) => rmSync(join(x, 'onnx'), { recursive: true }));
    const e = caught(() => new CrossEncoderTeacher({ dir: d }));
    expect(e.code).toBe('FILE_NOT_FOUND');
    expect(e.details.file).toBe(join(d, 'onnx', 'model.onnx'));
  });

  it('no tokenizer.json: FILE_NOT_FOUND naming it', () => {
    const d = variant('no-tokenizer', (x) => rmSync(join(x, 'tokenizer.json')));
    const e = caught(() => new CrossEncoderTeacher({ dir: d }));
    expect(e.code).toBe('FILE_NOT_FOUND');
    expect(e.details.file).toBe(join(d, 'tokenizer.json'));
  });

  it('a 3-label config: MODEL_MISMATCH naming config.json and id2label', () => {
    const d = variant('three', (x) => editConfig(x, (c) => (c.id2label = { 0: 'bad', 1: 'ok', 2: 'good' })));
    const e = caught(() => new CrossEncoderTeacher({ dir: d }));
    expect(e.code).toBe('MODEL_MISMATCH');
    expect(e.details).toMatchObject({ file: join(d, 'config.json'), field: 'id2label' });
    expect(e.message).toMatch(/3 labels/);
  });

  it('five labels that are not levels: MODEL_MISMATCH', () => {
    const d = variant('names', (x) => editConfig(x, (c) => (c.id2label = { 0: 'a', 1: 'b', 2: 'c', 3: 'd', 4: 'e' })));
    const e = caught(() => new CrossEncoderTeacher({ dir: d }));
    expect(e.code).toBe('MODEL_MISMATCH');
    expect(e.details.field).toBe('id2label');
  });

  it('malformed JSON in config.json: MODEL_MISMATCH naming the file', () => {
    const d = variant('bad-json', (x) => writeFileSync(join(x, 'config.json'), '{"model_type": "bert", "id2label": {'));
    const e = caught(() => new CrossEncoderTeacher({ dir: d }));
    expect(e.code).toBe('MODEL_MISMATCH');
    expect(e.details.file).toBe(join(d, 'config.json'));
    expect(e.message).toMatch(/not valid JSON/);
  });

  it('no model_type: MODEL_MISMATCH naming the field', () => {
    const d = variant('no-type', (x) => editConfig(x, (c) => delete c.model_type));
    const e = caught(() => new CrossEncoderTeacher({ dir: d }));
    expect(e).toMatchObject({ code: 'MODEL_MISMATCH' });
    expect(e.details.field).toBe('model_type');
  });

  it('an ONNX file that is not a model: MODEL_MISMATCH at the first judgment, naming the file', async () => {
    const d = variant('garbage-onnx', (x) => writeFileSync(join(x, 'onnx', 'model.onnx'), 'not an onnx model'));
    const t = new CrossEncoderTeacher({ dir: d });
    await expect(t.judge(pair('drill', 'drill'))).rejects.toMatchObject({ code: 'MODEL_MISMATCH', details: { file: join(d, 'onnx', 'model.onnx') } });
    await t.close();
  });

  it('model.onnx at the folder root is accepted, with the same judgments', async () => {
    const d = variant('root-onnx', (x) => {
      copyFileSync(join(x, 'onnx', 'model.onnx'), join(x, 'model.onnx'));
      rmSync(join(x, 'onnx'), { recursive: true });
    });
    const a = new CrossEncoderTeacher({ dir: d, threads: 1 });
    const b = new CrossEncoderTeacher({ dir: good, threads: 1 });
    try {
      expect(a.folder.subfolder).toBe('');
      const p = pair('drill bit', TEXTS[2]!);
      expect((await a.judge(p)).distribution).toEqual((await b.judge(p)).distribution);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('promptVersion changes when the model files change', () => {
    const before = new CrossEncoderTeacher({ dir: good }).promptVersion;
    const d = variant('sharper', (x) => writeTinyCrossEncoder(x, { texts: TEXTS, sharpness: 5 }));
    expect(new CrossEncoderTeacher({ dir: d }).promptVersion).not.toBe(before);
    const v = variant('more-vocab', (x) => writeTinyCrossEncoder(x, { texts: [...TEXTS, 'hammer'] }));
    expect(new CrossEncoderTeacher({ dir: v }).promptVersion).not.toBe(before);
    expect(new CrossEncoderTeacher({ dir: variant('copy', () => {}) }).promptVersion).toBe(before); // a copy is the same model
  });

  it('the registry lists it as a non-LLM teacher', () => {
    expect(Object.isFrozen(TEACHERS)).toBe(true);
    expect(TEACHERS['onnx-cross-encoder']!.isLLM).toBe(false);
    expect(TEACHERS['onnx-cross-encoder']!.description).toMatch(/DISTILRANK_CROSS_ENCODER_DIR/);
  });

  it('judgments asked for after close are refused as fatal', async () => {
    const t = new CrossEncoderTeacher({ dir: good, threads: 1 });
    await t.judge(pair('drill', 'drill'));
    await t.close();
    await expect(t.judge(pair('drill', 'drill'))).rejects.toMatchObject({ name: 'CallError', kind: 'fatal' });
  });

  it('the registry reads DISTILRANK_CROSS_ENCODER_DIR, and says so when it is missing', () => {
    const t = createTeacher('onnx-cross-encoder', { env: { DISTILRANK_CROSS_ENCODER_DIR: good } });
    expect(t.model).toBe('good');
    const e = caught(() => createTeacher('onnx-cross-encoder', { env: {} }));
    expect(e.code).toBe('BAD_OPTION');
    expect(e.message).toMatch(/DISTILRANK_CROSS_ENCODER_DIR/);
    expect(
      caught(() => createTeacher('onnx-cross-encoder', { env: { DISTILRANK_CROSS_ENCODER_DIR: good, DISTILRANK_CROSS_ENCODER_MAX_BATCH: '0' } })).message,
    ).toMatch(/MAX_BATCH/);
    expect(caught(() => createTeacher('onnx-cross-encoder', { env: {}, settings: { folder: good } })).code).toBe('BAD_OPTION');
  });
});

describe('levelOfLabels: id2label → levels', () => {
  const ids = (labels: string[]) => Object.fromEntries(labels.map((l, i) => [String(i), l]));
  it.each([
    [
      ['L1', 'L2', 'L3', 'L4', 'L5'],
      [1, 2, 3, 4, 5],
    ],
    [
      ['L5', 'L4', 'L3', 'L2', 'L1'],
      [5, 4, 3, 2, 1],
    ],
    [
      ['0', '1', '2', '3', '4'],
      [1, 2, 3, 4, 5],
    ],
    [
      ['LABEL_0', 'LABEL_1', 'LABEL_2', 'LABEL_3', 'LABEL_4'],
      [1, 2, 3, 4, 5],
    ],
    [
      ['1', '2', '3', '4', '5'],
      [1, 2, 3, 4, 5],
    ],
    [
      ['level-2', 'Level 1', 'level_3', 'LEVEL 5', 'level 4'],
      [2, 1, 3, 5, 4],
    ],
    [
      ['highly irrelevant', 'irrelevant', 'marginally relevant', 'relevant', 'Highly_Relevant'],
      [1, 2, 3, 4, 5],
    ],
  ])('%j → %j', (labels, levels) => {
    expect(levelOfLabels(ids(labels), 'config.json')).toEqual(levels);
  });
  it.each([[['L1', 'L2', 'L3', 'L4', 'L4']], [['0', '1', '2', '3', '5']], [['L1', 'L2', 'relevant', 'L4', 'L5']], [['neg', 'pos', 'x', 'y', 'z']]])(
    '%j is refused',
    (labels) => {
      expect(caught(() => levelOfLabels(ids(labels), 'config.json')).code).toBe('MODEL_MISMATCH');
    },
  );
});

// ---------------------------------------------------------------------------------------------

describe('the CLI with --teacher onnx-cross-encoder (cranfield)', () => {
  const work = join(dir.path, 'cli');
  const modelDir = join(dir.path, 'cranfield-xenc');
  const env = { DISTILRANK_CROSS_ENCODER_DIR: modelDir, DISTILRANK_CROSS_ENCODER_THREADS: '1' };
  const run = (args: readonly string[]) => runCli(args, { cwd: work, env });

  beforeAll(() => {
    mkdirSync(work, { recursive: true });
    // the vocabulary: every word of cranfield's documents and queries
    const texts = ['docs.jsonl', 'queries.tsv'].map((f) => readFileSync(join(DATA_DIR, 'cranfield', f), 'utf8'));
    writeTinyCrossEncoder(modelDir, { texts, maxLength: 128 });
  });

  it('label writes the pool to the label cache; a rerun requests nothing new', () => {
    const args = ['label', '--dataset', 'cranfield', '--teacher', 'onnx-cross-encoder', '--k', '2', '--concurrency', '8'];
    const first = run(args);
    expect(first.stderr).not.toMatch(STACK);
    expect(first.status, first.stderr).toBe(0);
    const note = /teacher onnx-cross-encoder \(cranfield-xenc, prompt (xenc1-[0-9a-f]{16})\); pool: (\d+) pairs/.exec(first.stderr);
    expect(note, first.stderr).not.toBeNull();
    const pool = Number(note![2]);
    expect(pool).toBe(157 * 2); // 2 candidates for each training query
    const m = /(\d+) labelled now, 0 already cached, (\d+) duplicates, 0 failed, 0 remaining; stopped: done/.exec(first.stdout);
    expect(m, first.stdout).not.toBeNull();
    expect(Number(m![1]) + Number(m![2])).toBe(pool);
    expect(first.stdout).toMatch(new RegExp(`cost of this run: ${m![1]} calls, [1-9]\\d* input \\+ 0 output tokens, \\$0\\.0000`));

    const cache = LabelCache.open(join(work, '.distilrank', 'labels.sqlite'), { readonly: true });
    try {
      const labels = cache.labelsFor('cranfield', 'onnx-cross-encoder', 'cranfield-xenc', note![1]!);
      expect(labels).toHaveLength(pool);
      for (const l of labels) expect(l.distribution.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      // BM25's top candidates share query words: the tiny model does not judge them all L1
      expect(labels.some((l) => expectedLevel(l.distribution) > 2)).toBe(true);
    } finally {
      cache.close();
    }

    const again = run(args);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/0 labelled now/);
    expect(again.stdout).toMatch(/cost of this run: 0 calls/);
  });

  it('teacher eval prints the agreement table against the human labels', () => {
    const r = run(['teacher', 'eval', '--dataset', 'cranfield', '--teacher', 'onnx-cross-encoder', '--concurrency', '16']);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /cranfield: teacher onnx-cross-encoder \(cranfield-xenc, prompt xenc1-[0-9a-f]{16}\) vs human labels; calibrated on \d+ dev pairs/,
    );
    expect(r.stdout).toMatch(/accuracy/);
    expect(r.stdout).toMatch(/^\s*raw\b/m);
    expect(r.stdout).toMatch(/^\s*calibrated\b/m);
    expect(r.stdout).toMatch(/confusion \(calibrated/);
    expect(r.stdout).toMatch(/cost of this run: [1-9]\d* calls/);
  });

  it('a folder that is not there: exit 1, error[FILE_NOT_FOUND] with a hint, no stack trace', () => {
    const r = runCli(['label', '--dataset', 'cranfield', '--teacher', 'onnx-cross-encoder'], {
      cwd: work,
      env: { DISTILRANK_CROSS_ENCODER_DIR: join(dir.path, 'missing') },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error\[FILE_NOT_FOUND\]/);
    expect(r.stderr).toMatch(/\n {2}hint: .*DISTILRANK_CROSS_ENCODER_DIR/);
    expect(r.stderr).not.toMatch(STACK);
  });
});

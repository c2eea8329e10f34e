/**
 * Offline batch labelling (OpenAI Batch / `vllm run-batch` JSONL): export writes exactly the requests
 * judge() would send, for the pairs missing from the cache; a vLLM-like runner in this file answers
 * them through the fake OpenAI server (never through the teacher); import files each answer under its
 * cache key with judge()'s own reading, counts failures (re-exported next time), and refuses unknown
 * custom_ids and manifests of another teacher configuration.
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BATCH_URL,
  LabelCache,
  buildPool,
  exportBatch,
  importBatch,
  labelKey,
  manifestPathFor,
  readBatchManifest,
  type ExportBatchResult,
} from '../src/label/index.ts';
import { type DatasetBundle } from '../src/ingest/index.ts';
import { LlmTeacher, type LlmTeacherConfig, type TeacherPair } from '../src/teacher/index.ts';
import { caught, ingestedStore, rejected, useFakeOpenAI, useTempDir } from './helpers.ts';
import { shopBundle } from './synth-catalogue.ts';

const DATASET = 'batch-shop';
const bundle = (): DatasetBundle =>
  shopBundle({ name: DATASET, description: 'batch test', colours: ['red', 'blue', 'green', 'black'], things: ['mug', 'teapot', 'kettle', 'lamp', 'chair'] });

const tmp = useTempDir('distilrank-batch-');
const fake = useFakeOpenAI();
let pool: TeacherPair[];
const fresh = (name: string): string => tmp.fresh(name);

beforeAll(() => {
  const store = ingestedStore(join(tmp.path, 'store.db'), bundle());
  pool = buildPool(store.dataset(DATASET), { k: 3, queries: 'train' });
  store.close();
});
afterEach(() => {
  fake.setBehaviour({ kind: 'answer' });
});

function config(extra: Partial<LlmTeacherConfig> = {}): LlmTeacherConfig {
  return { baseURL: fake.url, model: 'fake-model', pricing: { inputPerMTok: 2.5, outputPerMTok: 10 }, timeoutMs: 5000, mode: 'logprobs', ...extra };
}

interface RequestLine {
  custom_id: string;
  method: string;
  url: string;
  body: Record<string, unknown>;
}

function readJsonl(path: string): unknown[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as unknown);
}

type Fault = 'error' | 'http500' | 'nologprobs' | 'fewer';

/**
 * What `vllm run-batch` does: POST each line's body to the server, write one output line per request
 * in the batch output shape. `fault(customId)` turns a line into an OpenAI-style error line, a 500,
 * a 200 whose body has no logprobs, or one with fewer choices than asked (an endpoint ignoring n).
 */
async function runBatch(input: string, output: string, fault: (id: string) => Fault | undefined = () => undefined): Promise<void> {
  const base = fake.url.replace(/\/v1$/, '');
  const out: string[] = [];
  let n = 0;
  for (const raw of readJsonl(input)) {
    const req = raw as RequestLine;
    const f = fault(req.custom_id);
    n += 1;
    if (f === 'error') {
      out.push(
        JSON.stringify({ id: `batch_req_${n}`, custom_id: req.custom_id, response: null, error: { code: 'server_error', message: 'model overloaded' } }),
      );
      continue;
    }
    if (f === 'http500') {
      out.push(
        JSON.stringify({
          id: `vllm-${n}`,
          custom_id: req.custom_id,
          response: { status_code: 500, request_id: `vllm-batch-${n}`, body: { error: { message: 'engine died' } } },
          error: null,
        }),
      );
      continue;
    }
    const res = await fetch(`${base}${req.url}`, { method: req.method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(req.body) });
    const body = (await res.json()) as { choices: Array<Record<string, unknown>> };
    if (f === 'nologprobs') for (const c of body.choices) c.logprobs = null;
    if (f === 'fewer') body.choices = body.choices.slice(0, 1);
    out.push(
      JSON.stringify({ id: `vllm-${n}`, custom_id: req.custom_id, response: { status_code: res.status, request_id: `vllm-batch-${n}`, body }, error: null }),
    );
  }
  writeFileSync(output, out.map((l) => l + '\n').join(''));
}

const keyOf = (t: LlmTeacher, p: TeacherPair) => labelKey(t, p.queryText, p.itemText);

describe('batch export and import (logprobs)', () => {
  it('exports what judge() sends, imports what judge() reads, and re-exports only what is missing', async () => {
    expect(pool.length).toBeGreaterThan(10);
    const teacher = new LlmTeacher(config());
    const cache = LabelCache.open(fresh('labels.sqlite'));
    // One pair labelled live beforehand: export leaves it out.
    const live = await teacher.judge(pool[0]!);
    cache.put(keyOf(teacher, pool[0]!), live, { dataset: DATASET, queryId: pool[0]!.queryId, itemId: pool[0]!.itemId });
    // A second id for the same texts: one request, both pairs answered.
    const dup: TeacherPair = { ...pool[1]!, queryId: 'q-dup', itemId: 'i-dup' };
    const pairs = [...pool, dup];

    const dir = fresh('batch');
    mkdirSync(dir);
    const input = join(dir, 'requests.jsonl');
    const before = fake.requests.length;
    const exported: ExportBatchResult = exportBatch({ cache, teacher, pairs, dataset: DATASET, path: input });
    expect(fake.requests.length).toBe(before); // the teacher sent nothing
    expect(exported).toMatchObject({ written: pool.length - 1, alreadyCached: 1, duplicates: 1, path: input, manifestPath: manifestPathFor(input) });
    expect(readdirSync(dir).sort()).toEqual(['requests.jsonl', 'requests.jsonl.manifest.json']); // no temp files left

    const text = readFileSync(input, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = readJsonl(input) as RequestLine[];
    expect(lines).toHaveLength(pool.length - 1);
    expect(new Set(lines.map((l) => l.custom_id)).size).toBe(lines.length);
    for (const l of lines) {
      expect(Object.keys(l).sort()).toEqual(['body', 'custom_id', 'method', 'url']);
      expect(l.method).toBe('POST');
      expect(l.url).toBe(BATCH_URL);
      expect(l.url).toBe('/v1/chat/completions');
    }
    // The body of a pair is exactly the request judge() sends for it.
    const manifest = readBatchManifest(manifestPathFor(input));
    expect(manifest).toMatchObject({ dataset: DATASET, teacher: 'llm', model: 'fake-model', promptVersion: teacher.promptVersion, mode: 'logprobs' });
    for (const idx of [1, 5, pool.length - 1]) {
      const p = pool[idx]!;
      await teacher.judge(p);
      const sent = fake.requests.at(-1)!.body;
      const line = lines.find((l) => manifest.entries[l.custom_id]!.refs.some((r) => r.queryId === p.queryId && r.itemId === p.itemId));
      expect(line).toBeDefined();
      expect(line!.body).toEqual(sent);
      expect(sent).toMatchObject({ model: 'fake-model', logprobs: true, top_logprobs: 20, temperature: 0 });
    }
    const dupLine = lines.find((l) => manifest.entries[l.custom_id]!.refs.some((r) => r.queryId === 'q-dup'))!;
    expect(manifest.entries[dupLine.custom_id]!.refs.map((r) => r.queryId)).toEqual([pool[1]!.queryId, 'q-dup']);

    // Run the batch the way vLLM would; three lines fail in three ways.
    const bad = new Map<string, 'error' | 'http500' | 'nologprobs'>([
      [lines[2]!.custom_id, 'error'],
      [lines[3]!.custom_id, 'http500'],
      [lines[4]!.custom_id, 'nologprobs'],
    ]);
    const output = join(dir, 'results.jsonl');
    await runBatch(input, output, (id) => bad.get(id));
    const beforeImport = fake.requests.length;
    const imported = await importBatch({ cache, teacher, path: output, manifest: manifestPathFor(input) });
    expect(fake.requests.length).toBe(beforeImport);
    expect(imported.imported).toBe(lines.length - 3);
    expect(imported.alreadyCached).toBe(0);
    expect(imported.failed).toBe(3);
    expect(imported.failures.map((f) => f.line)).toEqual([3, 4, 5]);
    expect(imported.failures[0]!.message).toContain('model overloaded');
    expect(imported.failures[1]!.message).toContain('500');
    expect(imported.failures[2]!.message).toMatch(/logprobs/);
    expect(imported.failures.map((f) => f.customId)).toEqual([...bad.keys()]);
    expect(cache.count()).toBe(1 + lines.length - 3);

    // Every imported label is what judge() makes of the same answer, cost included.
    let usd = 0;
    let inputTokens = 0;
    const failedIds = new Set(bad.keys());
    for (const l of lines) {
      const entry = manifest.entries[l.custom_id]!;
      const p = pool.find((x) => x.queryId === entry.refs[0]!.queryId && x.itemId === entry.refs[0]!.itemId)!;
      const got = cache.get(keyOf(teacher, p));
      if (failedIds.has(l.custom_id)) {
        expect(got).toBeUndefined();
        continue;
      }
      expect(got).toBeDefined();
      const judged = await teacher.judge(p);
      expect(got!.method).toBe(judged.method);
      got!.distribution.forEach((x, i) => expect(x).toBeCloseTo(judged.distribution[i]!, 12));
      expect(got!.cost).toMatchObject({ calls: 1, inputTokens: judged.cost.inputTokens, outputTokens: judged.cost.outputTokens });
      expect(got!.cost.usd).toBeCloseTo(judged.cost.usd, 15);
      expect(got!.cost.inputTokens).toBeGreaterThan(0);
      usd += got!.cost.usd;
      inputTokens += got!.cost.inputTokens;
    }
    expect(imported.cost.calls).toBe(imported.imported);
    expect(imported.cost.usd).toBeCloseTo(usd, 12);
    expect(imported.cost.inputTokens).toBe(inputTokens);
    // The duplicate's pair is answered too, under the data set.
    const rows = cache.labelsFor(DATASET, 'llm', 'fake-model', teacher.promptVersion);
    expect(rows.some((r) => r.queryId === 'q-dup' && r.itemId === 'i-dup')).toBe(true);
    expect(rows.some((r) => r.queryId === pool[0]!.queryId)).toBe(true);
    expect(rows).toHaveLength(pairs.length - 3);

    // Importing again changes nothing: the labels are kept, not overwritten.
    const firstLabel = cache.get(keyOf(teacher, p1(manifest, lines[0]!)))!;
    const again = await importBatch({ cache, teacher, path: output, manifest: manifestPathFor(input) });
    expect(again).toMatchObject({ imported: 0, alreadyCached: lines.length - 3, failed: 3 });
    expect(again.cost.usd).toBe(0);
    expect(cache.get(keyOf(teacher, p1(manifest, lines[0]!)))).toEqual(firstLabel);

    // The next export writes only the three failed pairs.
    const input2 = join(dir, 'requests-2.jsonl');
    const second = exportBatch({ cache, teacher, pairs, dataset: DATASET, path: input2 });
    expect(second).toMatchObject({ written: 3, alreadyCached: pool.length - 3, duplicates: 1 });
    const lines2 = readJsonl(input2) as RequestLine[];
    expect(lines2.map((l) => l.custom_id).sort()).toEqual([...failedIds].sort());
    const output2 = join(dir, 'results-2.jsonl');
    await runBatch(input2, output2);
    const third = await importBatch({ cache, teacher, path: output2, manifest: manifestPathFor(input2) });
    expect(third).toMatchObject({ imported: 3, alreadyCached: 0, failed: 0 });
    expect(cache.labelsFor(DATASET, 'llm', 'fake-model', teacher.promptVersion)).toHaveLength(pairs.length);
    const last = exportBatch({ cache, teacher, pairs, dataset: DATASET, path: join(dir, 'requests-3.jsonl') });
    expect(last.written).toBe(0);
    expect(readFileSync(join(dir, 'requests-3.jsonl'), 'utf8')).toBe('');
    cache.close();

    function p1(m: typeof manifest, l: RequestLine): TeacherPair {
      const r = m.entries[l.custom_id]!.refs[0]!;
      return pool.find((x) => x.queryId === r.queryId && x.itemId === r.itemId)!;
    }
  });
});

describe('batch export and import (samples)', () => {
  it('sends one request with n = k and reads the k samples as judge() does; fewer choices fail', async () => {
    const teacher = new LlmTeacher(config({ mode: 'samples', samples: 4, temperature: 0.7, seed: 7 }));
    fake.setBehaviour({ kind: 'answer', samples: [2, 2, 'not json', 5] });
    const cache = LabelCache.open(fresh('labels.sqlite'));
    const pairs = pool.slice(0, 6);
    const input = fresh('requests.jsonl');
    expect(exportBatch({ cache, teacher, pairs, dataset: DATASET, path: input })).toMatchObject({ written: 6, alreadyCached: 0 });
    const lines = readJsonl(input) as RequestLine[];
    const manifest = readBatchManifest(manifestPathFor(input));
    expect(manifest.mode).toBe('samples');

    await teacher.judge(pairs[0]!);
    const sent = fake.requests.at(-1)!.body;
    expect(sent).toMatchObject({ n: 4, seed: 7, temperature: 0.7 });
    expect((sent.response_format as { type: string }).type).toBe('json_schema');
    expect(lines[0]!.body).toEqual(sent);
    expect(manifest.entries[lines[0]!.custom_id]!.refs[0]!.queryId).toBe(pairs[0]!.queryId);

    const output = fresh('results.jsonl');
    await runBatch(input, output, (id) => (id === lines[1]!.custom_id ? 'fewer' : undefined));
    const r = await importBatch({ cache, teacher, path: output, manifest: manifest });
    expect(r).toMatchObject({ imported: 5, failed: 1 });
    expect(r.failures[0]!.message).toMatch(/ignored n/);
    const judged = await teacher.judge(pairs[0]!);
    const got = cache.get(keyOf(teacher, pairs[0]!))!;
    expect(got.method).toBe('samples');
    expect(got.distribution).toEqual(judged.distribution);
    got.distribution.forEach((x, i) => expect(x).toBeCloseTo([0, 2 / 3, 0, 0, 1 / 3][i]!, 12));
    expect(cache.get(keyOf(teacher, pairs[1]!))).toBeUndefined();
    cache.close();
  });

  it('refuses the auto mode with BAD_OPTION and writes nothing', async () => {
    const teacher = new LlmTeacher(config({ mode: 'auto' }));
    const cache = LabelCache.open(fresh('labels.sqlite'));
    const input = fresh('requests.jsonl');
    const e = caught(() => exportBatch({ cache, teacher, pairs: pool, dataset: DATASET, path: input }));
    expect(e.code).toBe('BAD_OPTION');
    expect(e.message).toMatch(/auto/);
    expect(e.details.hint).toMatch(/logprobs.*samples/);
    expect(existsSync(input)).toBe(false);
    expect(existsSync(manifestPathFor(input))).toBe(false);
    cache.close();
  });
});

describe('batch import refuses', () => {
  let input: string;
  let output: string;
  let teacher: LlmTeacher;
  beforeAll(async () => {
    teacher = new LlmTeacher(config());
    const cache = LabelCache.open(fresh('labels.sqlite'));
    input = fresh('requests.jsonl');
    exportBatch({ cache, teacher, pairs: pool.slice(0, 5), dataset: DATASET, path: input });
    cache.close();
    output = fresh('results.jsonl');
    await runBatch(input, output);
  });

  it('an unknown custom_id (BAD_INPUT naming file and line), importing nothing', async () => {
    const bad = fresh('results-bad.jsonl');
    writeFileSync(bad, readFileSync(output, 'utf8') + '\n');
    const stray = readJsonl(output)[0] as Record<string, unknown>;
    appendFileSync(bad, JSON.stringify({ ...stray, custom_id: 'dr-someone-else' }) + '\n');
    const cache = LabelCache.open(fresh('labels.sqlite'));
    const e = await rejected(importBatch({ cache, teacher, path: bad, manifest: manifestPathFor(input) }));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.details.file).toBe(bad);
    expect(e.details.line).toBe(7); // five answers, a blank line, then the stray one
    expect(e.message).toContain('dr-someone-else');
    expect(e.format()).toContain(`${bad}:7`);
    expect(cache.count()).toBe(0);

    const notJson = fresh('results-garbage.jsonl');
    writeFileSync(notJson, readFileSync(output, 'utf8').split('\n').slice(0, 2).join('\n') + '\n{"custom_id": \n');
    const e2 = await rejected(importBatch({ cache, teacher, path: notJson, manifest: manifestPathFor(input) }));
    expect(e2.code).toBe('BAD_INPUT');
    expect(e2.details.line).toBe(3);
    expect(cache.count()).toBe(0);
    // The intact output imports.
    expect((await importBatch({ cache, teacher, path: output, manifest: manifestPathFor(input) })).imported).toBe(5);
    cache.close();
  });

  it('a manifest made for another model or prompt version (MODEL_MISMATCH)', async () => {
    const cache = LabelCache.open(fresh('labels.sqlite'));
    const other = new LlmTeacher(config({ model: 'other-model' }));
    const e = await rejected(importBatch({ cache, teacher: other, path: output, manifest: manifestPathFor(input) }));
    expect(e.code).toBe('MODEL_MISMATCH');
    expect(e.message).toContain('fake-model');
    expect(e.message).toContain('other-model');
    const samples = new LlmTeacher(config({ mode: 'samples' }));
    const e2 = await rejected(importBatch({ cache, teacher: samples, path: output, manifest: manifestPathFor(input) }));
    expect(e2.code).toBe('MODEL_MISMATCH');
    expect(e2.details.field).toBe('promptVersion');
    const wider = new LlmTeacher(config({ maxItemChars: 500 }));
    expect((await rejected(importBatch({ cache, teacher: wider, path: output, manifest: manifestPathFor(input) }))).code).toBe('MODEL_MISMATCH');
    expect(cache.count()).toBe(0);
    cache.close();
  });

  it('a missing or foreign manifest', async () => {
    const cache = LabelCache.open(fresh('labels.sqlite'));
    const missing = await rejected(importBatch({ cache, teacher, path: output, manifest: fresh('nope.json') }));
    expect(missing.code).toBe('FILE_NOT_FOUND');
    const foreign = fresh('foreign.json');
    writeFileSync(foreign, JSON.stringify({ hello: 'world' }));
    expect((await rejected(importBatch({ cache, teacher, path: output, manifest: foreign }))).code).toBe('BAD_INPUT');
    cache.close();
  });
});

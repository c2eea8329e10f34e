/**
 * The teacher, labelling and distillation commands end to end, as a user runs them:
 *
 * 1. the local teacher (not an LLM) on icecat-chorus: `teacher train` → `label --teacher local` (and
 *    again: nothing new) → `train --labels human+teacher --teacher local` → `eval --model
 *    student-distilled` → `teacher eval --json --svg` (and again: nothing paid twice);
 * 2. the errors a user meets on that path: exit 1, `error[CODE]`, a hint, never a stack trace;
 * 3. batch labelling with the llm teacher against a fake OpenAI-compatible server: export (no
 *    request), the batch run (done here, by POSTing each request line), import, then a plain
 *    `label` run that finds everything cached.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LabelCache } from '../src/label/index.ts';
import { Store } from '../src/store/index.ts';
import type { TeacherEvalReport } from '../src/studies/index.ts';
import { llmEnv, runCli, runCliAsync, tempDir, useFakeOpenAI, useTempDir, type CliResult } from './helpers.ts';

const STACK = /\n {4}at /;

/** The numbers of a `label` summary line. */
function labelSummary(stdout: string): {
  pairs: number;
  labelled: number;
  cached: number;
  duplicates: number;
  failed: number;
  remaining: number;
  stoppedBy: string;
} {
  const m = /: (\d+) pairs — (\d+) labelled now, (\d+) already cached, (\d+) duplicates, (\d+) failed, (\d+) remaining; stopped: (\w+)/.exec(stdout);
  expect(m, `no label summary in:\n${stdout}`).not.toBeNull();
  const [, pairs, labelled, cached, duplicates, failed, remaining, stoppedBy] = m!;
  return {
    pairs: Number(pairs),
    labelled: Number(labelled),
    cached: Number(cached),
    duplicates: Number(duplicates),
    failed: Number(failed),
    remaining: Number(remaining),
    stoppedBy: stoppedBy!,
  };
}

/** An error as the CLI must print it: exit 1, `error[CODE]`, a hint line, no stack trace. */
function expectCliError(r: CliResult, code: string): void {
  expect(r.status, r.stderr).toBe(1);
  expect(r.stderr).toMatch(new RegExp(`error\\[${code}\\]`));
  expect(r.stderr).toMatch(/\n {2}hint: \S/);
  expect(r.stderr).not.toMatch(STACK);
  expect(r.stderr).not.toMatch(/internal error/);
}

// ---------------------------------------------------------------------------------------------

describe('the local teacher end to end on icecat-chorus', () => {
  const dir = tempDir('distilrank-teacher-cli-');
  const run = (args: readonly string[]): CliResult => runCli(args, { cwd: dir.path });
  const teacherDir = join(dir.path, '.distilrank', 'models', 'icecat-chorus', 'teacher-local');
  let poolSize = 0;
  let promptVersion = '';
  let firstReport: TeacherEvalReport | undefined;

  afterAll(() => dir.cleanup());

  /** The local teacher's labels referenced by the data set itself (what distillation reads). */
  const poolLabels = (): number => {
    const cache = LabelCache.open(join(dir.path, '.distilrank', 'labels.sqlite'), { readonly: true });
    try {
      return cache.labelsFor('icecat-chorus', 'local', 'local-mlp-ensemble(icecat-chorus)', promptVersion).length;
    } finally {
      cache.close();
    }
  };

  it('teacher train: exit 0, says it is not an LLM, writes teacher.json', () => {
    const r = run(['teacher', 'train', '--dataset', 'icecat-chorus']);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/not an LLM/);
    expect(r.stdout).toMatch(/^dev: .*accuracy/m);
    const file = join(teacherDir, 'teacher.json');
    expect(existsSync(file)).toBe(true);
    const card = JSON.parse(readFileSync(file, 'utf8')) as { dataset: string; description: string };
    expect(card.dataset).toBe('icecat-chorus');
    expect(card.description).toMatch(/not an LLM/);
  });

  it('label --teacher local labels the whole pool; a rerun labels nothing', () => {
    const args = ['label', '--dataset', 'icecat-chorus', '--teacher', 'local', '--k', '10'];
    const r = run(args);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/stopped: done/);
    const note = /teacher local \(local-mlp-ensemble\(icecat-chorus\), prompt (\S+)\); pool: (\d+) pairs/.exec(r.stderr);
    expect(note, r.stderr).not.toBeNull();
    promptVersion = note![1]!;
    poolSize = Number(note![2]);
    expect(poolSize).toBeGreaterThan(0);
    expect(poolSize).toBeLessThanOrEqual(137 * 10); // at most k candidates per query
    const s = labelSummary(r.stdout);
    expect(s.pairs).toBe(poolSize);
    expect(s.labelled).toBeGreaterThan(0);
    expect(s.labelled + s.duplicates).toBe(poolSize);
    expect(s).toMatchObject({ cached: 0, failed: 0, remaining: 0, stoppedBy: 'done' });
    expect(r.stdout).toMatch(new RegExp(`cost of this run: ${s.labelled} calls, 0 input \\+ 0 output tokens, \\$0\\.0000`));
    expect(poolLabels()).toBe(poolSize);

    const again = run(args);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/0 labelled now/);
    const s2 = labelSummary(again.stdout);
    expect(s2.cached + s2.duplicates).toBe(poolSize);
    expect(again.stdout).toMatch(/cost of this run: 0 calls/);
  });

  it('train --labels human+teacher --teacher local --teacher-pairs 500 writes a distilled student with a teacher card', () => {
    const r = run(['train', '--dataset', 'icecat-chorus', '--labels', 'human+teacher', '--teacher', 'local', '--teacher-pairs', '500']);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/human\+teacher labels/);
    expect(r.stderr).toMatch(new RegExp(`distillation: ${Math.min(500, poolSize)} labels of teacher local`));
    const cardFile = join(dir.path, '.distilrank', 'models', 'icecat-chorus', 'student-human-teacher', 'card.json');
    expect(existsSync(cardFile)).toBe(true);
    expect(existsSync(join(dir.path, '.distilrank', 'models', 'icecat-chorus', 'student-human-teacher', 'model.onnx'))).toBe(true);
    const card = JSON.parse(readFileSync(cardFile, 'utf8')) as {
      labels: string;
      teacher: { name: string; model: string; promptVersion: string; weight: number; pairs: number } | null;
      negatives: { perQuery: number };
    };
    expect(card.labels).toBe('human+teacher');
    expect(card.teacher).not.toBeNull();
    expect(card.teacher!.name).toBe('local');
    expect(card.teacher!.model).toBe('local-mlp-ensemble(icecat-chorus)');
    expect(card.teacher!.promptVersion).toBe(promptVersion);
    expect(card.teacher!.weight).toBe(1);
    expect(card.teacher!.pairs).toBeGreaterThan(0);
    expect(card.teacher!.pairs).toBeLessThanOrEqual(500);
    expect(card.negatives.perQuery).toBe(0);
  });

  it('eval --model student-distilled --json prints one JSON line per protocol for student(human+teacher)', () => {
    const r = run(['eval', '--dataset', 'icecat-chorus', '--model', 'student-distilled', '--json']);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    const reports = lines.map((l) => JSON.parse(l) as { model: string; protocol: string; split: string; metrics: Record<string, number> });
    expect(reports.map((x) => x.protocol)).toEqual(['rerank', 'retrieval']);
    for (const rep of reports) {
      expect(rep.model).toBe('student(human+teacher)');
      expect(rep.split).toBe('test');
      expect(rep.metrics['nDCG@10']).toBeGreaterThanOrEqual(0);
      expect(rep.metrics['nDCG@10']).toBeLessThanOrEqual(1);
    }
    expect(reports[0]!.metrics.accuracy).toBeGreaterThanOrEqual(0); // label metrics always on for a student
  });

  it('teacher eval --teacher local --json --svg: raw and calibrated agreement on every test judgment, systems, the confusion drawn', () => {
    const r = run(['teacher', 'eval', '--dataset', 'icecat-chorus', '--teacher', 'local', '--json', '--svg', 'conf.svg']);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as TeacherEvalReport;
    firstReport = report;
    expect(report).toMatchObject({ dataset: 'icecat-chorus', teacher: 'local', model: 'local-mlp-ensemble(icecat-chorus)', promptVersion });
    for (const a of [report.raw, report.calibrated]) {
      expect(a.metrics.accuracy).toBeGreaterThanOrEqual(0);
      expect(a.metrics.accuracy).toBeLessThanOrEqual(1);
      expect(Number.isFinite(a.metrics.kappa_quadratic)).toBe(true);
      expect(a.confusion).toHaveLength(5);
      expect(a.confusion.flat().reduce((s, x) => s + x, 0)).toBe(report.pairs.evaluation);
    }
    const store = Store.open(join(dir.path, '.distilrank', 'store.sqlite'), { readonly: true });
    let testJudgments: number;
    try {
      testJudgments = store.judgments('icecat-chorus', { split: 'test' }).length;
    } finally {
      store.close();
    }
    expect(testJudgments).toBeGreaterThan(0);
    expect(report.pairs.evaluation).toBe(testJudgments);
    expect(report.jobs.evaluation.unlabelled).toBe(0);
    expect(report.cost.total.calls).toBeGreaterThan(0); // dev and test pairs were not in the pool: labelled now
    // the systems: the baselines and the distilled student of this folder (no human-only student here)
    expect(report.systems).toBeDefined();
    expect(report.systems!.systems.map((s) => s.name)).toEqual(['random', 'bm25', 'student-distilled']);
    expect(report.systems!.kendallTau).toBeGreaterThanOrEqual(-1);
    expect(report.systems!.kendallTau).toBeLessThanOrEqual(1);
    // the dev/test labels are never filed under the data set: distillation still reads the pool only
    expect(poolLabels()).toBe(poolSize);

    const svg = readFileSync(join(dir.path, 'conf.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    const counts = [...svg.matchAll(/>(\d+)<\/text>/g)].map((m) => Number(m[1]));
    expect(counts).toEqual(report.calibrated.confusion.flat());
  });

  it('teacher eval again labels nothing (cost.total.calls 0) and reports the same agreement', () => {
    const r = run(['teacher', 'eval', '--dataset', 'icecat-chorus', '--teacher', 'local', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as TeacherEvalReport;
    expect(report.cost.total.calls).toBe(0);
    expect(report.jobs.calibration.labelled).toBe(0);
    expect(report.jobs.evaluation.labelled).toBe(0);
    expect(firstReport).toBeDefined();
    expect(report.pairs).toEqual(firstReport!.pairs);
    expect(report.raw).toEqual(firstReport!.raw);
    expect(report.calibrated.confusion).toEqual(firstReport!.calibrated.confusion);
  });
});

// ---------------------------------------------------------------------------------------------

describe('teacher and label errors', () => {
  const dir = tempDir('distilrank-teacher-cli-err-');
  const run = (args: readonly string[], env?: Record<string, string>): CliResult => runCli(args, { cwd: dir.path, ...(env ? { env } : {}) });
  afterAll(() => dir.cleanup());

  it('label --teacher local before teacher train: FILE_NOT_FOUND, the hint says distilrank teacher train', () => {
    const r = run(['label', '--dataset', 'icecat-chorus', '--teacher', 'local', '--k', '5']);
    expectCliError(r, 'FILE_NOT_FOUND');
    expect(r.stderr).toMatch(/hint: .*distilrank teacher train --dataset icecat-chorus/);
    expect(existsSync(join(dir.path, '.distilrank', 'models', 'icecat-chorus', 'teacher-local'))).toBe(false);
  });

  it('label --teacher nope: UNKNOWN_NAME listing llm and local', () => {
    const r = run(['label', '--dataset', 'icecat-chorus', '--teacher', 'nope']);
    expectCliError(r, 'UNKNOWN_NAME');
    expect(r.stderr).toMatch(/"nope"/);
    expect(r.stderr).toMatch(/hint: .*\bllm\b/);
    expect(r.stderr).toMatch(/hint: .*\blocal\b/);
  });

  it('train --labels human+teacher --teacher local with no local labels in the cache: BAD_INPUT, the hint says distilrank label', () => {
    const t = run(['-q', 'teacher', 'train', '--dataset', 'icecat-chorus']);
    expect(t.status, t.stderr).toBe(0);
    const r = run(['train', '--dataset', 'icecat-chorus', '--labels', 'human+teacher', '--teacher', 'local']);
    expectCliError(r, 'BAD_INPUT');
    expect(r.stderr).toMatch(/hint: .*distilrank label --dataset icecat-chorus --teacher local/);
    expect(existsSync(join(dir.path, '.distilrank', 'models', 'icecat-chorus', 'student-human-teacher'))).toBe(false);
  });

  it('label --export-batch with the local teacher: BAD_OPTION (batch files are for the llm teacher), nothing written', () => {
    const r = run(['label', '--dataset', 'icecat-chorus', '--teacher', 'local', '--export-batch', 'f.jsonl']);
    expectCliError(r, 'BAD_OPTION');
    expect(r.stderr).toMatch(/llm/);
    expect(existsSync(join(dir.path, 'f.jsonl'))).toBe(false);
    expect(existsSync(join(dir.path, 'f.jsonl.manifest.json'))).toBe(false);
  });

  it('label --import-batch --teacher llm without --manifest: BAD_OPTION naming the manifest', () => {
    writeFileSync(join(dir.path, 'out.jsonl'), '');
    const env = llmEnv('http://127.0.0.1:9/v1', { DISTILRANK_LLM_MODE: 'logprobs' });
    const r = run(['label', '--dataset', 'icecat-chorus', '--teacher', 'llm', '--import-batch', 'out.jsonl'], env);
    expectCliError(r, 'BAD_OPTION');
    expect(r.stderr).toMatch(/error\[BAD_OPTION\]: .*manifest/);
    expect(r.stderr).toMatch(/hint: .*--manifest/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('batch labelling through the CLI with the llm teacher', () => {
  const dir = useTempDir('distilrank-teacher-cli-batch-');
  const server = useFakeOpenAI({ DISTILRANK_LLM_MODE: 'logprobs' });
  const { env } = server;
  const args = ['label', '--dataset', 'cranfield', '--k', '2'];

  it('export (no request) → batch run → import → a plain label run finds every pair cached', async () => {
    // export
    const ex = await runCliAsync([...args, '--export-batch', 'req.jsonl'], dir.path, env);
    expect(ex.stderr).not.toMatch(STACK);
    expect(ex.status, ex.stderr).toBe(0);
    expect(server.requests).toHaveLength(0);
    expect(ex.stderr).toMatch(new RegExp(`pool: ${157 * 2} pairs`)); // 2 candidates for each of the 157 training queries
    const w = /wrote (\d+) requests to .* \((\d+) pairs already labelled, (\d+) duplicates\); manifest (\S+)/.exec(ex.stdout);
    expect(w, ex.stdout).not.toBeNull();
    const [written, cached, duplicates] = [Number(w![1]), Number(w![2]), Number(w![3])];
    expect(cached).toBe(0);
    expect(written + duplicates).toBe(157 * 2);
    expect(w![4]).toBe(join(dir.path, 'req.jsonl.manifest.json'));

    const lines = readFileSync(join(dir.path, 'req.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(written);
    const requests = lines.map((l) => JSON.parse(l) as { custom_id: string; method: string; url: string; body: Record<string, unknown> });
    expect(new Set(requests.map((q) => q.custom_id)).size).toBe(written);
    for (const q of requests) {
      expect(q).toMatchObject({ method: 'POST', url: '/v1/chat/completions' });
      expect(q.custom_id).toMatch(/^dr-[0-9a-f]{32}$/);
      expect(q.body).toMatchObject({ model: 'fake-judge', logprobs: true });
    }
    const manifest = JSON.parse(readFileSync(join(dir.path, 'req.jsonl.manifest.json'), 'utf8')) as {
      format: string;
      dataset: string;
      teacher: string;
      model: string;
      promptVersion: string;
      mode: string;
      entries: Record<string, { refs: unknown[] }>;
    };
    expect(manifest).toMatchObject({ format: 'distilrank-batch-manifest', dataset: 'cranfield', teacher: 'llm', model: 'fake-judge', mode: 'logprobs' });
    expect(Object.keys(manifest.entries).sort()).toEqual(requests.map((q) => q.custom_id).sort());
    expect(Object.values(manifest.entries).reduce((n, e) => n + e.refs.length, 0)).toBe(157 * 2);

    // the batch run, as vllm run-batch or a batch API would do it
    const out: string[] = [];
    for (const [i, q] of requests.entries()) {
      const res = await fetch(`${server.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(q.body),
      });
      expect(res.status).toBe(200);
      const body: unknown = await res.json();
      out.push(JSON.stringify({ id: `batch-req-${i}`, custom_id: q.custom_id, response: { status_code: 200, body }, error: null }));
    }
    writeFileSync(join(dir.path, 'out.jsonl'), out.join('\n') + '\n');
    const afterBatch = server.requests.length;
    expect(afterBatch).toBe(written);

    // import
    const im = await runCliAsync([...args, '--import-batch', 'out.jsonl', '--manifest', 'req.jsonl.manifest.json'], dir.path, env);
    expect(im.stderr).not.toMatch(STACK);
    expect(im.status, im.stderr).toBe(0);
    expect(im.stdout).toMatch(new RegExp(`imported ${written} labels \\(0 already cached, 0 failed`));
    expect(server.requests.length).toBe(afterBatch);
    const cache = LabelCache.open(join(dir.path, '.distilrank', 'labels.sqlite'), { readonly: true });
    try {
      expect(cache.labelsFor('cranfield', 'llm', 'fake-judge', manifest.promptVersion)).toHaveLength(157 * 2);
    } finally {
      cache.close();
    }

    // a plain run: everything is cached, nothing is requested
    const plain = await runCliAsync(args, dir.path, env);
    expect(plain.stderr).not.toMatch(STACK);
    expect(plain.status, plain.stderr).toBe(0);
    expect(server.requests.length).toBe(afterBatch);
    expect(plain.stdout).toMatch(/0 labelled now/);
    const s = labelSummary(plain.stdout);
    expect(s.cached + s.duplicates).toBe(157 * 2);
    expect(s).toMatchObject({ failed: 0, remaining: 0, stoppedBy: 'done' });
    expect(plain.stdout).toMatch(/cost of this run: 0 calls/);
  });
});

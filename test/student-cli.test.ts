/**
 * The student through the command line, run as a user runs it (a separate process, CI=true, no TTY)
 * on icecat-chorus: `train` writes the artifact and reports parity, `eval --model student[:PATH]`
 * reports ranking and label metrics, artifacts of another data set or a missing artifact are
 * refused with a code and a hint, `demo` runs the whole job.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EvalReport } from '../src/eval/index.ts';
import { readRun } from '../src/metrics/trec.ts';
import { Store } from '../src/store/index.ts';
import type { ModelCard } from '../src/student/index.ts';
import { noStackTrace, ok, runCli, useTempDir, useWorkDirs, type CliResult } from './helpers.ts';

const DS = 'icecat-chorus';

const workDir = useWorkDirs('distilrank-student-cli-');

function reports(r: CliResult): EvalReport[] {
  ok(r);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as EvalReport);
}

/** Runs of a TREC run file, per query: the set of items. */
function runItems(path: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [q, list] of readRun(path)) out.set(q, new Set(list.map((x) => x.itemId)));
  return out;
}

// One trained default artifact shared by the eval tests (training takes a few seconds).
const shared = useTempDir('distilrank-student-cli-shared-');
let trainRun: CliResult;
const DEFAULT_DIR = (cwd: string): string => join(cwd, '.distilrank', 'models', DS, 'student-human');

beforeAll(() => {
  trainRun = runCli(['train', '--dataset', DS], { cwd: shared.path });
});

describe('distilrank train', () => {
  it('exits 0, prints the pair counts and the ONNX parity line, and writes model.onnx + card.json', () => {
    ok(trainRun);
    const dir = DEFAULT_DIR(shared.path);
    expect(readdirSync(dir).sort()).toEqual(['card.json', 'model.onnx']);
    const card = JSON.parse(readFileSync(join(dir, 'card.json'), 'utf8')) as ModelCard;
    expect(card.dataset).toBe(DS);
    expect(card.labels).toBe('human');

    const pairs = /(\d+) train pairs \/ (\d+) dev pairs/.exec(trainRun.stdout);
    expect(pairs, trainRun.stdout).not.toBeNull();
    expect(Number(pairs![1])).toBe(card.split.train.pairs);
    expect(Number(pairs![2])).toBe(card.split.dev.pairs);
    expect(card.split.train.pairs).toBeGreaterThan(card.split.dev.pairs);

    // the pair counts are the judged pairs of the store's default judgment set
    const store = Store.open(join(shared.path, '.distilrank', 'store.sqlite'), { readonly: true });
    try {
      const set = store.dataset(DS).defaultJudgmentSet;
      expect(card.judgmentSet).toBe(set);
      expect(card.split.train.pairs).toBe(store.judgments(DS, { split: 'train', judgmentSet: set }).length);
      expect(card.split.dev.pairs).toBe(store.judgments(DS, { split: 'dev', judgmentSet: set }).length);
    } finally {
      store.close();
    }

    const parity = /ONNX parity \(max \|Δp\| on dev\): (\S+); artifact: (.+)$/m.exec(trainRun.stdout);
    expect(parity, trainRun.stdout).not.toBeNull();
    expect(Number(parity![1])).toBeLessThan(1e-5);
    expect(Number(parity![1])).toBeCloseTo(card.onnxParityMaxAbsDiff, 8);
    expect(parity![2]).toBe(dir);
    expect(trainRun.stdout).toMatch(/^dev: .*accuracy/m);
    expect(trainRun.stdout).toContain(`${card.features.length} features`);
  });

  it('--out DIR writes the artifact there (and not to the default place)', () => {
    const cwd = workDir();
    ok(runCli(['train', '--dataset', DS, '--out', 'my-student', '--epochs', '3'], { cwd }));
    expect(readdirSync(join(cwd, 'my-student')).sort()).toEqual(['card.json', 'model.onnx']);
    expect(existsSync(join(cwd, '.distilrank', 'models'))).toBe(false);
    const card = JSON.parse(readFileSync(join(cwd, 'my-student', 'card.json'), 'utf8')) as ModelCard;
    expect(card.training.epochs).toBeLessThanOrEqual(3);

    // eval --model student:PATH reads that folder
    const [rerank, retrieval] = reports(runCli(['eval', '--dataset', DS, '--model', 'student:my-student', '--json'], { cwd }));
    expect(rerank!.protocol).toBe('rerank');
    expect(rerank!.model).toBe('student(human)');
    expect(rerank!.levels!.pairs).toBeGreaterThan(0);
    expect(retrieval!.protocol).toBe('retrieval');
  });

  it('--labels teacher is UNKNOWN_NAME listing human', () => {
    const cwd = workDir();
    const r = runCli(['train', '--dataset', DS, '--labels', 'teacher'], { cwd });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error\[UNKNOWN_NAME\]/);
    expect(r.stderr).toContain('teacher');
    expect(r.stderr).toMatch(/hint: .*human/);
    noStackTrace(r);
    expect(existsSync(join(cwd, '.distilrank'))).toBe(false);
  });
});

describe('distilrank eval --model student', () => {
  it('prints a rerank report with label metrics and a 5×5 confusion, and a retrieval report over 200 candidates', () => {
    ok(trainRun);
    const rs = reports(runCli(['eval', '--dataset', DS, '--model', 'student', '--json'], { cwd: shared.path }));
    expect(rs).toHaveLength(2);
    const [rerank, retrieval] = rs as [EvalReport, EvalReport];
    expect(rerank.protocol).toBe('rerank');
    expect(rerank.model).toBe('student(human)');
    expect(rerank.split).toBe('test');
    for (const m of ['accuracy', 'kappa_quadratic', 'RMSE_expected_level', 'nDCG@10']) {
      expect(Number.isFinite(rerank.metrics[m]), m).toBe(true);
    }
    expect(rerank.metrics.accuracy).toBeGreaterThan(0.5);
    expect(rerank.metrics.accuracy).toBeLessThanOrEqual(1);
    expect(rerank.metrics.RMSE_expected_level).toBeGreaterThan(0);
    const levels = rerank.levels!;
    expect(levels.from).toBe('student(human)');
    expect(levels.confusion).toHaveLength(5);
    for (const row of levels.confusion) expect(row).toHaveLength(5);
    const cells = levels.confusion.flat();
    expect(cells.reduce((a, b) => a + b, 0)).toBe(levels.pairs);
    const diagonal = levels.confusion.reduce((n, row, i) => n + row[i]!, 0);
    expect(diagonal / levels.pairs).toBeCloseTo(rerank.metrics.accuracy!, 9);

    // the pairs are the test split's judged pairs; the confusion's rows are their human levels
    const store = Store.open(join(shared.path, '.distilrank', 'store.sqlite'), { readonly: true });
    try {
      const judged = store.judgments(DS, { split: 'test', judgmentSet: rerank.judgmentSet });
      expect(levels.pairs).toBe(judged.length);
      for (let l = 1; l <= 5; l++) {
        expect(levels.confusion[l - 1]!.reduce((a, b) => a + b, 0)).toBe(judged.filter((j) => j.level === l).length);
      }
    } finally {
      store.close();
    }

    expect(retrieval.protocol).toBe('retrieval');
    expect(retrieval.candidates).toBe(200);
    expect(retrieval.levels).toBeUndefined();
    expect(retrieval.metrics.accuracy).toBeUndefined();
  });

  it('--candidates 50 is reported; the student re-ranks exactly BM25’s top candidates', () => {
    ok(trainRun);
    const [retrieval] = reports(
      runCli(['eval', '--dataset', DS, '--model', 'student', '--protocol', 'retrieval', '--depth', '50', '--candidates', '50', '--json'], { cwd: shared.path }),
    );
    expect(retrieval!.candidates).toBe(50);
    // Fewer candidates than the depth cannot be honoured (a re-ranker returns what it re-ranks).
    const below = runCli(['eval', '--dataset', DS, '--model', 'student', '--protocol', 'retrieval', '--candidates', '50'], { cwd: shared.path });
    expect(below.status).toBe(1);
    expect(below.stderr).toMatch(/^error\[BAD_OPTION\]: field "candidates": --candidates 50 is below --depth 100\n {2}hint: /);

    // with depth = candidates = 10, each query's run is BM25's top 10, re-ordered
    const student = join(shared.path, 'student.run');
    const bm25 = join(shared.path, 'bm25.run');
    const common = ['eval', '--dataset', DS, '--protocol', 'retrieval', '--depth', '10', '--json'];
    ok(runCli([...common, '--model', 'student', '--candidates', '10', '--run', student], { cwd: shared.path }));
    ok(runCli([...common, '--model', 'bm25', '--run', bm25], { cwd: shared.path }));
    const s = runItems(student);
    const b = runItems(bm25);
    expect(s.size).toBeGreaterThan(0);
    expect([...s.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [q, items] of s) expect(items, q).toEqual(b.get(q));
  });

  it('before any training, --model student is FILE_NOT_FOUND with a hint to run distilrank train', () => {
    const cwd = workDir();
    const r = runCli(['eval', '--dataset', DS, '--model', 'student'], { cwd });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error\[FILE_NOT_FOUND\]/);
    expect(r.stderr).toContain(DEFAULT_DIR(cwd));
    expect(r.stderr).toMatch(/hint: .*distilrank train/);
    noStackTrace(r);
    expect(r.stdout).toBe('');
  });

  it('a student trained on icecat-chorus used for cranfield is MODEL_MISMATCH, exit 1, no stack trace', () => {
    ok(trainRun);
    const r = runCli(['eval', '--dataset', 'cranfield', '--model', `student:${DEFAULT_DIR(shared.path)}`], { cwd: shared.path });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error\[MODEL_MISMATCH\]/);
    expect(r.stderr).toContain('icecat-chorus');
    expect(r.stderr).toContain('cranfield');
    expect(r.stderr).toMatch(/hint: .*distilrank train --dataset cranfield/);
    noStackTrace(r);
    expect(r.stdout).toBe('');
  });

  it('--model bm25 --labels --protocol rerank adds label metrics, from isotonic calibration on train', () => {
    ok(trainRun);
    const rs = reports(runCli(['eval', '--dataset', DS, '--model', 'bm25', '--labels', '--protocol', 'rerank', '--json'], { cwd: shared.path }));
    expect(rs).toHaveLength(1);
    const r = rs[0]!;
    expect(r.model).toBe('bm25');
    for (const m of ['accuracy', 'kappa_quadratic', 'RMSE_expected_level', 'macro_F1', 'kappa']) expect(Number.isFinite(r.metrics[m]), m).toBe(true);
    expect(r.levels!.from).toMatch(/isotonic/);
    expect(r.levels!.from).toMatch(/train/);
    expect(r.levels!.confusion.flat().reduce((a, b) => a + b, 0)).toBe(r.levels!.pairs);

    // without --labels, bm25 has no label metrics
    const [plain] = reports(runCli(['eval', '--dataset', DS, '--model', 'bm25', '--protocol', 'rerank', '--json'], { cwd: shared.path }));
    expect(plain!.levels).toBeUndefined();
    expect(plain!.metrics.accuracy).toBeUndefined();
    expect(plain!.metrics['nDCG@10']).toBe(r.metrics['nDCG@10']);
  });
});

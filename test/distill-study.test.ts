/**
 * `distilrank distill`: the scaling curve and the ROI table on cranfield with the local teacher, end
 * to end through the CLI; a second run pays for nothing (every teacher label comes from the cache).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DistillStudy } from '../src/studies/distill/index.ts';
import { ok, runCli, tempDir, type CliResult } from './helpers.ts';

const dir = tempDir('distilrank-distill-');
afterAll(() => dir.cleanup());

describe('distilrank distill', { timeout: 600_000 }, () => {
  let first: CliResult;
  let study: DistillStudy;
  beforeAll(() => {
    first = ok(
      runCli(['distill', '--dataset', 'cranfield', '--multiples', '1,3', '--negatives', '20', '--json', 'study.json'], { cwd: dir.path, timeoutMs: 600_000 }),
    );
    study = JSON.parse(readFileSync(join(dir.path, 'study.json'), 'utf8')) as DistillStudy;
  });

  it('trains the local teacher first and says it is not an LLM', () => {
    expect(first.stderr).toContain('training the local teacher first (not an LLM');
  });

  it('prints the scaling curve: human only, then 1× and 3× the human pairs in teacher labels', () => {
    expect(study.curve.map((r) => r.multiple)).toEqual([0, 1, 3]);
    const [human, one, three] = study.curve;
    expect(human!.teacherPairs).toBe(0);
    // The pool is sampled to the largest multiple; the study's rows take prefixes of one order.
    expect(study.pool.pairs).toBe(Math.round(3 * human!.humanPairs));
    expect(one!.teacherPairs).toBeGreaterThan(0.8 * human!.humanPairs);
    expect(three!.teacherPairs).toBeGreaterThan(2.5 * one!.teacherPairs);
    for (const r of study.curve) {
      for (const v of [r.rerank, r.retrieval, r.accuracy]) expect(v).toBeGreaterThan(0);
      expect(r.rerank).toBeLessThanOrEqual(1);
    }
    expect(first.stdout).toMatch(/^human only\s+\d+\s+0\s+0\.\d{4}\s+0\.\d{4}\s+0\.\d{4}/m);
    expect(first.stdout).toMatch(/^human \+ teacher 3×\s+\d+\s+\d+\s/m);
  });

  it('prints the ROI table: BM25, both students and the teacher, with costs and the share of the teacher gain', () => {
    expect(study.roi.map((r) => r.kind)).toEqual(['baseline', 'student', 'student', 'teacher']);
    const teacher = study.roi[3]!;
    expect(teacher.rerank).toBeCloseTo(study.teacherEval.rerank.value, 10);
    for (const r of study.roi) {
      expect(r.usdPerThousandQueries).toBeGreaterThan(0);
      expect(r.usPerPair).toBeGreaterThan(0);
    }
    const bm25 = study.roi[0]!;
    for (const s of study.roi.slice(1, 3)) {
      // The share is recomputed from the row's own numbers: (model − bm25) / (teacher − bm25).
      if (teacher.rerank > bm25.rerank) expect(s.shareOfTeacherGain.rerank).toBeCloseTo((s.rerank - bm25.rerank) / (teacher.rerank - bm25.rerank), 10);
      else expect(s.shareOfTeacherGain.rerank).toBeNull(); // NaN in the study, null in its JSON
      expect(s.cheaperThanTeacher).toBeCloseTo(teacher.usdPerThousandQueries / s.usdPerThousandQueries, 6);
    }
    // The best distilled row (by rerank + retrieval) is the one in the ROI table and the default artifact.
    const distilled = study.curve.slice(1);
    const best = distilled.reduce((a, b) => (b.rerank + b.retrieval > a.rerank + a.retrieval ? b : a));
    expect(study.roi[2]!.model).toBe(`student (distilled ${best.multiple}×)`);
    expect(existsSync(join(dir.path, '.distilrank', 'models', 'cranfield', 'student-human-teacher', 'model.onnx'))).toBe(true);
    expect(first.stdout).toMatch(/^teacher \(local: local-mlp-ensemble\(cranfield\)\)/m);
  });

  it('writes an HTML report with the curves and the ROI plot', () => {
    const html = readFileSync(join(dir.path, '.distilrank', 'distill-cranfield.html'), 'utf8');
    for (const h of ['Scaling curve — cranfield', 'nDCG@10 against training pairs — cranfield', 'ROI — cranfield', 'Quality against cost — cranfield'])
      expect(html).toContain(h);
  });

  it('a second run pays for nothing: every teacher label comes from the cache, the tables are the same', () => {
    const again = ok(
      runCli(['distill', '--dataset', 'cranfield', '--multiples', '1,3', '--negatives', '20', '--json', 'again.json'], { cwd: dir.path, timeoutMs: 600_000 }),
    );
    expect(again.stderr).not.toContain('training the local teacher first');
    const s2 = JSON.parse(readFileSync(join(dir.path, 'again.json'), 'utf8')) as DistillStudy;
    expect(s2.pool.job.labelled).toBe(0);
    expect(s2.pool.job.cached).toBe(study.pool.pairs);
    expect(s2.teacherEval.cost.total.calls).toBe(0);
    expect(s2.curve.map((r) => [r.teacherPairs, r.rerank, r.retrieval])).toEqual(study.curve.map((r) => [r.teacherPairs, r.rerank, r.retrieval]));
  });

  it('refuses bad multiples with a clear error', () => {
    const r = runCli(['distill', '--dataset', 'cranfield', '--multiples', '1,zero'], { cwd: dir.path });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error\[BAD_OPTION\].*--multiples/);
  });
});

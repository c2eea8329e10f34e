/**
 * The `distilrank` command end to end, run as a user runs it: a separate `node bin/distilrank.js`
 * process (CI=true, no TTY) on the real data sets. Every test works in its own temp folder, so the
 * default store `.distilrank/store.sqlite` is private to it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MEASURES, type EvalReport } from '../src/eval/evaluate.ts';
import { evaluateRun } from '../src/metrics/measures.ts';
import { readQrels, readRun } from '../src/metrics/trec.ts';
import { CLI, DATA_DIR, noStackTrace, ok, runCli, useWorkDirs, type CliResult } from './helpers.ts';

const ESC = String.fromCharCode(0x1b);

/** A fresh temp folder for one test, removed after it. */
const workDir = useWorkDirs('distilrank-cli-');

/** The one JSON line `eval --json` prints for a single protocol, checked for shape. */
function oneReport(r: CliResult, expected: { dataset: string; protocol: string; split?: string; model?: string }): EvalReport {
  ok(r);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  const report = JSON.parse(lines[0]!) as EvalReport;
  expect(Object.keys(report)).toEqual(expect.arrayContaining(['dataset', 'split', 'protocol', 'model', 'queries', 'metrics']));
  expect(report.dataset).toBe(expected.dataset);
  expect(report.split).toBe(expected.split ?? 'test');
  expect(report.protocol).toBe(expected.protocol);
  expect(report.model).toBe(expected.model ?? 'bm25');
  expect(Number.isInteger(report.queries)).toBe(true);
  expect(report.queries).toBeGreaterThan(0);
  expect(Object.keys(report.metrics).sort()).toEqual([...DEFAULT_MEASURES].sort());
  for (const m of DEFAULT_MEASURES) {
    expect(typeof report.metrics[m]).toBe('number');
    expect(report.metrics[m]).toBeGreaterThanOrEqual(0);
    expect(report.metrics[m]).toBeLessThanOrEqual(1);
  }
  expect(report.depth).toBe(expected.protocol === 'retrieval' ? 100 : null);
  return report;
}

describe('usage', () => {
  it('--help lists the commands and exits 0', () => {
    const r = runCli(['--help'], { cwd: workDir() });
    expect(r.status).toBe(0);
    for (const cmd of ['ingest', 'datasets', 'eval', 'export-qrels', 'demo']) expect(r.stdout).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'));
  });

  it('an unknown command exits 2', () => {
    const r = runCli(['frobnicate'], { cwd: workDir() });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
    noStackTrace(r);
  });

  it('an unknown option exits 2 (and touches no store)', () => {
    const dir = workDir();
    const r = runCli(['eval', '--dataset', 'cranfield', '--no-such-option'], { cwd: dir });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown option '--no-such-option'");
    expect(existsSync(join(dir, '.distilrank'))).toBe(false);
    noStackTrace(r);
  });

  it('a missing required option exits 2', () => {
    const r = runCli(['eval'], { cwd: workDir() });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--dataset');
  });
});

describe('eval --json', () => {
  for (const protocol of ['rerank', 'retrieval'] as const) {
    it(`cranfield ${protocol}: one JSON line with the report (auto-ingest on first use)`, () => {
      const dir = workDir();
      const r = runCli(['eval', '--dataset', 'cranfield', '--model', 'bm25', '--protocol', protocol, '--split', 'test', '--json'], { cwd: dir });
      const report = oneReport(r, { dataset: 'cranfield', protocol });
      expect(report.queries).toBe(45);
      expect(report.judgmentSet).toBe('cleverdon');
      expect(report.latencyMs.p50).toBeGreaterThanOrEqual(0);
      expect(report.latencyMs.p99).toBeGreaterThanOrEqual(report.latencyMs.p50);
      // the data set was ingested into the default store of the working folder, and said so on stderr
      expect(existsSync(join(dir, '.distilrank', 'store.sqlite'))).toBe(true);
      expect(r.stderr).toContain('cranfield is not in the store yet');
      // a second run reuses the store: no ingest note, same numbers
      const again = oneReport(runCli(['eval', '--dataset', 'cranfield', '--protocol', protocol, '--json'], { cwd: dir }), { dataset: 'cranfield', protocol });
      expect(again.metrics).toEqual(report.metrics);
    });
  }

  it('rerank scores above retrieval on cranfield (judged candidates are the easier task)', () => {
    const dir = workDir();
    const r = ok(runCli(['eval', '--dataset', 'cranfield', '--protocol', 'both', '--json'], { cwd: dir }));
    const reports = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as EvalReport);
    expect(reports.map((x) => x.protocol)).toEqual(['rerank', 'retrieval']);
    expect(reports[0]!.metrics['nDCG@10']).toBeGreaterThan(reports[1]!.metrics['nDCG@10']!);
  });

  it('--metrics picks the measures reported', () => {
    const r = ok(runCli(['eval', '--dataset', 'cranfield', '--protocol', 'rerank', '--metrics', 'nDCG@5,RR(rel=3)', '--json'], { cwd: workDir() }));
    const report = JSON.parse(r.stdout.trim()) as EvalReport;
    expect(Object.keys(report.metrics)).toEqual(['nDCG@5', 'RR(rel=3)']);
  });

  it('home-depot, both protocols: 2,359 test queries', { timeout: 120_000 }, () => {
    const dir = workDir();
    for (const protocol of ['rerank', 'retrieval'] as const) {
      const report = oneReport(runCli(['eval', '--dataset', 'home-depot', '--protocol', protocol, '--json'], { cwd: dir }), {
        dataset: 'home-depot',
        protocol,
      });
      expect(report.queries).toBe(2359);
      expect(report.judgmentSet).toBe('kaggle');
    }
  });
});

describe('--run and export-qrels reproduce the reported numbers', () => {
  for (const protocol of ['retrieval', 'rerank'] as const) {
    it(`cranfield ${protocol}`, () => {
      const dir = workDir();
      const runFile = join(dir, `${protocol}.run`);
      const qrelsFile = join(dir, 'test.qrels');
      const r = runCli(['eval', '--dataset', 'cranfield', '--protocol', protocol, '--run', runFile, '--json'], { cwd: dir });
      const report = oneReport(r, { dataset: 'cranfield', protocol });
      const q = ok(runCli(['export-qrels', '--dataset', 'cranfield', '--out', qrelsFile], { cwd: dir }));
      expect(q.stdout).toMatch(/wrote \d+ judgments for 45 test queries of cranfield/);

      // qrels: integer gains 0..4 only (L1=0 … L5=4), four fields per line
      const qrelsLines = readFileSync(qrelsFile, 'utf8')
        .split('\n')
        .filter((l) => l !== '');
      expect(qrelsLines.length).toBeGreaterThan(0);
      for (const line of qrelsLines) expect(line).toMatch(/^\S+ 0 \S+ [0-4]$/);
      // run: six fields, the tag names model and protocol, ranks 1.. per query
      const runLines = readFileSync(runFile, 'utf8')
        .split('\n')
        .filter((l) => l !== '');
      for (const line of runLines) expect(line).toMatch(new RegExp(`^\\S+ Q0 \\S+ [1-9]\\d* \\S+ distilrank-bm25-${protocol}$`));

      const run = readRun(runFile);
      const qrels = readQrels(qrelsFile);
      expect(qrels.size).toBe(report.queries);
      for (const qid of run.keys()) expect(qrels.has(qid)).toBe(true);
      if (protocol === 'retrieval') for (const items of run.values()) expect(items.length).toBeLessThanOrEqual(100);
      if (protocol === 'rerank') {
        // rerank ranks exactly each query's judged items
        for (const [qid, items] of run) expect(new Set(items.map((i) => i.itemId))).toEqual(new Set(qrels.get(qid)!.keys()));
      }

      // trec_eval's rule: the queries in both run and qrels.
      const trec = evaluateRun(run, qrels, ['nDCG@10']);
      if (run.size === qrels.size) {
        expect(trec.queries).toBe(report.queries);
        expect(trec.mean['nDCG@10']!).toBeCloseTo(report.metrics['nDCG@10']!, 9);
      } else {
        // A query the model retrieved nothing for has no line in a TREC run file, so trec_eval's rule
        // leaves it out, while `eval` scores it 0 (trec_eval -c). Score over the qrels' queries then.
        const all = evaluateRun(run, qrels, ['nDCG@10'], { queries: [...qrels.keys()] });
        expect(all.queries).toBe(report.queries);
        expect(all.mean['nDCG@10']!).toBeCloseTo(report.metrics['nDCG@10']!, 9);
      }
    });
  }
});

describe('eval table and option errors', () => {
  it('--protocol both without --json prints one table with both protocols', () => {
    const r = ok(runCli(['eval', '--dataset', 'cranfield', '--protocol', 'both'], { cwd: workDir() }));
    expect(r.stdout).toContain('cranfield, split test, judgments cleverdon');
    const header = r.stdout.split('\n').find((l) => l.startsWith('model'));
    expect(header).toBeDefined();
    for (const m of DEFAULT_MEASURES) expect(header).toContain(m);
    expect(r.stdout).toMatch(/^bm25\s+rerank\s+45\s+0\.\d{4}/m);
    expect(r.stdout).toMatch(/^bm25\s+retrieval\s+45\s+0\.\d{4}/m);
  });

  it('--run with --protocol both is BAD_OPTION, exit 1, no run written', () => {
    const dir = workDir();
    const r = runCli(['eval', '--dataset', 'cranfield', '--protocol', 'both', '--run', 'x.run'], { cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error\[BAD_OPTION\]: field "run": /);
    expect(r.stderr).toContain('hint: add --protocol rerank or --protocol retrieval');
    expect(existsSync(join(dir, 'x.run'))).toBe(false);
    noStackTrace(r);
  });

  it('--depth must be a positive integer (BAD_OPTION)', () => {
    const r = runCli(['eval', '--dataset', 'cranfield', '--depth', '0'], { cwd: workDir() });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error\[BAD_OPTION\]: field "depth": /);
    noStackTrace(r);
  });
});

describe('datasets', () => {
  it('lists an ingested data set with its scale mapping rows', () => {
    const dir = workDir();
    const empty = ok(runCli(['datasets'], { cwd: dir }));
    expect(empty.stdout).toContain('is empty');
    const ing = ok(runCli(['ingest', '--dataset', 'cranfield'], { cwd: dir }));
    expect(ing.stdout).toMatch(/^cranfield: 1400 items, 225 queries \(train \d+ \/ dev \d+ \/ test 45\), \d+ judgments/);
    const r = ok(runCli(['datasets'], { cwd: dir }));
    expect(r.stdout).toMatch(/^cranfield: /m);
    expect(r.stdout).toContain('1400 items, 225 queries');
    expect(r.stdout).toContain('scale cranfield-cleverdon');
    for (const [native, level] of [
      ['1', 'L5'],
      ['2', 'L4'],
      ['3', 'L3'],
      ['4', 'L2'],
      ['-1', 'L5'],
    ]) {
      expect(r.stdout).toMatch(new RegExp(`^\\s+${native} → ${level}\\s`, 'm'));
    }
    const json = JSON.parse(ok(runCli(['datasets', '--json'], { cwd: dir })).stdout) as Array<{ name: string; queries: number; scale: { rows: unknown[] } }>;
    expect(json.map((d) => d.name)).toEqual(['cranfield']);
    expect(json[0]!.queries).toBe(225);
    expect(json[0]!.scale.rows).toHaveLength(5);
    // re-ingesting the same input is a no-op
    expect(ok(runCli(['ingest', '--dataset', 'cranfield'], { cwd: dir })).stdout).toContain('already up to date');
  });

  it('--store puts the store where it is told', () => {
    const dir = workDir();
    ok(runCli(['--store', 'elsewhere.sqlite', 'ingest', '--dataset', 'cranfield'], { cwd: dir }));
    expect(existsSync(join(dir, 'elsewhere.sqlite'))).toBe(true);
    expect(existsSync(join(dir, '.distilrank'))).toBe(false);
    expect(ok(runCli(['--store', 'elsewhere.sqlite', 'datasets'], { cwd: dir })).stdout).toMatch(/^cranfield: /m);
  });
});

describe('demo', () => {
  // The whole main job on icecat-chorus: ingest, baselines, the student, the local teacher, the
  // scaling curve and the ROI table, the HTML report. One run, several minutes on 2 cores.
  it('runs end to end on icecat-chorus: evaluation, scaling curve, ROI table and the HTML report', { timeout: 1_200_000 }, () => {
    const cwd = workDir();
    const r = ok(runCli(['demo'], { cwd, timeoutMs: 1_200_000 }));
    const lines = r.stdout.split('\n');
    expect(r.stdout).toContain('distilrank demo — icecat-chorus');
    expect(r.stdout).toMatch(/scale quepid-0-3 → 5 levels: 0→L1, 1→L3, 2→L4, 3→L5/);
    const header = lines.find((l) => l.startsWith('model'));
    expect(header).toContain('nDCG@10');
    for (const model of ['random', 'bm25', 'student(human)']) {
      // The evaluation table's rows (the ROI table further down has a row per model too).
      const mine = lines.filter((l) => l.startsWith(`${model} `) && /\s(rerank|retrieval)\b/.test(l));
      expect(mine, model).toHaveLength(2);
      expect(mine.some((l) => /\brerank\b/.test(l))).toBe(true);
      expect(mine.some((l) => /\bretrieval\b/.test(l))).toBe(true);
    }
    const bm25 = lines.filter((l) => /^bm25\s+(rerank|retrieval)\s/.test(l));
    expect(bm25[0]).toMatch(/^bm25\s+rerank\s+\d+\s+(0|1)\.\d{4}\s/);
    expect(bm25[1]).toMatch(/^bm25\s+retrieval\s+\d+\s+(0|1)\.\d{4}\s/);
    expect(r.stdout).toMatch(/retrieval \(bm25@200\)/);
    expect(readdirSync(join(cwd, '.distilrank', 'models', 'icecat-chorus', 'student-human')).sort()).toEqual(['card.json', 'model.onnx']);

    // The scaling curve: the human-only row, then distilled rows with growing teacher pairs.
    expect(r.stdout).toContain('NOT an LLM');
    const curve = lines.filter((l) => /^human (only|\+ teacher \d+(\.\d+)?×)\s/.test(l));
    expect(curve[0]).toMatch(/^human only\s+\d+\s+0\s+0\.\d{4}\s+0\.\d{4}/);
    expect(curve.length).toBeGreaterThanOrEqual(2);
    const teacherPairs = curve.slice(1).map((l) => Number(l.trim().split(/\s{2,}/)[2]));
    for (let i = 1; i < teacherPairs.length; i++) expect(teacherPairs[i]!).toBeGreaterThan(teacherPairs[i - 1]!);
    // The ROI table: every model with a cost, the teacher last, students with their share of its gain.
    const roi = (name: string) => lines.find((l) => l.startsWith(name) && l.includes('$'));
    for (const name of ['bm25 ', 'student (human) ', 'student (distilled ', 'teacher (local: ']) expect(roi(name), name).toMatch(/\$\d/);
    expect(roi('student (distilled ')).toMatch(/(-?\d+%|n\/a) \/ (-?\d+%|n\/a)/);
    // The distilled student is now the default `student-distilled` artifact.
    expect(readdirSync(join(cwd, '.distilrank', 'models', 'icecat-chorus', 'student-human-teacher')).sort()).toEqual(['card.json', 'model.onnx']);
    const html = readFileSync(join(cwd, '.distilrank', 'demo-report.html'), 'utf8');
    for (const heading of ['Evaluation on the test split', 'Scaling curve — icecat-chorus', 'ROI — icecat-chorus', 'Quality against cost — icecat-chorus'])
      expect(html).toContain(heading);
    expect((html.match(/<svg/g) ?? []).length).toBeGreaterThanOrEqual(4);
    expect(r.stdout).toMatch(/^done in \d+\.\d s; store: /m);
    noStackTrace(r);
  });
});

describe('progress output with CI=true', () => {
  it('stderr holds notes only: no carriage returns or bar characters', () => {
    const dir = workDir();
    const r = ok(runCli(['eval', '--dataset', 'cranfield', '--protocol', 'both'], { cwd: dir }));
    const ingest = ok(runCli(['--store', 'b.sqlite', 'ingest', '--dataset', 'cranfield'], { cwd: dir }));
    for (const out of [r.stderr, r.stdout, ingest.stderr, ingest.stdout]) {
      expect(out).not.toContain('\r');
      expect(out).not.toMatch(/[\u2588\u2591\u2592\u2593]/); // cli-progress bar glyphs
      expect(out).not.toContain('ETA'); // the bar's format
      expect(out).not.toContain(ESC); // cursor control
    }
    expect(r.stderr).toContain('cranfield is not in the store yet');
  });

  // Without a terminal the bar is off anyway; under a pseudo-terminal (util-linux `script`) CI=true
  // must still switch it off. The run without CI is the control: it does draw a bar there.
  const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!hasScript)('on a terminal, CI=true still draws no bar (and without CI it does)', () => {
    const dir = workDir();
    const onTty = (ci: boolean, store: string): string => {
      const env: Record<string, string | undefined> = { ...process.env, DISTILRANK_DATA_DIR: DATA_DIR, CI: ci ? 'true' : undefined };
      if (!ci) delete env.CI;
      const cmd = `'${process.execPath}' '${CLI}' --store ${store} ingest --dataset cranfield`;
      const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
      expect(r.status).toBe(0);
      return r.stdout;
    };
    const drawsBar = (out: string): boolean => /[\u2588\u2591]/.test(out) || out.includes(`${ESC}[`);
    expect(drawsBar(onTty(true, 'ci.sqlite'))).toBe(false);
    expect(drawsBar(onTty(false, 'tty.sqlite'))).toBe(true);
  });

  it('--quiet silences the notes', () => {
    const r = ok(runCli(['--quiet', 'eval', '--dataset', 'cranfield', '--protocol', 'rerank', '--json'], { cwd: workDir() }));
    expect(r.stderr).toBe('');
  });
});

describe('reportTable', () => {
  it("names the retriever a re-ranked run's candidates came from", async () => {
    const { reportTable } = await import('../src/cli/common.ts');
    const base = {
      dataset: 'd',
      split: 'test',
      protocol: 'retrieval',
      queries: 3,
      metrics: { 'nDCG@10': 0.5 },
      judgmentSet: 'j',
      depth: 100,
      latencyMs: { p50: 1, p99: 2 },
      candidates: 200,
    };
    const out = reportTable(
      [
        { ...base, model: 'student(human)' },
        { ...base, model: 'student(human)@hybrid' },
      ] as never,
      ['nDCG@10'],
    );
    expect(out).toMatch(/^student\(human\)\s+retrieval \(bm25@200\)/m);
    expect(out).toMatch(/^student\(human\)@hybrid\s+retrieval \(hybrid@200\)/m);
  });
});

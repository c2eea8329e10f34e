/**
 * `distilrank ablate` on a tiny synthetic data set: rows come in the stated field order, teacher and
 * student under both protocols, the JSON says the same as the table; user-action rows from
 * simulated logs are labelled simulated; fields without data are skipped and named.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AblationResult } from '../src/studies/index.ts';
import { synthBundle } from './fixtures/represent/synth.ts';
import { ingestedStore, runCli, useTempDir } from './helpers.ts';

const tmp = useTempDir('distilrank-ablate-');
let storePath: string;
beforeAll(() => {
  storePath = join(tmp.path, 'store.sqlite');
  ingestedStore(storePath, synthBundle('synth')).close();
});

const small = ['--teacher-epochs', '3', '--student-epochs', '3', '--candidates', '20'];

describe('distilrank ablate', () => {
  it('prints the rows in the stated order (teacher and student, both protocols) and writes the same as JSON', () => {
    const json = join(tmp.path, 'ablate.json');
    const r = runCli(
      ['--store', storePath, '--quiet', 'ablate', '--dataset', 'synth', '--order', 'title,brand,description,caption', ...small, '--json', json],
      { cwd: tmp.path },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const result = JSON.parse(readFileSync(json, 'utf8')) as AblationResult;
    expect(result.skipped).toEqual(['caption']); // no caption source: no row
    expect(result.rows.map((row) => `${row.step} ${row.fields.join('+')} ${row.model} ${row.protocol}`)).toEqual(
      ['title', 'title+brand', 'title+brand+description'].flatMap((f, i) => [
        `${i + 1} ${f} bm25 rerank`,
        `${i + 1} ${f} bm25 retrieval`,
        `${i + 1} ${f} teacher (local) rerank`,
        `${i + 1} ${f} teacher (local) retrieval`,
        `${i + 1} ${f} student rerank`,
        `${i + 1} ${f} student retrieval`,
      ]),
    );
    for (const row of result.rows) {
      expect(row['nDCG@10']).toBeGreaterThan(0);
      expect(row['nDCG@10']).toBeLessThanOrEqual(1);
      if (row.model === 'bm25')
        expect(row.kappa_quadratic).toBeNull(); // NaN in JSON: BM25 predicts no levels
      else expect(Number.isFinite(row.kappa_quadratic)).toBe(true);
      expect(row.simulated).toBe(false);
      expect(row.queries).toBeGreaterThan(0);
    }
    // The table: the same rows, in the same order.
    const lines = r.stdout.split('\n');
    const at = (text: string) => lines.findIndex((l) => l.includes(text));
    expect(at('title ')).toBeGreaterThan(-1);
    expect(at('+brand')).toBeGreaterThan(at('title '));
    expect(at('+description')).toBeGreaterThan(at('+brand'));
    expect(r.stdout).toContain('no data, skipped: caption');
    expect(r.stdout).toMatch(/small training configs/);
    expect(lines.filter((l) => /^\d+ /.test(l))).toHaveLength(18);
  }, 240_000);

  it('labels rows that read simulated user actions, starting from --from', () => {
    const sim = runCli(['--store', storePath, '--quiet', 'simulate-logs', '--dataset', 'synth', '--events', '800'], { cwd: tmp.path });
    expect(sim.status).toBe(0);
    expect(sim.stdout).toContain('SIMULATED');
    const json = join(tmp.path, 'ablate-sim.json');
    const r = runCli(
      [
        '--store',
        storePath,
        '--quiet',
        'ablate',
        '--dataset',
        'synth',
        '--order',
        'title,brand,engaged_queries,board_titles,link_text',
        '--from',
        'brand',
        '--models',
        'student',
        ...small,
        '--json',
        json,
      ],
      { cwd: tmp.path },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const result = JSON.parse(readFileSync(json, 'utf8')) as AblationResult;
    expect(result.skipped).toEqual(['link_text']); // simulated logs carry no linked pages
    expect(result.rows.map((row) => [row.fields.at(-1), row.protocol, row.simulated])).toEqual([
      ['brand', 'rerank', false],
      ['brand', 'retrieval', false],
      ['engaged_queries', 'rerank', true],
      ['engaged_queries', 'retrieval', true],
      ['board_titles', 'rerank', true],
      ['board_titles', 'retrieval', true],
    ]);
    expect(r.stdout.split('\n').filter((l) => l.includes('SIMULATED actions'))).toHaveLength(4);
  }, 240_000);

  it('refuses an unknown field with the list of valid ones', () => {
    const r = runCli(['--store', storePath, 'ablate', '--dataset', 'synth', '--order', 'title,colour'], { cwd: tmp.path });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error[BAD_OPTION]');
    expect(r.stderr).toContain('engaged_queries');
  });
});

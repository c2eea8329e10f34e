/** Ingest rules added after review: ids safe for TREC files, levels of disagreeing raters, option mixes. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadIcecatChorus } from '../src/ingest/datasets/adapters/icecat-chorus.ts';
import { QUEPID_0_3 } from '../src/ingest/datasets/index.ts';
import { DistilrankError } from '../src/core/errors.ts';
import { Store } from '../src/store/index.ts';
import { type DatasetBundle } from '../src/ingest/index.ts';
import { DATA_DIR, runCli, useWorkDirs } from './helpers.ts';

const workDir = useWorkDirs('distilrank-test-');

function store(): Store {
  return Store.open(join(workDir(), 's.sqlite'), { create: true });
}

function bundle(over: Partial<DatasetBundle> = {}): DatasetBundle {
  return {
    name: 'rules',
    description: 'ingest rules',
    source: 'test',
    mapping: QUEPID_0_3,
    defaultJudgmentSet: 'default',
    items: [
      { id: 'a', title: 'red mug' },
      { id: 'b', title: 'blue mug' },
    ],
    queries: [{ id: 'q1', text: 'mug' }],
    judgments: [],
    ...over,
  };
}

describe('ids must survive TREC files', () => {
  it('refuses an item id with whitespace, naming file, line and field', () => {
    const s = store();
    const b = bundle({
      items: [
        { id: 'a', title: 'x' },
        { id: 'p 1', title: 'y', origin: { file: 'items.jsonl', line: 2 } },
      ],
    });
    expect(() => s.ingest(b)).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT', details: expect.objectContaining({ file: 'items.jsonl', line: 2, field: 'id' }) }),
    );
    expect(s.datasetNames()).toEqual([]);
  });

  it('refuses a query id with a tab', () => {
    const s = store();
    expect(() => s.ingest(bundle({ queries: [{ id: 'q\t1', text: 'mug' }] }))).toThrow(DistilrankError);
  });
});

describe('levels of disagreeing raters on a discrete scale', () => {
  it('uses the mean of the raters’ levels, rounded half up, when the mean grade is off the scale', () => {
    const s = store();
    s.ingest(
      bundle({
        judgments: [
          // grades 1 and 2 → L3 and L4; mean level 3.5 → L4. Pair grade 1.5 is not a Quepid grade.
          {
            queryId: 'q1',
            itemId: 'a',
            grade: 1.5,
            raters: [
              { rater: 'r1', grade: 1 },
              { rater: 'r2', grade: 2 },
            ],
          },
          // grades 0, 0, 3 → L1, L1, L5; mean level 7/3 → L2.
          {
            queryId: 'q1',
            itemId: 'b',
            grade: 1,
            raters: [
              { rater: 'r1', grade: 0 },
              { rater: 'r2', grade: 0 },
              { rater: 'r3', grade: 3 },
            ],
          },
        ],
      }),
    );
    const js = s.judgments('rules');
    // A pair grade that is on the scale (1 for b) is used as given: the source's own consolidation wins.
    expect(js.map((j) => [j.itemId, j.level])).toEqual([
      ['a', 4],
      ['b', 3],
    ]);
    expect(js[0]!.soft).toEqual([0, 0, 0.5, 0.5, 0]);
  });

  it('still refuses a rater grade that is off the scale', () => {
    const s = store();
    const b = bundle({
      judgments: [
        {
          queryId: 'q1',
          itemId: 'a',
          grade: 1.5,
          raters: [
            { rater: 'r1', grade: 1 },
            { rater: 'r2', grade: 9 },
          ],
        },
      ],
    });
    expect(() => s.ingest(b)).toThrow(expect.objectContaining({ code: 'UNKNOWN_GRADE' }));
  });

  it('works end to end from a per-rater CSV', () => {
    const d = workDir();
    writeFileSync(join(d, 'items.jsonl'), '{"id":"a","title":"red mug"}\n{"id":"b","title":"blue mug"}\n');
    writeFileSync(join(d, 'queries.tsv'), 'q1\tmug\n');
    writeFileSync(join(d, 'j.csv'), 'query_id,item_id,grade,rater\nq1,a,1,r1\nq1,a,2,r2\nq1,b,0,r1\n');
    const r = runCli(['ingest', '--name', 'shop', '--items', 'items.jsonl', '--queries', 'queries.tsv', '--judgments', 'j.csv', '--scale', 'quepid-0-3'], {
      cwd: d,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const s = Store.open(join(d, '.distilrank', 'store.sqlite'));
    expect(s.judgments('shop').map((j) => [j.itemId, j.level])).toEqual([
      ['a', 4],
      ['b', 1],
    ]);
    s.close();
  });
});

describe('ingest options', () => {
  it('refuses --dataset mixed with options for your own files', () => {
    const d = workDir();
    const r = runCli(['ingest', '--dataset', 'cranfield', '--scale', 'quepid-0-3'], { cwd: d });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error\[BAD_OPTION\]: field "dataset": --dataset loads a built-in data set; --scale is for your own files\n {2}hint: /);
  });

  it('checks the data set name before reading any file', () => {
    const d = workDir();
    const r = runCli(['ingest', '--name', 'My Shop', '--items', 'missing.jsonl', '--queries', 'q.tsv', '--judgments', 'j.txt', '--scale', 'quepid-0-3'], {
      cwd: d,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error[BAD_OPTION]');
    expect(r.stderr).not.toContain('FILE_NOT_FOUND');
  });
});

describe('icecat-chorus attributes', () => {
  it('keeps both a text and a numeric attribute of the same name', () => {
    const b = loadIcecatChorus(join(DATA_DIR, 'icecat-chorus'));
    const p = b.items.find((i) => i.id === '909870')!;
    // The product has attr_t_maximum_scan_area "216 x 381" and attr_n_maximum_scan_area 8.5.
    expect(p.attributes?.maximum_scan_area).toBe('216 x 381');
    expect(p.attributes?.maximum_scan_area_number).toBe(8.5);
  });
});

describe('soft labels of a mean grade on a continuous scale', () => {
  it('spread the mean over the two nearest levels, keeping its expectation', async () => {
    const { HOME_DEPOT_MEAN_1_3 } = await import('../src/ingest/datasets/index.ts');
    const s = store();
    s.ingest(
      bundle({
        mapping: HOME_DEPOT_MEAN_1_3,
        judgments: [
          { queryId: 'q1', itemId: 'a', grade: 7 / 3 }, // rescaled 1 + (4/3)·2 = 3.667 → L3 1/3, L4 2/3
          { queryId: 'q1', itemId: 'b', grade: 3 }, // exactly L5
        ],
      }),
    );
    const [a, b] = s.judgments('rules');
    expect(a!.level).toBe(4);
    expect(a!.soft!.map((p) => Number(p.toFixed(6)))).toEqual([0, 0, 0.333333, 0.666667, 0]);
    const expectation = a!.soft!.reduce((acc, p, i) => acc + p * (i + 1), 0);
    expect(expectation).toBeCloseTo(1 + ((7 / 3 - 1) / 2) * 4, 9);
    expect(b!.soft).toEqual([0, 0, 0, 0, 1]);
  });
});

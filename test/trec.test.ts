import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sortRanking, type Qrels, type Run } from '../src/metrics/measures.ts';
import { formatQrels, formatRun, readQrels, readRun, writeQrels, writeRun } from '../src/metrics/trec.ts';
import { caught, useTempDir } from './helpers.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/trec/${name}`, import.meta.url));

const tmp = useTempDir('distilrank-trec-', { each: true });
/** Write `text` to a file in the temp folder and return its path. */
const file = (name: string, text: string | Buffer): string => tmp.write(name, text);

describe('formatRun / writeRun', () => {
  it('writes ranks 1.. in sortRanking order, queries sorted', () => {
    const run: Run = new Map([
      ['q2', [{ itemId: 'x', score: 1 }]],
      [
        'q1',
        [
          { itemId: 'a', score: 0.5 },
          { itemId: 'c', score: 0.5 },
          { itemId: 'b', score: 2 },
        ],
      ],
    ]);
    expect(formatRun(run, 'bm25')).toBe(['q1 Q0 b 1 2 bm25', 'q1 Q0 c 2 0.5 bm25', 'q1 Q0 a 3 0.5 bm25', 'q2 Q0 x 1 1 bm25', ''].join('\n'));
    expect(formatRun(new Map(), 'bm25')).toBe('');
  });

  it.each([
    ['qid', new Map([['q 1', [{ itemId: 'a', score: 1 }]]]), 'bm25', 'q 1'],
    ['docno', new Map([['q1', [{ itemId: 'a\tb', score: 1 }]]]), 'bm25', 'a\\tb'],
    ['tag', new Map([['q1', [{ itemId: 'a', score: 1 }]]]), 'my run', 'my run'],
  ])('rejects a %s with whitespace, naming it, with a hint', (field, run, tag, shown) => {
    const e = caught(() => writeRun(join(tmp.path, 'run.txt'), run as Run, tag));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.details.field).toBe(field);
    expect(e.message).toContain(shown);
    expect(e.details.hint).toMatch(/whitespace/);
    expect(readdirSync(tmp.path)).toEqual([]); // nothing written, no temp file left
  });

  it('rejects a non-finite score', () => {
    const run: Run = new Map([['q1', [{ itemId: 'a', score: Infinity }]]]);
    expect(caught(() => formatRun(run, 't')).details.field).toBe('score');
  });

  it('replaces an existing file atomically and leaves no temp file', () => {
    const path = file('run.txt', 'old content\n');
    writeRun(path, new Map([['q1', [{ itemId: 'a', score: 1 }]]]), 't');
    expect(readFileSync(path, 'utf8')).toBe('q1 Q0 a 1 1 t\n');
    expect(readdirSync(tmp.path)).toEqual(['run.txt']);
  });

  it('reports a missing output folder as FILE_NOT_FOUND', () => {
    const e = caught(() => writeRun(join(tmp.path, 'nope', 'run.txt'), new Map(), 't'));
    expect(e.code).toBe('FILE_NOT_FOUND');
  });
});

describe('run round trip', () => {
  it('readRun(writeRun(run)) gives back the run, items in ranking order', () => {
    const run: Run = new Map([
      [
        'q10',
        [
          { itemId: 'B07-x', score: -1.25 },
          { itemId: 'A1', score: 3e-7 },
          { itemId: 'a1', score: 3e-7 },
          { itemId: 'zz', score: 123456789.125 },
        ],
      ],
      ['q2', [{ itemId: 'é-ü', score: 0.1 + 0.2 }]],
    ]);
    const path = join(tmp.path, 'run.txt');
    writeRun(path, run, 'student-v1');
    const back = readRun(path);
    expect(back).toEqual(new Map([...run].map(([q, items]) => [q, sortRanking(items)])));
  });

  it('reads the fixture by score, not by its rank column', () => {
    const run = readRun(fixture('run.txt'));
    expect([...run.keys()]).toEqual(['q1', 'q2', 'q3', 'q5']);
    expect(sortRanking(run.get('q1')!).map((it) => it.itemId)).toEqual(['d1', 'dX', 'd4', 'd2', 'd3', 'd5']);
    expect(sortRanking(run.get('q2')!).map((it) => it.itemId)).toEqual(['d6', 'd5', 'd1']);
  });
});

describe('qrels', () => {
  it('formatQrels writes iter 0, queries and items sorted', () => {
    const qrels: Qrels = new Map([
      ['q2', new Map([['b', 0]])],
      [
        'q1',
        new Map([
          ['z', 3],
          ['a', -1],
        ]),
      ],
    ]);
    expect(formatQrels(qrels)).toBe('q1 0 a -1\nq1 0 z 3\nq2 0 b 0\n');
  });

  it('readQrels(writeQrels(qrels)) gives back the qrels', () => {
    const qrels: Qrels = new Map([
      [
        'q1',
        new Map([
          ['d1', 3],
          ['d2', 0],
          ['d3', 1],
        ]),
      ],
      ['q2', new Map([['d1', 2]])],
    ]);
    const path = join(tmp.path, 'qrels.txt');
    writeQrels(path, qrels);
    expect(readQrels(path)).toEqual(qrels);
    expect(readdirSync(tmp.path)).toEqual(['qrels.txt']);
  });

  it('rejects a non-integer grade when writing', () => {
    const e = caught(() => formatQrels(new Map([['q1', new Map([['d1', 1.5]])]])));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.details.field).toBe('rel');
  });

  it('reads the fixture', () => {
    const qrels = readQrels(fixture('qrels.txt'));
    expect([...qrels.keys()]).toEqual(['q1', 'q2', 'q3', 'q4']);
    expect(qrels.get('q1')).toEqual(
      new Map([
        ['d1', 3],
        ['d2', 2],
        ['d3', 0],
        ['d4', 1],
        ['d9', 2],
      ]),
    );
  });

  it('ignores blank lines, accepts tabs and CRLF, and counts lines from 1', () => {
    const path = file('qrels.txt', '\nq1\t0\td1\t2\r\n   \r\nq1 0 d2 1\r\nq1 0 d3 x\r\n');
    const e = caught(() => readQrels(path));
    expect(e.details.line).toBe(5);
    const ok = file('ok.txt', '\nq1\t0\td1\t2\r\n   \r\nq1 0 d2 1\r\n');
    expect(readQrels(ok)).toEqual(
      new Map([
        [
          'q1',
          new Map([
            ['d1', 2],
            ['d2', 1],
          ]),
        ],
      ]),
    );
  });
});

describe('malformed input', () => {
  it.each([
    ['run', 'q1 Q0 d1 1 0.5 t\nq1 Q0 d2 2 0.4\n', 2, undefined, /expected 6 fields, found 5/],
    ['run', 'q1 Q0 d1 1 high t\n', 1, 'score', /"high" is not a finite number/],
    ['run', 'q1 Q0 d1 1 0.5 t\nq1 Q0 d2 two 0.4 t\n', 2, 'rank', /"two" is not an integer/],
    ['run', 'q1 Q0 d1 1 NaN t\n', 1, 'score', /finite number/],
    ['qrels', 'q1 0 d1 1\nq1 0 d2\n', 2, undefined, /expected 4 fields, found 3/],
    ['qrels', 'q1 0 d1 1.5\n', 1, 'rel', /"1.5" is not an integer/],
    ['qrels', 'q1 0 d1 1 extra\n', 1, undefined, /expected 4 fields, found 5/],
  ])('%s %j: BAD_INPUT at line %i', (kind, text, line, field, message) => {
    const path = file(`${kind}.txt`, text);
    const e = caught(() => (kind === 'run' ? readRun(path) : readQrels(path)));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.details.file).toBe(path);
    expect(e.details.line).toBe(line);
    expect(e.details.field).toBe(field);
    expect(e.message).toMatch(message);
    expect(e.details.hint).toBeTruthy();
    expect(e.format()).toContain(`${path}:${line}`);
  });

  it('a qrels pair judged twice is DUPLICATE_ID at the second line', () => {
    const path = file('qrels.txt', 'q1 0 d1 1\nq2 0 d1 0\n\nq1 0 d1 2\n');
    const e = caught(() => readQrels(path));
    expect(e.code).toBe('DUPLICATE_ID');
    expect(e.details).toMatchObject({ file: path, line: 4, field: 'docno' });
    expect(e.message).toContain('line 1');
  });

  it('a run item listed twice for a query is DUPLICATE_ID', () => {
    const path = file('run.txt', 'q1 Q0 d1 1 0.5 t\nq1 Q0 d1 2 0.4 t\n');
    const e = caught(() => readRun(path));
    expect(e.code).toBe('DUPLICATE_ID');
    expect(e.details).toMatchObject({ file: path, line: 2 });
  });

  it('a missing file is FILE_NOT_FOUND; invalid UTF-8 is BAD_ENCODING', () => {
    expect(caught(() => readRun(join(tmp.path, 'absent.txt'))).code).toBe('FILE_NOT_FOUND');
    const path = file('latin1.txt', Buffer.from([0x71, 0x31, 0x20, 0x30, 0x20, 0xe9, 0x20, 0x31, 0x0a]));
    const e = caught(() => readQrels(path));
    expect(e.code).toBe('BAD_ENCODING');
    expect(e.details.file).toBe(path);
  });
});

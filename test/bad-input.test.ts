/**
 * Bad input through the CLI, as a user meets it: `distilrank ingest --name shop …` with small files
 * written here. A good version of the data set is ingested first; every bad variant must then fail
 * with exit 1, `error[CODE]: file:line: field "x": …` on stderr (no stack trace), and leave the store
 * exactly as it was.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, useTempDir, type CliResult } from './helpers.ts';

const STORE = 'shop.sqlite';
const tmp = useTempDir('distilrank-bad-input-');
let goodDump: string;

const GOOD = {
  'items.jsonl':
    [
      '{"id": "i1", "title": "red running shoe", "description": "light trail shoe"}',
      '{"id": "i2", "title": "blue running shoe"}',
      '{"id": "i3", "title": "green wool hat"}',
      '{"id": "i4", "title": "black rain coat"}',
    ].join('\n') + '\n',
  'queries.tsv': 'q1\trunning shoe\nq2\twool hat\nq3\train coat\n',
  'judgments.qrels': 'q1 0 i1 3\nq1 0 i2 2\nq1 0 i3 0\nq2 0 i3 3\nq3 0 i4 1\n',
} as const;

/** Every row of the store's tables (and its table list), as one sha256. */
function storeDump(path: string): string {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const h = createHash('sha256');
    h.update(JSON.stringify(db.prepare('SELECT type, name FROM sqlite_master ORDER BY type, name').all()));
    h.update(String(db.pragma('user_version', { simple: true })));
    for (const table of ['datasets', 'items', 'queries', 'judgments', 'log_events']) {
      const rows = db
        .prepare(`SELECT * FROM ${table}`)
        .all()
        .map((r) => JSON.stringify(r))
        .sort();
      h.update(`\n#${table}\n${rows.join('\n')}`);
    }
    return h.digest('hex');
  } finally {
    db.close();
  }
}

function fileSha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function write(name: string, content: string | Buffer): string {
  writeFileSync(join(tmp.path, name), content);
  return name;
}

/** `ingest --name shop` with the good files unless a kind is overridden (paths relative to dir). */
function ingest(files: { items?: string; queries?: string; judgments?: string } = {}, extra: { scale?: string; store?: string } = {}): CliResult {
  return runCli(
    [
      '--store',
      extra.store ?? STORE,
      'ingest',
      '--name',
      'shop',
      '--items',
      files.items ?? 'items.jsonl',
      '--queries',
      files.queries ?? 'queries.tsv',
      '--judgments',
      files.judgments ?? 'judgments.qrels',
      '--scale',
      extra.scale ?? 'quepid-0-3',
    ],
    { cwd: tmp.path },
  );
}

/** Exit 1, one error headline with code and location, a hint, no stack trace, the store untouched. */
function expectRejected(r: CliResult, code: string, where: { file?: string; line?: number; field?: string } = {}): string {
  expect(r.status, r.stderr).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr.startsWith(`error[${code}]: `), r.stderr).toBe(true);
  let loc = '';
  if (where.file !== undefined) loc += where.line !== undefined ? `${where.file}:${where.line}: ` : `${where.file}: `;
  if (where.field !== undefined) loc += `field "${where.field}": `;
  expect(r.stderr.startsWith(`error[${code}]: ${loc}`), r.stderr).toBe(true);
  expect(r.stderr).toMatch(/\n {2}hint: \S/);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toContain('node:internal');
  expect(r.stderr).not.toContain('internal error');
  expect(storeDump(join(tmp.path, STORE))).toBe(goodDump);
  return r.stderr;
}

beforeAll(() => {
  for (const [name, content] of Object.entries(GOOD)) write(name, content);
  const r = ingest();
  if (r.status !== 0) throw new Error(`the good ingest failed: ${r.stderr}`);
  expect(r.stdout).toMatch(/^shop: 4 items, 3 queries .*, 5 judgments/);
  goodDump = storeDump(join(tmp.path, STORE));
});

describe('the good data set', () => {
  it('is in the store, and re-ingesting it changes nothing', () => {
    const db = new Database(join(tmp.path, STORE), { readonly: true });
    try {
      expect((db.prepare("SELECT count(*) AS n FROM items WHERE dataset = 'shop'").get() as { n: number }).n).toBe(4);
      expect((db.prepare("SELECT count(*) AS n FROM judgments WHERE dataset = 'shop'").get() as { n: number }).n).toBe(5);
    } finally {
      db.close();
    }
    const r = ingest();
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('already up to date');
    expect(storeDump(join(tmp.path, STORE))).toBe(goodDump);
  });
});

describe('bad input files', () => {
  it('malformed JSON on line 3 of the items → BAD_INPUT at items:3', () => {
    const lines = GOOD['items.jsonl'].split('\n');
    lines[2] = '{"id": "i3", "title": "green wool hat"';
    const items = write('broken.jsonl', lines.join('\n'));
    const err = expectRejected(ingest({ items }), 'BAD_INPUT', { file: items, line: 3 });
    expect(err).toContain('invalid JSON');
  });

  it('a CSV item row with the wrong number of fields → BAD_INPUT at that line', () => {
    const items = write(
      'fields.csv',
      'id,title,description\ni1,red running shoe,light\ni2,blue running shoe\ni3,green wool hat,warm\ni4,black rain coat,dry\n',
    );
    const err = expectRejected(ingest({ items }), 'BAD_INPUT', { file: items, line: 3 });
    expect(err).toContain('row has 2 fields but the header has 3');
  });

  it('grade 7 on the quepid-0-3 scale → UNKNOWN_GRADE at the line, field grade, valid grades in the hint', () => {
    const judgments = write('grade7.qrels', 'q1 0 i1 3\nq1 0 i2 2\n\nq2 0 i3 7\nq3 0 i4 1\n');
    const err = expectRejected(ingest({ judgments }), 'UNKNOWN_GRADE', { file: judgments, line: 4, field: 'grade' });
    expect(err).toContain('grade 7 is not on the quepid-0-3 scale');
    expect(err).toMatch(/hint: valid grades: 0, 1, 2, 3/);
  });

  it('a non-numeric grade in a CSV judgments file → BAD_INPUT, field grade', () => {
    const judgments = write('words.csv', 'query_id,item_id,grade\nq1,i1,3\nq1,i2,good\nq2,i3,3\n');
    const err = expectRejected(ingest({ judgments }), 'BAD_INPUT', { file: judgments, line: 3, field: 'grade' });
    expect(err).toContain('"good"');
  });

  it('a duplicate item id → DUPLICATE_ID at the second line', () => {
    const items = write('dupitems.jsonl', GOOD['items.jsonl'] + '{"id": "i2", "title": "blue running shoe, again"}\n');
    const err = expectRejected(ingest({ items }), 'DUPLICATE_ID', { file: items, line: 5, field: 'id' });
    expect(err).toContain('"i2"');
    expect(err).toContain('line 2');
  });

  it('a duplicate item id in CSV (numeric-looking ids are compared as text after trimming)', () => {
    const items = write('dupitems.csv', 'id,title\ni1,red running shoe\ni2,blue running shoe\ni3,green wool hat\ni4,black rain coat\n i3 ,another hat\n');
    expectRejected(ingest({ items }), 'DUPLICATE_ID', { file: items, line: 6, field: 'id' });
  });

  it('a duplicate query id → DUPLICATE_ID at the second line', () => {
    const queries = write('dupqueries.tsv', 'q1\trunning shoe\nq2\twool hat\nq3\train coat\nq2\tgreen hat\n');
    const err = expectRejected(ingest({ queries }), 'DUPLICATE_ID', { file: queries, line: 4, field: 'id' });
    expect(err).toContain('"q2"');
  });

  it('a judgment for an unknown item → UNKNOWN_REFERENCE at its line', () => {
    const judgments = write('unknownitem.qrels', 'q1 0 i1 3\nq1 0 i2 2\nq2 0 i9 3\nq3 0 i4 1\n');
    const err = expectRejected(ingest({ judgments }), 'UNKNOWN_REFERENCE', { file: judgments, line: 3 });
    expect(err).toContain('"i9"');
  });

  it('a judgment for an unknown query → UNKNOWN_REFERENCE at its line', () => {
    const judgments = write('unknownquery.csv', 'query_id,item_id,grade\nq1,i1,3\nq1,i2,2\nq7,i3,3\n');
    const err = expectRejected(ingest({ judgments }), 'UNKNOWN_REFERENCE', { file: judgments, line: 4 });
    expect(err).toContain('"q7"');
  });

  it('Latin-1 bytes in items.csv → BAD_ENCODING at the line of the first bad byte', () => {
    const text = 'id,title\ni1,red running shoe\ni2,blue running shoe\ni3,caf\u00e9 hat\ni4,black rain coat\n';
    const items = write('latin1.csv', Buffer.from(text, 'latin1'));
    const err = expectRejected(ingest({ items }), 'BAD_ENCODING', { file: items, line: 4 });
    expect(err).toContain('0xE9');
    expect(err).toContain('iconv -f latin1');
  });

  it('a missing input file → FILE_NOT_FOUND naming it', () => {
    const err = expectRejected(ingest({ queries: 'no-such-queries.tsv' }), 'FILE_NOT_FOUND', { file: 'no-such-queries.tsv' });
    expect(err).toContain('file not found');
  });

  it('an unknown --scale → UNKNOWN_NAME with the valid names in the hint', () => {
    const err = expectRejected(ingest({}, { scale: 'stars-1-10' }), 'UNKNOWN_NAME');
    expect(err).toContain('"stars-1-10"');
    const hint = err.split('\n').find((l) => l.startsWith('  hint:')) ?? '';
    for (const name of ['levels-1-5', 'graded-0-4', 'quepid-0-3', 'trec-0-2', 'binary-0-1']) expect(hint).toContain(name);
  });

  it('an unknown built-in data set for ingest --dataset → UNKNOWN_NAME', () => {
    const r = runCli(['--store', STORE, 'ingest', '--dataset', 'no-such-set'], { cwd: tmp.path });
    const err = expectRejected(r, 'UNKNOWN_NAME');
    expect(err).toContain('unknown data set "no-such-set"');
    expect(err).toMatch(/hint: use one of: .*cranfield/);
  });

  it('the same (query, item) judged twice in qrels → DUPLICATE_ID at the second line', () => {
    const judgments = write('dupjudg.qrels', GOOD['judgments.qrels'] + 'q1 0 i1 2\n');
    const err = expectRejected(ingest({ judgments }), 'DUPLICATE_ID', { file: judgments, line: 6, field: 'docno' });
    expect(err).toContain('first on line 1');
  });

  it('a log event naming an unknown item → UNKNOWN_REFERENCE at its line', () => {
    const logs = write(
      'logs.jsonl',
      '{"query": "running shoe", "item_id": "i1", "action": "click", "time": 1709806500000}\n{"query": "wool hat", "item_id": "i8", "action": "click", "time": "2024-03-07T10:15:00Z"}\n',
    );
    const r = runCli(
      [
        '--store',
        STORE,
        'ingest',
        '--name',
        'shop',
        '--items',
        'items.jsonl',
        '--queries',
        'queries.tsv',
        '--judgments',
        'judgments.qrels',
        '--logs',
        logs,
        '--scale',
        'quepid-0-3',
      ],
      { cwd: tmp.path },
    );
    const err = expectRejected(r, 'UNKNOWN_REFERENCE', { file: logs, line: 2, field: 'item_id' });
    expect(err).toContain('"i8"');
  });

  it('an invalid data set name → BAD_OPTION, field dataset', () => {
    const r = runCli(
      [
        '--store',
        STORE,
        'ingest',
        '--name',
        'My Shop',
        '--items',
        'items.jsonl',
        '--queries',
        'queries.tsv',
        '--judgments',
        'judgments.qrels',
        '--scale',
        'quepid-0-3',
      ],
      { cwd: tmp.path },
    );
    expectRejected(r, 'BAD_OPTION', { field: 'dataset' });
  });

  it('a scale mapping to a level outside 1–5 → BAD_OPTION, field scale', () => {
    expectRejected(ingest({}, { scale: '0:1,1:3,2:4,3:9' }), 'BAD_OPTION', { field: 'scale' });
  });

  it('a missing required ingest option → BAD_OPTION naming it', () => {
    const r = runCli(['--store', STORE, 'ingest', '--name', 'shop', '--items', 'items.jsonl', '--queries', 'queries.tsv', '--judgments', 'judgments.qrels'], {
      cwd: tmp.path,
    });
    expectRejected(r, 'BAD_OPTION', { field: 'scale' });
  });
});

describe('eval with unknown names', () => {
  const cases: Array<[string, string[], string]> = [
    ['model', ['--model', 'no-such-model'], 'unknown model "no-such-model"'],
    ['protocol', ['--protocol', 'sideways'], 'unknown protocol "sideways"'],
    ['split', ['--split', 'validation'], 'unknown split "validation"'],
    ['metric', ['--metrics', 'nDCG@10,bogus@3'], 'unknown metric "bogus@3"'],
  ];
  for (const [what, args, message] of cases) {
    it(`an unknown ${what} → UNKNOWN_NAME, exit 1`, () => {
      const r = runCli(['--store', STORE, 'eval', '--dataset', 'shop', ...args], { cwd: tmp.path });
      const err = expectRejected(r, 'UNKNOWN_NAME', what === 'split' ? { field: 'split' } : {});
      expect(err).toContain(message);
      expect(err).toMatch(/hint: use one of: /);
    });
  }

  it('eval on the good data set works (the unknown-name failures are not the store failing)', () => {
    const r = runCli(['--store', STORE, 'eval', '--dataset', 'shop', '--split', 'train', '--protocol', 'rerank', '--json'], { cwd: tmp.path });
    expect(r.status, r.stderr).toBe(0);
  });

  it('an unknown data set for eval --dataset → STORE_NOT_FOUND naming what the store holds', () => {
    const r = runCli(['--store', STORE, 'eval', '--dataset', 'no-such-set'], { cwd: tmp.path });
    const err = expectRejected(r, 'STORE_NOT_FOUND');
    expect(err).toContain('(the store holds: shop)');
  });
});

describe('a store of another schema version', () => {
  it('is refused with STORE_VERSION and left byte for byte unchanged', () => {
    copyFileSync(join(tmp.path, STORE), join(tmp.path, 'v99.sqlite'));
    const db = new Database(join(tmp.path, 'v99.sqlite'));
    db.pragma('user_version = 99');
    db.close();
    const before = fileSha(join(tmp.path, 'v99.sqlite'));
    const r = ingest({}, { store: 'v99.sqlite' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error\[STORE_VERSION\]: \S*v99\.sqlite: .*schema version 99/);
    expect(r.stderr).toMatch(/\n {2}hint: \S/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(fileSha(join(tmp.path, 'v99.sqlite'))).toBe(before);
    // reads are refused the same way
    const ev = runCli(['--store', 'v99.sqlite', 'datasets'], { cwd: tmp.path });
    expect(ev.status).toBe(1);
    expect(ev.stderr).toMatch(/^error\[STORE_VERSION\]/);
    expect(fileSha(join(tmp.path, 'v99.sqlite'))).toBe(before);
  });

  it('a SQLite file that is not a distilrank store is refused too', () => {
    const db = new Database(join(tmp.path, 'foreign.sqlite'));
    db.exec('CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);');
    db.close();
    const before = fileSha(join(tmp.path, 'foreign.sqlite'));
    const r = ingest({}, { store: 'foreign.sqlite' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error\[STORE_VERSION\]: \S*foreign\.sqlite: /);
    expect(fileSha(join(tmp.path, 'foreign.sqlite'))).toBe(before);
  });
});

describe('the store dump is sensitive', () => {
  // Control for all the "unchanged" assertions above: a real change to the data set changes the dump.
  it('changes when a good variant is ingested', () => {
    copyFileSync(join(tmp.path, STORE), join(tmp.path, 'copy.sqlite'));
    expect(storeDump(join(tmp.path, 'copy.sqlite'))).toBe(goodDump);
    const judgments = write('changed.qrels', GOOD['judgments.qrels'].replace('q3 0 i4 1', 'q3 0 i4 2'));
    const r = ingest({ judgments }, { store: 'copy.sqlite' });
    expect(r.status, r.stderr).toBe(0);
    expect(storeDump(join(tmp.path, 'copy.sqlite'))).not.toBe(goodDump);
  });
});

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DistilrankError } from '../src/core/errors.ts';
import { csvRecords, parseCsv, parseJsonl, readCsvRecords, readJsonl, readTextFile, readTsvRecords, readTsvRows } from '../src/ingest/formats.ts';
import { caught, errorWhere, useTempDir } from './helpers.ts';

const FIX = join(import.meta.dirname, 'fixtures', 'input');

/** The parts of an error the tests pin down (code, file, line, field); it must carry a hint. */
const where = errorWhere;

const tmp = useTempDir('distilrank-formats-');
const write = (name: string, content: string | Buffer): string => tmp.write(name, content);

describe('readTextFile', () => {
  it('decodes UTF-8 and keeps non-Latin text unchanged', () => {
    const text = 'Größe 42\n抹茶 パウダー\n无线蓝牙耳机\n';
    const p = write('utf8.txt', Buffer.from(text, 'utf8'));
    expect(readTextFile(p)).toBe(text);
  });

  it('strips a UTF-8 byte-order mark', () => {
    const p = write('bom.txt', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('id,title\n', 'utf8')]));
    expect(readTextFile(p)).toBe('id,title\n');
  });

  it('reports invalid UTF-8 (latin-1) with the line of the first bad byte', () => {
    const p = write('latin1.csv', Buffer.concat([Buffer.from('id,title\n1,tea\n2,caf', 'latin1'), Buffer.from([0xe9]), Buffer.from('\n3,ok\n')]));
    const e = caught(() => readTextFile(p));
    expect(e.code).toBe('BAD_ENCODING');
    expect(e.details.file).toBe(p);
    expect(e.details.line).toBe(3);
    expect(e.details.field).toBeUndefined();
    expect(e.message).toContain('0xE9');
    expect(e.message).toContain('column 6');
    expect(e.details.hint).toContain('iconv -f latin1 -t utf-8');
  });

  it('finds the bad byte after valid multi-byte text and a BOM', () => {
    const good = Buffer.from('抹茶\nGröße\n', 'utf8');
    // a truncated 3-byte sequence (E6 8A without its last byte) on line 3
    const p = write('trunc.txt', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), good, Buffer.from([0x61, 0xe6, 0x8a, 0x0a])]));
    expect(where(() => readTextFile(p))).toEqual({ code: 'BAD_ENCODING', file: p, line: 3, field: undefined });
  });

  it('locates encoded surrogates and overlong forms', () => {
    const surrogate = write('surrogate.txt', Buffer.concat([Buffer.from('ok\nä '), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('\nend\n')]));
    const e = caught(() => readTextFile(surrogate));
    expect(e.details).toMatchObject({ file: surrogate, line: 2 });
    expect(e.message).toContain('0xED');
    expect(e.message).toContain('column 4');
    const overlong = write('overlong.txt', Buffer.from([0x61, 0x0a, 0x0a, 0x0a, 0xc0, 0xaf]));
    expect(where(() => readTextFile(overlong))).toEqual({ code: 'BAD_ENCODING', file: overlong, line: 4, field: undefined });
  });

  it('rejects a UTF-16LE file (BOM) on line 1', () => {
    const p = write('utf16.tsv', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('q1\tcafé\n', 'utf16le')]));
    const e = caught(() => readTextFile(p));
    expect(e.code).toBe('BAD_ENCODING');
    expect(e.details).toMatchObject({ file: p, line: 1 });
    expect(e.message).toContain('UTF-16LE');
    expect(e.details.hint).toContain('iconv');
  });

  it('rejects UTF-16 without a BOM (NUL bytes)', () => {
    const p = write('utf16-nobom.txt', Buffer.from('abc\ndef\n', 'utf16le'));
    expect(where(() => readTextFile(p))).toEqual({ code: 'BAD_ENCODING', file: p, line: 1, field: undefined });
  });

  it('rejects gzip data', () => {
    const p = write('x.jsonl', Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00]));
    const e = caught(() => readTextFile(p));
    expect(e.code).toBe('BAD_ENCODING');
    expect(e.details.hint).toContain('gunzip');
  });

  it('reports a missing file as FILE_NOT_FOUND with the path', () => {
    const p = join(tmp.path, 'nope', 'missing.csv');
    const e = caught(() => readTextFile(p));
    expect(e.code).toBe('FILE_NOT_FOUND');
    expect(e.details.file).toBe(p);
    expect(e.format()).toBe(`error[FILE_NOT_FOUND]: ${p}: file not found\n  hint: ${e.details.hint}`);
  });

  it('reports a directory as BAD_INPUT', () => {
    expect(caught(() => readTextFile(tmp.path)).code).toBe('BAD_INPUT');
  });
});

describe('parseCsv', () => {
  it('parses quoted fields with commas, doubled quotes and embedded newlines, with record start lines', () => {
    const text = 'a,b,c\n1,"x, y","say ""hi"""\n2,"multi\nline\nvalue",z\n3,,""\n';
    expect(parseCsv(text, 'f.csv')).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['1', 'x, y', 'say "hi"'] },
      { line: 3, fields: ['2', 'multi\nline\nvalue', 'z'] },
      { line: 6, fields: ['3', '', ''] },
    ]);
  });

  it('handles CRLF line endings (and CRLF inside quotes is kept)', () => {
    const text = 'id,title\r\n1,"a\r\nb"\r\n2,Größe\r\n';
    expect(parseCsv(text, 'f.csv')).toEqual([
      { line: 1, fields: ['id', 'title'] },
      { line: 2, fields: ['1', 'a\r\nb'] },
      { line: 4, fields: ['2', 'Größe'] },
    ]);
  });

  it('accepts a last record without a newline, skips blank lines, keeps trailing empty fields', () => {
    expect(parseCsv('a,b\n\n1,\n\n2,x', 'f.csv')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 3, fields: ['1', ''] },
      { line: 5, fields: ['2', 'x'] },
    ]);
  });

  it('keeps a quote inside an unquoted field literally', () => {
    expect(parseCsv('5" screen,ok', 'f.csv')).toEqual([{ line: 1, fields: ['5" screen', 'ok'] }]);
  });

  it('reports an unterminated quote at the line where it opens', () => {
    expect(where(() => parseCsv('a,b\n1,ok\n2,"open\nmore\n3,x\n', 'f.csv'))).toEqual({ code: 'BAD_INPUT', file: 'f.csv', line: 3, field: undefined });
  });

  it('reports text after a closing quote', () => {
    expect(where(() => parseCsv('a,b\n1,"x"y\n', 'f.csv'))).toEqual({ code: 'BAD_INPUT', file: 'f.csv', line: 2, field: undefined });
  });

  it('parses TSV with quoting (delimiter \\t)', () => {
    expect(parseCsv('a\tb\n"x\ty"\t"q ""z"""\n', 'f.tsv', { delimiter: '\t' })).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['x\ty', 'q "z"'] },
    ]);
  });

  it('treats quotes literally when quoting is none', () => {
    expect(parseCsv('q1\t"best" phone\nq2\t"unclosed\n', 'f.tsv', { delimiter: '\t', quoting: 'none' })).toEqual([
      { line: 1, fields: ['q1', '"best" phone'] },
      { line: 2, fields: ['q2', '"unclosed'] },
    ]);
  });

  it('rejects a multi-character delimiter', () => {
    expect(caught(() => parseCsv('a', 'f', { delimiter: ',,' })).code).toBe('BAD_OPTION');
  });

  it('parses 8 MB in one quick pass', () => {
    const row = '12345,"Chair, oak ""classic""",Größe 42 — 抹茶 パウダー,4.5\n';
    const text = 'id,title,desc,price\n' + row.repeat(Math.ceil((8 * 1024 * 1024) / row.length));
    const t0 = performance.now();
    const rows = parseCsv(text, 'big.csv');
    const ms = performance.now() - t0;
    expect(rows.length).toBe(1 + Math.ceil((8 * 1024 * 1024) / row.length));
    expect(rows[rows.length - 1]).toEqual({ line: rows.length, fields: ['12345', 'Chair, oak "classic"', 'Größe 42 — 抹茶 パウダー', '4.5'] });
    expect(ms).toBeLessThan(3000);
  });
});

describe('csvRecords / readCsvRecords / readTsvRecords', () => {
  it('maps rows to header names with lines', () => {
    const p = write('ok.csv', 'id, title \n1,"a, b"\n2,"x\ny"\n');
    expect(readCsvRecords(p)).toEqual({
      header: ['id', 'title'],
      headerLine: 1,
      rows: [
        { line: 2, values: { id: '1', title: 'a, b' } },
        { line: 3, values: { id: '2', title: 'x\ny' } },
      ],
    });
  });

  it('reports a row with the wrong field count at its line', () => {
    expect(where(() => readCsvRecords(join(FIX, 'bad', 'items_wrong_count.csv')))).toEqual({
      code: 'BAD_INPUT',
      file: join(FIX, 'bad', 'items_wrong_count.csv'),
      line: 3,
      field: undefined,
    });
    // a row that starts after a multi-line quoted field is reported at its own start line
    expect(where(() => csvRecords('a,b\n1,"x\n\ny"\n2\n', 'f.csv'))).toEqual({ code: 'BAD_INPUT', file: 'f.csv', line: 5, field: undefined });
  });

  it('reports an unterminated quote in a file', () => {
    const p = join(FIX, 'bad', 'items_unterminated.csv');
    expect(where(() => readCsvRecords(p))).toEqual({ code: 'BAD_INPUT', file: p, line: 3, field: undefined });
  });

  it('rejects an empty file and duplicate header names', () => {
    expect(where(() => csvRecords('', 'e.csv'))).toEqual({ code: 'BAD_INPUT', file: 'e.csv', line: 1, field: undefined });
    expect(where(() => csvRecords('id,title,id\n', 'd.csv'))).toEqual({ code: 'BAD_INPUT', file: 'd.csv', line: 1, field: 'id' });
  });

  it('reads TSV with literal quotes by default, and with RFC 4180 quoting on request', () => {
    const p = write('q.tsv', 'id\ttext\nq1\t"wireless" earbuds\nq2\t"a\tb"\n');
    expect(() => readTsvRecords(p)).toThrow(DistilrankError); // the tab inside quotes splits the row
    const p2 = write('q2.tsv', 'id\ttext\nq1\t"wireless" earbuds\n');
    expect(readTsvRecords(p2).rows).toEqual([{ line: 2, values: { id: 'q1', text: '"wireless" earbuds' } }]);
    const p3 = write('q3.tsv', 'id\ttext\nq2\t"a\tb"\n');
    expect(readTsvRecords(p3, { quoting: 'rfc4180' }).rows).toEqual([{ line: 2, values: { id: 'q2', text: 'a\tb' } }]);
    // in RFC 4180 mode, text after a closing quote is an error
    expect(caught(() => readTsvRecords(p2, { quoting: 'rfc4180' })).details).toMatchObject({ file: p2, line: 2 });
    expect(readTsvRows(p2)).toEqual([
      { line: 1, fields: ['id', 'text'] },
      { line: 2, fields: ['q1', '"wireless" earbuds'] },
    ]);
  });
});

describe('readJsonl', () => {
  it('yields objects with their lines, skipping blank lines, with CRLF', () => {
    const p = write('ok.jsonl', '{"a": "抹茶"}\r\n\r\n  \n{"b": [1, "Größe"]}\r\n');
    expect(readJsonl(p)).toEqual([
      { line: 1, value: { a: '抹茶' } },
      { line: 4, value: { b: [1, 'Größe'] } },
    ]);
  });

  it('reports invalid JSON with file and line', () => {
    const p = join(FIX, 'bad', 'items_bad_json.jsonl');
    expect(where(() => readJsonl(p))).toEqual({ code: 'BAD_INPUT', file: p, line: 2, field: undefined });
  });

  it('reports a non-object line', () => {
    const p = join(FIX, 'bad', 'items_array.jsonl');
    const e = caught(() => readJsonl(p));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.details).toMatchObject({ file: p, line: 2 });
    expect(e.message).toContain('array');
    for (const [text, kind] of [
      ['"s"', 'string'],
      ['null', 'null'],
      ['3', 'number'],
    ] as const) {
      expect(caught(() => parseJsonl(`{}\n\n${text}\n`, 'x.jsonl')).details).toMatchObject({ file: 'x.jsonl', line: 3 });
      expect(caught(() => parseJsonl(text, 'x.jsonl')).message).toContain(kind);
    }
  });

  it('reports a missing file', () => {
    expect(caught(() => readJsonl(join(tmp.path, 'missing.jsonl'))).code).toBe('FILE_NOT_FOUND');
  });
});

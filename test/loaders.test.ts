import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadItems, loadJudgments, loadLogEvents, loadQueries, parseIsoTime } from '../src/ingest/loaders.ts';
import { caught, errorWhere, useTempDir } from './helpers.ts';

const FIX = join(import.meta.dirname, 'fixtures', 'input');
const fix = (name: string): string => join(FIX, name);
const bad = (name: string): string => join(FIX, 'bad', name);

/** The parts of an error the tests pin down (code, file, line, field); it must carry a hint. */
const where = errorWhere;

const tmp = useTempDir('distilrank-loaders-');
const write = (name: string, content: string | Buffer): string => tmp.write(name, content);

describe('loadItems', () => {
  it('loads JSONL items exactly, non-Latin text unchanged', () => {
    expect(loadItems(fix('items.jsonl'))).toEqual({
      file: fix('items.jsonl'),
      lines: [1, 2, 4],
      records: [
        {
          id: 'A1',
          title: 'Kaffeemühle für Espresso',
          description: 'Größe: klein, Farbe: grün',
          imageUrl: 'https://example.com/a1.jpg',
          language: 'de',
          attributes: { colour: 'grün', weight_kg: 1.2, electric: false, tags: ['küche', 'kaffee'] },
          fields: { brand: 'Müller' },
        },
        {
          id: '2',
          title: '抹茶 パウダー 100g',
          language: 'ja',
          fields: { bullets: '宇治産の抹茶' },
          attributes: { price: 12.5, in_stock: true },
        },
        { id: 'C3', title: '', description: '无线蓝牙耳机', language: 'zh', imageUrl: 'https://example.com/c3.png' },
      ],
    });
  });

  it('loads CSV items: quoted commas/newlines/doubled quotes, attr_* columns, extra fields', () => {
    expect(loadItems(fix('items.csv'))).toEqual({
      file: fix('items.csv'),
      lines: [2, 4, 5],
      records: [
        {
          id: 'P1',
          title: 'Chair, oak',
          description: 'A "classic" chair\nwith two lines',
          imageUrl: 'https://example.com/p1.jpg',
          language: 'en',
          attributes: { colour: 'brown', weight: 4.5, zip: '007' },
          fields: { brand: 'Acme' },
        },
        { id: 'P2', title: 'Größe 42 Schuh', language: 'de' },
        { id: 'P3', title: '東京タワー 模型', language: 'ja', attributes: { colour: '赤', weight: -3 }, fields: { brand: '5" figure' } },
      ],
    });
  });

  it('loads CSV items with CRLF line endings and a JSON attributes cell', () => {
    const p = write('crlf.csv', 'id,title,attributes\r\n1,"Teekanne\r\naus Glas","{""volume_l"": 1.5}"\r\n2,红茶,\r\n');
    expect(loadItems(p)).toEqual({
      file: p,
      lines: [2, 4],
      records: [
        { id: '1', title: 'Teekanne\r\naus Glas', attributes: { volume_l: 1.5 } },
        { id: '2', title: '红茶' },
      ],
    });
  });

  it('reports a duplicate id with both lines (JSONL and CSV)', () => {
    const e = caught(() => loadItems(bad('items_dup.jsonl')));
    expect({ code: e.code, ...e.details }).toMatchObject({ code: 'DUPLICATE_ID', file: bad('items_dup.jsonl'), line: 4, field: 'id' });
    expect(e.message).toContain('line 1');
    const e2 = caught(() => loadItems(bad('items_dup.csv')));
    expect({ code: e2.code, ...e2.details }).toMatchObject({ code: 'DUPLICATE_ID', file: bad('items_dup.csv'), line: 5, field: 'id' });
    expect(e2.message).toContain('line 2');
  });

  it('reports malformed JSONL, missing and mistyped fields', () => {
    expect(where(() => loadItems(bad('items_bad_json.jsonl')))).toEqual({ code: 'BAD_INPUT', file: bad('items_bad_json.jsonl'), line: 2, field: undefined });
    expect(where(() => loadItems(bad('items_missing_title.jsonl')))).toEqual({
      code: 'BAD_INPUT',
      file: bad('items_missing_title.jsonl'),
      line: 2,
      field: 'title',
    });
    expect(caught(() => loadItems(bad('items_title_type.jsonl'))).details).toMatchObject({ file: bad('items_title_type.jsonl'), line: 1, field: 'title' });
    expect(where(() => loadItems(bad('items_attr_type.jsonl')))).toEqual({
      code: 'BAD_INPUT',
      file: bad('items_attr_type.jsonl'),
      line: 1,
      field: 'attributes.size',
    });
    expect(where(() => loadItems(bad('items_empty_title.jsonl')))).toEqual({
      code: 'BAD_INPUT',
      file: bad('items_empty_title.jsonl'),
      line: 1,
      field: 'title',
    });
    const noId = write('noid.jsonl', '{"title": "x"}\n');
    expect(where(() => loadItems(noId))).toEqual({ code: 'BAD_INPUT', file: noId, line: 1, field: 'id' });
    const boolId = write('boolid.jsonl', '{"id": "a", "title": "x"}\n{"id": true, "title": "x"}\n');
    expect(caught(() => loadItems(boolId)).details).toMatchObject({ line: 2, field: 'id' });
    const bigId = write('bigid.jsonl', '{"id": 12345678901234567890, "title": "x"}\n');
    expect(caught(() => loadItems(bigId)).details).toMatchObject({ line: 1, field: 'id' });
    const nested = write('nested.jsonl', '{"id": "a", "title": "x", "dims": {"w": 1}}\n');
    expect(caught(() => loadItems(nested)).details).toMatchObject({ line: 1, field: 'dims' });
    const descType = write('desc.jsonl', '{"id": "a", "title": "x", "description": 5}\n');
    expect(caught(() => loadItems(descType)).details).toMatchObject({ line: 1, field: 'description' });
  });

  it('reports CSV problems: wrong field count, unterminated quote, missing column, empty id', () => {
    expect(where(() => loadItems(bad('items_wrong_count.csv')))).toEqual({ code: 'BAD_INPUT', file: bad('items_wrong_count.csv'), line: 3, field: undefined });
    expect(where(() => loadItems(bad('items_unterminated.csv')))).toEqual({
      code: 'BAD_INPUT',
      file: bad('items_unterminated.csv'),
      line: 3,
      field: undefined,
    });
    expect(where(() => loadItems(bad('items_no_title_column.csv')))).toEqual({
      code: 'BAD_INPUT',
      file: bad('items_no_title_column.csv'),
      line: 1,
      field: 'title',
    });
    const emptyId = write('emptyid.csv', 'id,title\n1,a\n ,b\n');
    expect(where(() => loadItems(emptyId))).toEqual({ code: 'BAD_INPUT', file: emptyId, line: 3, field: 'id' });
  });

  it('rejects an unknown extension, a missing file and a bad encoding', () => {
    expect(where(() => loadItems(bad('items.xml')))).toEqual({ code: 'BAD_INPUT', file: bad('items.xml'), line: undefined, field: undefined });
    const missing = join(tmp.path, 'missing.jsonl');
    expect(caught(() => loadItems(missing))).toMatchObject({ code: 'FILE_NOT_FOUND', details: { file: missing } });
    const latin = write('latin.csv', Buffer.concat([Buffer.from('id,title\n1,tea\n2,caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
    expect(where(() => loadItems(latin))).toEqual({ code: 'BAD_ENCODING', file: latin, line: 3, field: undefined });
  });
});

describe('loadQueries', () => {
  it('loads TSV (header skipped, literal quotes, optional language)', () => {
    expect(loadQueries(fix('queries.tsv'))).toEqual({
      file: fix('queries.tsv'),
      lines: [2, 3, 4, 6],
      records: [
        { id: 'q1', text: 'wireless "noise cancelling" headphones', language: 'en' },
        { id: 'q2', text: 'kaffeemühle', language: 'de' },
        { id: 'q3', text: '抹茶' },
        { id: 'q4', text: '红茶 绿茶', language: 'zh' },
      ],
    });
  });

  it('loads headerless CRLF TSV', () => {
    const p = write('crlf.tsv', 'q1\tGröße 42\r\nq2\t東京 土産\tja\r\n');
    expect(loadQueries(p)).toEqual({
      file: p,
      lines: [1, 2],
      records: [
        { id: 'q1', text: 'Größe 42' },
        { id: 'q2', text: '東京 土産', language: 'ja' },
      ],
    });
  });

  it('loads JSONL and CSV', () => {
    expect(loadQueries(fix('queries.jsonl'))).toEqual({
      file: fix('queries.jsonl'),
      lines: [1, 2, 3],
      records: [
        { id: 'q1', text: 'oak chair', language: 'en' },
        { id: '7', text: 'Größe 42 Schuhe' },
        { id: 'q3', text: '東京 土産' },
      ],
    });
    const p = write('q.csv', 'query_id,query\n1,"chair, oak"\n');
    expect(loadQueries(p).records).toEqual([{ id: '1', text: 'chair, oak' }]);
  });

  it('reports duplicate ids, empty text, wrong field counts and missing keys', () => {
    const e = caught(() => loadQueries(bad('queries_dup.tsv')));
    expect({ code: e.code, ...e.details }).toMatchObject({ code: 'DUPLICATE_ID', file: bad('queries_dup.tsv'), line: 3, field: 'id' });
    expect(e.message).toContain('line 1');
    expect(where(() => loadQueries(bad('queries_empty_text.tsv')))).toEqual({ code: 'BAD_INPUT', file: bad('queries_empty_text.tsv'), line: 3, field: 'text' });
    expect(where(() => loadQueries(bad('queries_one_field.tsv')))).toEqual({
      code: 'BAD_INPUT',
      file: bad('queries_one_field.tsv'),
      line: 2,
      field: undefined,
    });
    expect(where(() => loadQueries(bad('queries_missing_text.jsonl')))).toEqual({
      code: 'BAD_INPUT',
      file: bad('queries_missing_text.jsonl'),
      line: 1,
      field: 'text',
    });
    const dupJson = write('dup.jsonl', '{"id": 1, "text": "a"}\n{"id": "1", "text": "b"}\n');
    expect(where(() => loadQueries(dupJson))).toEqual({ code: 'DUPLICATE_ID', file: dupJson, line: 2, field: 'id' });
    expect(caught(() => loadQueries(join(tmp.path, 'queries.txt'))).code).toBe('BAD_INPUT');
  });
});

describe('loadJudgments', () => {
  it('loads TREC qrels (spaces or tabs, comments and blank lines skipped)', () => {
    expect(loadJudgments(fix('judgments.qrels'))).toEqual({
      file: fix('judgments.qrels'),
      lines: [1, 2, 4, 6],
      records: [
        { queryId: 'q1', itemId: 'A1', grade: 2 },
        { queryId: 'q1', itemId: '2', grade: 0 },
        { queryId: 'q2', itemId: 'C3', grade: 3 },
        { queryId: 'q2', itemId: 'A1', grade: -1 },
      ],
    });
  });

  it('loads qrels from a .txt file with CRLF', () => {
    const p = write('qrels.txt', 'q1 0 d1 1\r\nq1 0 d2 0.5\r\n');
    expect(loadJudgments(p).records).toEqual([
      { queryId: 'q1', itemId: 'd1', grade: 1 },
      { queryId: 'q1', itemId: 'd2', grade: 0.5 },
    ]);
  });

  it('loads CSV without raters', () => {
    expect(loadJudgments(fix('judgments.csv'))).toEqual({
      file: fix('judgments.csv'),
      lines: [2, 3, 4],
      records: [
        { queryId: 'q1', itemId: 'A1', grade: 3 },
        { queryId: 'q1', itemId: '2', grade: 0.5 },
        { queryId: 'q2', itemId: 'C3', grade: 1 },
      ],
    });
  });

  it('groups rater rows into one judgment with the mean grade', () => {
    expect(loadJudgments(fix('judgments_raters.csv'))).toEqual({
      file: fix('judgments_raters.csv'),
      lines: [2, 3, 6],
      records: [
        {
          queryId: 'q1',
          itemId: 'A1',
          grade: 7 / 3,
          raters: [
            { rater: 'alice', grade: 3 },
            { rater: 'bob', grade: 2 },
            { rater: 'carol', grade: 2 },
          ],
        },
        { queryId: 'q1', itemId: '2', grade: 1, raters: [{ rater: 'alice', grade: 1 }] },
        { queryId: 'q2', itemId: 'C3', grade: 0, raters: [{ rater: 'bob', grade: 0 }] },
      ],
    });
  });

  it('reports non-numeric and empty grades on field "grade"', () => {
    expect(where(() => loadJudgments(bad('judgments_bad_grade.qrels')))).toEqual({
      code: 'BAD_INPUT',
      file: bad('judgments_bad_grade.qrels'),
      line: 2,
      field: 'grade',
    });
    expect(where(() => loadJudgments(bad('judgments_empty_grade.csv')))).toEqual({
      code: 'BAD_INPUT',
      file: bad('judgments_empty_grade.csv'),
      line: 3,
      field: 'grade',
    });
    for (const g of ['NaN', 'Infinity', '0x10', '1e999', '2a']) {
      const p = write(`g-${g}.qrels`, `q1 0 d1 ${g}\n`);
      expect(caught(() => loadJudgments(p)).details).toMatchObject({ file: p, line: 1, field: 'grade' });
    }
  });

  it('reports duplicate pairs and repeated raters', () => {
    const e = caught(() => loadJudgments(bad('judgments_dup.qrels')));
    expect({ code: e.code, ...e.details }).toMatchObject({ code: 'DUPLICATE_ID', file: bad('judgments_dup.qrels'), line: 3, field: 'docno' });
    expect(e.message).toContain('line 1');
    expect(where(() => loadJudgments(bad('judgments_dup.csv')))).toEqual({ code: 'DUPLICATE_ID', file: bad('judgments_dup.csv'), line: 4, field: 'item_id' });
    expect(where(() => loadJudgments(bad('judgments_dup_rater.csv')))).toEqual({
      code: 'DUPLICATE_ID',
      file: bad('judgments_dup_rater.csv'),
      line: 3,
      field: 'rater',
    });
  });

  it('reports malformed qrels lines and missing CSV columns', () => {
    expect(where(() => loadJudgments(bad('judgments_three_fields.qrels')))).toEqual({
      code: 'BAD_INPUT',
      file: bad('judgments_three_fields.qrels'),
      line: 2,
      field: undefined,
    });
    expect(where(() => loadJudgments(bad('judgments_no_item_column.csv')))).toEqual({
      code: 'BAD_INPUT',
      file: bad('judgments_no_item_column.csv'),
      line: 1,
      field: 'item_id',
    });
  });
});

describe('loadLogEvents', () => {
  it('loads events, normalises time to epoch ms, collects extras', () => {
    expect(loadLogEvents(fix('events.jsonl'))).toEqual({
      file: fix('events.jsonl'),
      lines: [1, 2, 3, 4],
      records: [
        { queryText: 'oak chair', itemId: 'P1', action: 'impression', position: 1, time: Date.UTC(2024, 2, 7, 10, 15), extra: { session: 's1' } },
        {
          queryText: 'oak chair',
          itemId: '42',
          action: 'click',
          position: 2,
          time: 1709806500000,
          extra: { dwell_ms: 3200, bot: 'false', ctx: '{"page":1}' },
        },
        { queryText: '抹茶', itemId: 'P3', action: 'purchase', time: Date.UTC(2024, 2, 7, 10, 15, 0, 250) },
        { queryText: 'kaffeemühle', itemId: 'A1', action: 'save', time: Date.UTC(2024, 2, 7) },
      ],
    });
  });

  it('reports bad time, impossible dates, bad position and missing keys', () => {
    expect(where(() => loadLogEvents(bad('events_bad_time.jsonl')))).toEqual({ code: 'BAD_INPUT', file: bad('events_bad_time.jsonl'), line: 2, field: 'time' });
    expect(where(() => loadLogEvents(bad('events_bad_date.jsonl')))).toEqual({ code: 'BAD_INPUT', file: bad('events_bad_date.jsonl'), line: 1, field: 'time' });
    expect(where(() => loadLogEvents(bad('events_bad_position.jsonl')))).toEqual({
      code: 'BAD_INPUT',
      file: bad('events_bad_position.jsonl'),
      line: 1,
      field: 'position',
    });
    expect(where(() => loadLogEvents(bad('events_missing_query.jsonl')))).toEqual({
      code: 'BAD_INPUT',
      file: bad('events_missing_query.jsonl'),
      line: 1,
      field: 'query',
    });
    const noTime = write('notime.jsonl', '{"query": "a", "item_id": "1", "action": "click"}\n');
    expect(where(() => loadLogEvents(noTime))).toEqual({ code: 'BAD_INPUT', file: noTime, line: 1, field: 'time' });
    expect(caught(() => loadLogEvents(join(tmp.path, 'events.csv'))).code).toBe('BAD_INPUT');
  });

  it('parses ISO-8601 variants', () => {
    expect(parseIsoTime('2024-03-07T10:15:00Z')).toBe(Date.UTC(2024, 2, 7, 10, 15));
    expect(parseIsoTime('2024-03-07 10:15')).toBe(Date.UTC(2024, 2, 7, 10, 15));
    expect(parseIsoTime('2024-03-07T10:15:00-0530')).toBe(Date.UTC(2024, 2, 7, 15, 45));
    expect(parseIsoTime('2024-03-07T10:15:00.123456+02')).toBe(Date.UTC(2024, 2, 7, 8, 15, 0, 123));
    expect(parseIsoTime('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
    for (const s of ['2023-02-29', '2024-13-01', '2024-03-07T24:00:00Z', 'March 7, 2024', '2024-3-7', '']) {
      expect(parseIsoTime(s)).toBeNaN();
    }
  });
});

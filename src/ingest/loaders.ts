/**
 * Generic loaders: turn the files users bring into canonical records (see records.ts).
 *
 * Every loader returns a {@link Loaded}: `records[i]` came from line `lines[i]` of `file`, so later
 * stages can say "judgment on line 17 of FILE names unknown item X". Files must be UTF-8 (see
 * formats.ts). Ids are strings: a JSON number id becomes its decimal text; leading and trailing
 * whitespace around ids is removed. Any problem is a DistilrankError naming file, line and field.
 *
 * ## Items — `loadItems(path)`, `.jsonl` or `.csv`
 *
 * | key / column   | required | meaning |
 * |----------------|----------|---------|
 * | `id`           | yes      | non-empty string, or an integer (JSONL) |
 * | `title`        | yes      | string; may be empty only when `description` is non-empty |
 * | `description`  | no       | string |
 * | `image_url`    | no       | string (`imageUrl` is accepted too in JSONL) |
 * | `language`     | no       | BCP-47 tag, e.g. `en`, `de`, `ja` (`lang` is accepted too) |
 * | `attributes`   | no       | JSONL: object whose values are strings, numbers, booleans or arrays of strings. CSV: a JSON object in the cell |
 * | `attr_<name>`  | no       | CSV only: attribute `<name>`; numeric text (`12`, `-0.5`, `1e3`, not `007`) becomes a number |
 * | anything else  | no       | a string value becomes a text field (`fields[key]`); in JSONL a number, boolean or string array becomes an attribute, `null` is ignored, a nested object is an error |
 *
 * Empty strings (and empty CSV cells) in optional keys count as absent. A repeated id is
 * DUPLICATE_ID naming both lines.
 *
 * ## Queries — `loadQueries(path)`, `.tsv`, `.jsonl` or `.csv`
 *
 * - `.tsv`: `id<TAB>text[<TAB>language]`, one query per line, no quoting (quotes are literal). An
 *   optional header line whose first field is `id` or `query_id` is skipped.
 * - `.jsonl`: `{"id": …, "text": "…", "language"?: "…"}` (`query` is accepted for `text`, `lang` for `language`). Other keys
 *   are ignored.
 * - `.csv`: header with `id` (or `query_id`), `text` (or `query`) and optional `language` (or `lang`).
 *
 * Text is kept exactly as written but must not be blank. A repeated id is DUPLICATE_ID.
 *
 * ## Judgments — `loadJudgments(path)`, TREC qrels or `.csv`
 *
 * - `.csv`: columns `query_id`, `item_id`, `grade` and optional `rater`. Without `rater`, each
 *   (query, item) pair may appear once (DUPLICATE_ID otherwise). With `rater`, all rows of a pair
 *   become one judgment with `raters: [{rater, grade}, …]` in file order and `grade` = the mean of
 *   the raters' grades (its line is the line of the pair's first row); one rater may grade a pair
 *   once.
 * - any other extension (`.qrels`, `.txt`, …): TREC qrels, `qid iter docno grade` separated by
 *   whitespace, one judgment per line; the `iter` column is ignored. Blank lines and lines starting
 *   with `#` are skipped. A repeated (qid, docno) pair is DUPLICATE_ID.
 *
 * Grades must be finite decimal numbers (`2`, `-1`, `0.5`); anything else is BAD_INPUT on field
 * "grade". Whether a grade is on the data set's scale is checked later by the scale mapping.
 *
 * ## Log events — `loadLogEvents(path)`, `.jsonl`
 *
 * `{"query": "…", "item_id": …, "action": "click", "position"?: 3, "time": …, …extra}`
 * - `query`: non-empty string (the query text); `item_id`: string or integer; `action`: non-empty
 *   string (`impression`, `click`, `long_click`, `save`, `purchase` or your own).
 * - `position`: 1-based integer (a number or digit string).
 * - `time`: epoch milliseconds (a number or a digit string) or ISO-8601 text
 *   (`2024-03-07`, `2024-03-07T10:15:00Z`, `2024-03-07T10:15:00.250+01:00`; without an offset the
 *   time is taken as UTC). Normalised to epoch ms.
 * - every other key goes to `extra`: strings and numbers as they are, booleans as `"true"`/`"false"`,
 *   arrays and objects as JSON text; `null` is dropped.
 */
import { extname } from 'node:path';
import { DistilrankError } from '../core/index.ts';
import type { Item, Judgment, LogEvent, Query, RaterGrade } from './records.ts';
import { readCsvRecords, readJsonl, readTextFile, readTsvRows, type CsvRecords } from './formats.ts';

/** Records loaded from one file; `records[i]` came from line `lines[i]` of `file`. */
export interface Loaded<T> {
  file: string;
  records: T[];
  lines: number[];
}

type Attributes = NonNullable<Item['attributes']>;
type AttrValue = Attributes[string];

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

function ext(path: string): string {
  return extname(path).toLowerCase();
}

function unsupported(path: string, kind: string, accepted: string): DistilrankError {
  return new DistilrankError('BAD_INPUT', `cannot tell the format of ${kind} file ${path} from its extension "${extname(path)}"`, {
    file: path,
    hint: `name the file with one of: ${accepted}`,
  });
}

function badField(file: string, line: number, field: string, message: string, hint?: string): DistilrankError {
  return new DistilrankError('BAD_INPUT', message, hint === undefined ? { file, line, field } : { file, line, field, hint });
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

/** An id from JSON: a non-empty string (trimmed) or an integer. */
function jsonId(v: unknown, file: string, line: number, field: string): string {
  if (typeof v === 'string') {
    const id = v.trim();
    if (id !== '') return id;
    throw badField(file, line, field, `"${field}" is empty`, `give every record a non-empty "${field}"`);
  }
  if (typeof v === 'number' && Number.isInteger(v)) {
    if (!Number.isSafeInteger(v)) {
      throw badField(
        file,
        line,
        field,
        `"${field}" ${v} is too large to be read exactly as a JSON number`,
        `write the id as a string, e.g. "${field}": "12345678901234567890"`,
      );
    }
    return String(v);
  }
  if (v === undefined) {
    throw badField(file, line, field, `missing required key "${field}"`, `add "${field}" to every line`);
  }
  throw badField(file, line, field, `"${field}" must be a string or an integer, found ${describe(v)}`);
}

/** A cell id from CSV/TSV: trimmed, non-empty. */
function cellId(v: string | undefined, file: string, line: number, field: string): string {
  const id = (v ?? '').trim();
  if (id === '') throw badField(file, line, field, `"${field}" is empty`, `give every row a non-empty "${field}"`);
  return id;
}

/** An optional string key from JSON; empty strings and null count as absent. */
function optString(obj: Record<string, unknown>, key: string, file: string, line: number): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badField(file, line, key, `"${key}" must be a string, found ${describe(v)}`);
  return v === '' ? undefined : v;
}

function requireColumns(csv: CsvRecords, file: string, columns: string[], example: string): void {
  for (const c of columns) {
    if (!csv.header.includes(c)) {
      throw new DistilrankError('BAD_INPUT', `the header has no "${c}" column (it has: ${csv.header.join(', ')})`, {
        file,
        line: csv.headerLine,
        field: c,
        hint: `the header row must name the columns, e.g. "${example}"`,
      });
    }
  }
}

class IdSet {
  private readonly seen = new Map<string, number>();
  private readonly file: string;
  private readonly field: string;
  private readonly what: string;
  constructor(file: string, field: string, what: string) {
    this.file = file;
    this.field = field;
    this.what = what;
  }
  add(id: string, line: number): void {
    const first = this.seen.get(id);
    if (first !== undefined) {
      throw new DistilrankError('DUPLICATE_ID', `${this.what} ${JSON.stringify(id)} appears again (first on line ${first})`, {
        file: this.file,
        line,
        field: this.field,
        hint: `remove or merge the repeated ${this.what}; it first appears on line ${first}`,
      });
    }
    this.seen.set(id, line);
  }
}

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const ATTR_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

// ---------------------------------------------------------------------------------------------
// Items
// ---------------------------------------------------------------------------------------------

const ITEM_KEYS = new Set(['id', 'title', 'description', 'image_url', 'imageUrl', 'language', 'lang', 'attributes']);

/** Load items from `.jsonl` or `.csv` (see the table at the top of this file). */
export function loadItems(path: string): Loaded<Item> {
  const e = ext(path);
  if (e === '.jsonl') return loadItemsJsonl(path);
  if (e === '.csv') return loadItemsCsv(path);
  throw unsupported(path, 'item', '.jsonl (one JSON object per line) or .csv (with a header row)');
}

function finishItem(item: Item, file: string, line: number, ids: IdSet): Item {
  if (item.title.trim() === '' && (item.description === undefined || item.description.trim() === '')) {
    throw badField(
      file,
      line,
      'title',
      `item ${JSON.stringify(item.id)} has an empty title and no description`,
      'give the item a title (or at least a description)',
    );
  }
  ids.add(item.id, line);
  return item;
}

function attrValue(v: unknown, file: string, line: number, field: string): AttrValue | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw badField(
    file,
    line,
    field,
    `attribute value must be a string, number, boolean or array of strings, found ${describe(v)}`,
    'flatten nested values into separate attributes',
  );
}

function loadItemsJsonl(file: string): Loaded<Item> {
  const records: Item[] = [];
  const lines: number[] = [];
  const ids = new IdSet(file, 'id', 'item id');
  for (const { line, value: o } of readJsonl(file)) {
    const id = jsonId(o.id, file, line, 'id');
    if (o.title === undefined || o.title === null) throw badField(file, line, 'title', 'missing required key "title"', 'add "title" to every item');
    if (typeof o.title !== 'string') throw badField(file, line, 'title', `"title" must be a string, found ${describe(o.title)}`);
    const item: Item = { id, title: o.title };
    const description = optString(o, 'description', file, line);
    if (description !== undefined) item.description = description;
    const imageUrl = optString(o, 'image_url', file, line) ?? optString(o, 'imageUrl', file, line);
    if (imageUrl !== undefined) item.imageUrl = imageUrl;
    const language = optString(o, 'language', file, line) ?? optString(o, 'lang', file, line);
    if (language !== undefined && language.trim() !== '') item.language = language.trim();

    const attributes: Attributes = {};
    if (o.attributes !== undefined && o.attributes !== null) {
      if (typeof o.attributes !== 'object' || Array.isArray(o.attributes)) {
        throw badField(
          file,
          line,
          'attributes',
          `"attributes" must be an object, found ${describe(o.attributes)}`,
          'write attributes as {"colour": "red", "weight_kg": 1.2}',
        );
      }
      for (const [k, v] of Object.entries(o.attributes as Record<string, unknown>)) {
        const a = attrValue(v, file, line, `attributes.${k}`);
        if (a !== undefined) attributes[k] = a;
      }
    }
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(o)) {
      if (ITEM_KEYS.has(k) || v === null || v === undefined) continue;
      if (typeof v === 'string') {
        if (v !== '') fields[k] = v;
        continue;
      }
      if (typeof v === 'object' && !Array.isArray(v)) {
        throw badField(
          file,
          line,
          k,
          `"${k}" must be a string, number, boolean or array of strings, found an object`,
          'put structured values under "attributes" as flat key/value pairs',
        );
      }
      const a = attrValue(v, file, line, k) as AttrValue;
      if (k in attributes) {
        throw badField(file, line, k, `"${k}" is given both at the top level and in "attributes"`, 'keep only one of the two');
      }
      attributes[k] = a;
    }
    if (Object.keys(fields).length > 0) item.fields = fields;
    if (Object.keys(attributes).length > 0) item.attributes = attributes;
    records.push(finishItem(item, file, line, ids));
    lines.push(line);
  }
  return { file, records, lines };
}

function loadItemsCsv(file: string): Loaded<Item> {
  const csv = readCsvRecords(file);
  requireColumns(csv, file, ['id', 'title'], 'id,title,description');
  const records: Item[] = [];
  const lines: number[] = [];
  const ids = new IdSet(file, 'id', 'item id');
  for (const { line, values } of csv.rows) {
    const item: Item = { id: cellId(values.id, file, line, 'id'), title: values.title ?? '' };
    if (values.description) item.description = values.description;
    if (values.image_url) item.imageUrl = values.image_url;
    const language = values.language || values.lang;
    if (language && language.trim()) item.language = language.trim();
    const attributes: Attributes = {};
    if (values.attributes) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(values.attributes);
      } catch {
        throw badField(
          file,
          line,
          'attributes',
          'the "attributes" cell is not valid JSON',
          'write a JSON object in the cell, e.g. "{""colour"": ""red""}", or use attr_<name> columns',
        );
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw badField(file, line, 'attributes', `the "attributes" cell must hold a JSON object, found ${describe(parsed)}`);
      }
      for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
        const a = attrValue(v, file, line, `attributes.${k}`);
        if (a !== undefined) attributes[k] = a;
      }
    }
    const fields: Record<string, string> = {};
    for (const column of csv.header) {
      if (ITEM_KEYS.has(column)) continue;
      const v = values[column];
      if (v === undefined || v === '') continue;
      if (column.startsWith('attr_') && column.length > 5) {
        const name = column.slice(5);
        attributes[name] = ATTR_NUMBER.test(v) ? Number(v) : v;
      } else fields[column] = v;
    }
    if (Object.keys(fields).length > 0) item.fields = fields;
    if (Object.keys(attributes).length > 0) item.attributes = attributes;
    records.push(finishItem(item, file, line, ids));
    lines.push(line);
  }
  return { file, records, lines };
}

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

/** Load queries from `.tsv`, `.jsonl` or `.csv` (see the top of this file). */
export function loadQueries(path: string): Loaded<Query> {
  const e = ext(path);
  if (e === '.tsv') return loadQueriesTsv(path);
  if (e === '.jsonl') return loadQueriesJsonl(path);
  if (e === '.csv') return loadQueriesCsv(path);
  throw unsupported(path, 'query', '.tsv (id<TAB>text[<TAB>language]), .jsonl ({"id", "text", "language"?}) or .csv');
}

function makeQuery(id: string, text: string, language: string | undefined, file: string, line: number, ids: IdSet): Query {
  if (text.trim() === '') throw badField(file, line, 'text', `query ${JSON.stringify(id)} has empty text`, 'give every query its text, or remove the line');
  ids.add(id, line);
  const q: Query = { id, text };
  if (language !== undefined && language.trim() !== '') q.language = language.trim();
  return q;
}

function loadQueriesTsv(file: string): Loaded<Query> {
  const rows = readTsvRows(file);
  const records: Query[] = [];
  const lines: number[] = [];
  const ids = new IdSet(file, 'id', 'query id');
  rows.forEach(({ line, fields }, k) => {
    if (k === 0) {
      const head = (fields[0] ?? '').trim().toLowerCase();
      if (head === 'id' || head === 'query_id') return;
    }
    if (fields.length < 2 || fields.length > 3) {
      throw new DistilrankError('BAD_INPUT', `expected 2 or 3 tab-separated fields (id, text, optional language), found ${fields.length}`, {
        file,
        line,
        hint: 'write each query as id<TAB>text or id<TAB>text<TAB>language; query text may not contain tabs',
      });
    }
    const id = cellId(fields[0], file, line, 'id');
    records.push(makeQuery(id, fields[1] ?? '', fields[2], file, line, ids));
    lines.push(line);
  });
  return { file, records, lines };
}

function loadQueriesJsonl(file: string): Loaded<Query> {
  const records: Query[] = [];
  const lines: number[] = [];
  const ids = new IdSet(file, 'id', 'query id');
  for (const { line, value: o } of readJsonl(file)) {
    const id = jsonId(o.id, file, line, 'id');
    const key = o.text === undefined && o.query !== undefined ? 'query' : 'text';
    const text = o[key];
    if (text === undefined || text === null) throw badField(file, line, 'text', 'missing required key "text"', 'add "text" (the query text) to every line');
    if (typeof text !== 'string') throw badField(file, line, key, `"${key}" must be a string, found ${describe(text)}`);
    const language = optString(o, 'language', file, line) ?? optString(o, 'lang', file, line);
    records.push(makeQuery(id, text, language, file, line, ids));
    lines.push(line);
  }
  return { file, records, lines };
}

function loadQueriesCsv(file: string): Loaded<Query> {
  const csv = readCsvRecords(file);
  const idCol = csv.header.includes('id') ? 'id' : 'query_id';
  const textCol = csv.header.includes('text') ? 'text' : 'query';
  requireColumns(csv, file, [idCol, textCol], 'id,text,language');
  const records: Query[] = [];
  const lines: number[] = [];
  const ids = new IdSet(file, idCol, 'query id');
  for (const { line, values } of csv.rows) {
    const id = cellId(values[idCol], file, line, idCol);
    records.push(makeQuery(id, values[textCol] ?? '', values.language || values.lang, file, line, ids));
    lines.push(line);
  }
  return { file, records, lines };
}

// ---------------------------------------------------------------------------------------------
// Judgments
// ---------------------------------------------------------------------------------------------

function parseGrade(raw: string, file: string, line: number): number {
  const s = raw.trim();
  const g = DECIMAL.test(s) ? Number(s) : NaN;
  if (!Number.isFinite(g)) {
    throw badField(
      file,
      line,
      'grade',
      `grade ${JSON.stringify(raw)} is not a number`,
      'grades must be numbers on the data set’s native scale, e.g. 0, 1, 2, 3',
    );
  }
  return g;
}

/** Load judgments from a `.csv` file or TREC qrels (any other extension). */
export function loadJudgments(path: string): Loaded<Judgment> {
  return ext(path) === '.csv' ? loadJudgmentsCsv(path) : loadJudgmentsQrels(path);
}

function pairKey(queryId: string, itemId: string): string {
  return `${queryId}\u0000${itemId}`;
}

function loadJudgmentsQrels(file: string): Loaded<Judgment> {
  const text = readTextFile(file);
  const records: Judgment[] = [];
  const lines: number[] = [];
  const pairs = new Map<string, number>();
  let line = 0;
  for (const raw of text.split('\n')) {
    line++;
    const s = raw.trim();
    if (s === '' || s.startsWith('#')) continue;
    const parts = s.split(/\s+/);
    if (parts.length !== 4) {
      throw new DistilrankError('BAD_INPUT', `expected 4 whitespace-separated fields (qid iter docno grade), found ${parts.length}`, {
        file,
        line,
        hint: 'TREC qrels lines look like "q1 0 doc7 2"; for a CSV with a header use the .csv extension',
      });
    }
    const [qid, , docno, gradeText] = parts as [string, string, string, string];
    const grade = parseGrade(gradeText, file, line);
    const key = pairKey(qid, docno);
    const first = pairs.get(key);
    if (first !== undefined) {
      throw new DistilrankError('DUPLICATE_ID', `query ${JSON.stringify(qid)} and item ${JSON.stringify(docno)} are judged again (first on line ${first})`, {
        file,
        line,
        field: 'docno',
        hint: `keep one judgment per (query, item) pair; the first is on line ${first}`,
      });
    }
    pairs.set(key, line);
    records.push({ queryId: qid, itemId: docno, grade });
    lines.push(line);
  }
  return { file, records, lines };
}

function loadJudgmentsCsv(file: string): Loaded<Judgment> {
  const csv = readCsvRecords(file);
  requireColumns(csv, file, ['query_id', 'item_id', 'grade'], 'query_id,item_id,grade,rater');
  const withRater = csv.header.includes('rater');
  const records: Judgment[] = [];
  const lines: number[] = [];
  // pair -> index in records; with raters, rater -> line for the pair
  const pairs = new Map<string, { index: number; line: number; raters: Map<string, number> }>();
  for (const { line, values } of csv.rows) {
    const queryId = cellId(values.query_id, file, line, 'query_id');
    const itemId = cellId(values.item_id, file, line, 'item_id');
    const grade = parseGrade(values.grade ?? '', file, line);
    const key = pairKey(queryId, itemId);
    const seen = pairs.get(key);
    if (!withRater) {
      if (seen !== undefined) {
        throw new DistilrankError(
          'DUPLICATE_ID',
          `query ${JSON.stringify(queryId)} and item ${JSON.stringify(itemId)} are judged again (first on line ${seen.line})`,
          {
            file,
            line,
            field: 'item_id',
            hint: `keep one row per (query, item) pair, or add a "rater" column when several raters grade a pair; the first is on line ${seen.line}`,
          },
        );
      }
      pairs.set(key, { index: records.length, line, raters: new Map() });
      records.push({ queryId, itemId, grade });
      lines.push(line);
      continue;
    }
    const rater = cellId(values.rater, file, line, 'rater');
    if (seen === undefined) {
      pairs.set(key, { index: records.length, line, raters: new Map([[rater, line]]) });
      records.push({ queryId, itemId, grade, raters: [{ rater, grade }] });
      lines.push(line);
      continue;
    }
    const prev = seen.raters.get(rater);
    if (prev !== undefined) {
      throw new DistilrankError(
        'DUPLICATE_ID',
        `rater ${JSON.stringify(rater)} grades query ${JSON.stringify(queryId)} and item ${JSON.stringify(itemId)} again (first on line ${prev})`,
        {
          file,
          line,
          field: 'rater',
          hint: `keep one grade per rater and pair; the first is on line ${prev}`,
        },
      );
    }
    seen.raters.set(rater, line);
    (records[seen.index]?.raters as RaterGrade[]).push({ rater, grade });
  }
  if (withRater) {
    for (const j of records) {
      const raters = j.raters ?? [];
      j.grade = raters.reduce((sum, r) => sum + r.grade, 0) / raters.length;
    }
  }
  return { file, records, lines };
}

// ---------------------------------------------------------------------------------------------
// Log events
// ---------------------------------------------------------------------------------------------

const LOG_KEYS = new Set(['query', 'item_id', 'action', 'position', 'time']);
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/** Epoch ms for an ISO-8601 date or date-time (UTC when no offset is given); NaN if invalid. */
export function parseIsoTime(s: string): number {
  const m = ISO_8601.exec(s.trim());
  if (m === null) return NaN;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [h, mi, sec] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  const ms = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth || h > 23 || mi > 59 || sec > 59) return NaN;
  let offsetMin = 0;
  const tz = m[8];
  if (tz !== undefined && tz.toUpperCase() !== 'Z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2) || '0');
    if (oh > 23 || om > 59) return NaN;
    offsetMin = sign * (oh * 60 + om);
  }
  const utc = new Date(0);
  utc.setUTCFullYear(y, mo - 1, d); // Date.UTC maps years 0–99 to 1900–1999
  utc.setUTCHours(h, mi, sec, ms);
  return utc.getTime() - offsetMin * 60_000;
}

function parseTime(v: unknown, file: string, line: number): number {
  const hint = 'write "time" as epoch milliseconds (1709806500000) or ISO-8601 text ("2024-03-07T10:15:00Z")';
  if (v === undefined || v === null) throw badField(file, line, 'time', 'missing required key "time"', hint);
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return v;
  } else if (typeof v === 'string') {
    const s = v.trim();
    if (/^\d+$/.test(s)) return Number(s);
    const t = parseIsoTime(s);
    if (Number.isFinite(t)) return t;
  }
  throw badField(file, line, 'time', `"time" is not epoch milliseconds or an ISO-8601 time: ${describe(v)}`, hint);
}

function requiredString(o: Record<string, unknown>, key: string, file: string, line: number, hint: string): string {
  const v = o[key];
  if (v === undefined || v === null) throw badField(file, line, key, `missing required key "${key}"`, hint);
  if (typeof v !== 'string') throw badField(file, line, key, `"${key}" must be a string, found ${describe(v)}`, hint);
  if (v.trim() === '') throw badField(file, line, key, `"${key}" is empty`, hint);
  return v;
}

/** Load search-log events from `.jsonl` (see the top of this file). */
export function loadLogEvents(path: string): Loaded<LogEvent> {
  if (ext(path) !== '.jsonl') throw unsupported(path, 'log event', '.jsonl (one JSON object per line)');
  const file = path;
  const records: LogEvent[] = [];
  const lines: number[] = [];
  for (const { line, value: o } of readJsonl(file)) {
    const queryText = requiredString(o, 'query', file, line, 'every event needs "query", the query text the user typed');
    const itemId = jsonId(o.item_id, file, line, 'item_id');
    const action = requiredString(o, 'action', file, line, 'every event needs "action", e.g. "impression", "click", "purchase"').trim();
    const time = parseTime(o.time, file, line);
    const event: LogEvent = { queryText, itemId, action, time };
    if (o.position !== undefined && o.position !== null) {
      const p = o.position;
      const n = typeof p === 'number' ? p : typeof p === 'string' && /^\s*\d+\s*$/.test(p) ? Number(p) : NaN;
      if (!Number.isInteger(n) || n < 1) {
        throw badField(
          file,
          line,
          'position',
          `"position" must be a 1-based integer, found ${describe(p)}`,
          'positions start at 1 for the top result; omit the key when unknown',
        );
      }
      event.position = n;
    }
    const extra: Record<string, string | number> = {};
    for (const [k, v] of Object.entries(o)) {
      if (LOG_KEYS.has(k) || v === null || v === undefined) continue;
      if (typeof v === 'string') extra[k] = v;
      else if (typeof v === 'number') extra[k] = v;
      else if (typeof v === 'boolean') extra[k] = String(v);
      else extra[k] = JSON.stringify(v);
    }
    if (Object.keys(extra).length > 0) event.extra = extra;
    records.push(event);
    lines.push(line);
  }
  return { file, records, lines };
}

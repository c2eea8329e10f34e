/**
 * Low-level readers for the text files users bring: UTF-8 text, CSV/TSV and JSON Lines.
 *
 * Every problem is reported as a {@link DistilrankError} that names the file and the 1-based line
 * (and, where it applies, the field), so a user can jump straight to the bad spot.
 *
 * - Text: files must be UTF-8. A UTF-8 byte-order mark is stripped. A UTF-16/UTF-32 BOM, a
 *   gzip-compressed file, NUL bytes near the start or any invalid UTF-8 sequence is a
 *   BAD_ENCODING error naming the line (and byte column) of the first bad byte.
 * - CSV (`quoting: 'rfc4180'`, the default for {@link parseCsv} and {@link readCsvRecords}):
 *   RFC 4180 — fields may be wrapped in double quotes, a quoted field may contain the delimiter,
 *   line breaks and doubled quotes (`""` → `"`); records end with LF, CRLF or a lone CR. A quote
 *   inside an unquoted field is kept literally (`5" screen`). Text after a closing quote other than
 *   the delimiter or a line break, and a quote that is never closed, are BAD_INPUT errors. Empty
 *   lines between records are skipped (so a one-column file cannot hold an empty value).
 * - TSV (`quoting: 'none'`, the default for {@link readTsvRecords}): one record per line, fields
 *   split on tabs, quotes are ordinary characters — query text often contains quotes, and most TSV
 *   writers (MS MARCO, TREC tools, `cut`) never quote. Pass `{ quoting: 'rfc4180' }` for TSV files
 *   written by spreadsheet programs that quote fields.
 * - JSON Lines: one JSON object per line; blank lines are skipped; LF or CRLF line endings.
 */
import { readFileSync } from 'node:fs';
import { DistilrankError } from '../core/index.ts';

// ---------------------------------------------------------------------------------------------
// Text and encoding
// ---------------------------------------------------------------------------------------------

/** Read a whole file as UTF-8 text (BOM stripped). Throws FILE_NOT_FOUND or BAD_ENCODING. */
export function readTextFile(path: string): string {
  const bytes = readFileBytes(path);
  return decodeUtf8(bytes, path);
}

function readFileBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new DistilrankError('FILE_NOT_FOUND', 'file not found', {
        file: path,
        hint: 'check the path (relative paths are resolved from the current directory)',
      });
    }
    if (code === 'EISDIR') {
      throw new DistilrankError('BAD_INPUT', `${path} is a directory, not a file`, {
        file: path,
        hint: 'pass the path of a file inside it',
      });
    }
    const message = e instanceof Error ? e.message : String(e);
    throw new DistilrankError('BAD_INPUT', `cannot read ${path}: ${message}`, {
      file: path,
      hint: 'check that the file exists and is readable',
    });
  }
}

const UTF8_DECODER = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decode bytes as strict UTF-8 for `file` (used in error messages). Strips a UTF-8 BOM; rejects
 * UTF-16/32 BOMs, gzip data and invalid sequences with BAD_ENCODING naming the line.
 */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  const b0 = bytes[0];
  const b1 = bytes[1];
  if ((b0 === 0xff && b1 === 0xfe) || (b0 === 0xfe && b1 === 0xff)) {
    const which = b0 === 0xff ? 'UTF-16LE' : 'UTF-16BE';
    throw new DistilrankError('BAD_ENCODING', `the file is ${which} (it starts with a ${which} byte-order mark), not UTF-8`, {
      file,
      line: 1,
      hint: `convert it: iconv -f UTF-16 -t UTF-8 ${file} > ${file}.utf8`,
    });
  }
  if (b0 === 0x1f && b1 === 0x8b) {
    throw new DistilrankError('BAD_ENCODING', 'the file is gzip-compressed, not UTF-8 text', {
      file,
      line: 1,
      hint: `decompress it first: gunzip -k ${file}`,
    });
  }
  const start = b0 === 0xef && b1 === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const body = start === 0 ? bytes : bytes.subarray(start);
  // UTF-16 without a BOM decodes as "valid" UTF-8 full of NUL bytes; catch it early.
  const nul = body.subarray(0, 4096).indexOf(0);
  if (nul >= 0) {
    const { line, column } = lineOf(bytes, start + nul);
    throw new DistilrankError(
      'BAD_ENCODING',
      `the file contains a NUL byte at line ${line}, column ${column}; it is probably UTF-16 or binary, not UTF-8 text`,
      {
        file,
        line,
        hint: `if it is UTF-16 text, convert it: iconv -f UTF-16 -t UTF-8 ${file} > ${file}.utf8`,
      },
    );
  }
  try {
    return UTF8_DECODER.decode(body);
  } catch {
    const bad = start + firstInvalidUtf8(body);
    const { line, column } = lineOf(bytes, bad);
    const byte = (bytes[bad] ?? 0).toString(16).toUpperCase().padStart(2, '0');
    throw new DistilrankError('BAD_ENCODING', `not valid UTF-8: byte 0x${byte} at line ${line}, column ${column}`, {
      file,
      line,
      hint: `save the file as UTF-8; if it is Latin-1 (ISO-8859-1/Windows-1252), convert it: iconv -f latin1 -t utf-8 ${file} > ${file}.utf8`,
    });
  }
}

/** 1-based line and byte column of byte offset `at`. */
function lineOf(bytes: Uint8Array, at: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = bytes.indexOf(0x0a); i >= 0 && i < at; i = bytes.indexOf(0x0a, i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: at - lineStart + 1 };
}

/** Offset of the first byte that starts an invalid UTF-8 sequence (bytes.length if none). */
function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0; // no overlongs
      if (b === 0xed) hi = 0x9f; // no surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90; // no overlongs
      if (b === 0xf4) hi = 0x8f; // <= U+10FFFF
    } else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined) return i;
      if (k === 1 ? c < lo || c > hi : c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// CSV / TSV
// ---------------------------------------------------------------------------------------------

export interface CsvOptions {
  /** One character; ',' by default. */
  delimiter?: string;
  /**
   * 'rfc4180': double quotes wrap fields (default for CSV). 'none': quotes are literal characters
   * and every line is one record split on the delimiter (default for TSV).
   */
  quoting?: 'rfc4180' | 'none';
}

/** One parsed record: its fields and the 1-based line it starts on. */
export interface CsvRow {
  line: number;
  fields: string[];
}

/** A delimited file read with its header row. */
export interface CsvRecords {
  /** Column names from the header row (trimmed). */
  header: string[];
  /** 1-based line of the header row. */
  headerLine: number;
  /** Data rows, keyed by column name, with the line each record starts on. */
  rows: Array<{ line: number; values: Record<string, string> }>;
}

const QUOTE = 34;
const LF = 10;
const CR = 13;

/**
 * Split delimited text into records in one pass. `file` is only used in error messages. Field
 * counts are not checked here (see {@link csvRecords}).
 */
export function parseCsv(text: string, file: string, opts: CsvOptions = {}): CsvRow[] {
  const delimiter = opts.delimiter ?? ',';
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new DistilrankError('BAD_OPTION', `invalid CSV delimiter ${JSON.stringify(delimiter)}`, {
      field: 'delimiter',
      hint: 'use a single character other than a quote or a line break, e.g. "," or "\\t"',
    });
  }
  const quoted = (opts.quoting ?? 'rfc4180') === 'rfc4180';
  const d = delimiter.charCodeAt(0);
  const n = text.length;
  const rows: CsvRow[] = [];
  let i = 0;
  let line = 1;

  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let sawQuote = false;
    for (;;) {
      let value: string;
      if (quoted && text.charCodeAt(i) === QUOTE) {
        sawQuote = true;
        const openLine = line;
        const openAt = i;
        value = '';
        let j = i + 1;
        for (;;) {
          const q = text.indexOf('"', j);
          if (q < 0) {
            throw new DistilrankError('BAD_INPUT', `unterminated quoted field (field ${fields.length + 1} opens a quote that is never closed)`, {
              file,
              line: openLine,
              hint: 'close the quote; a quote inside a quoted field must be doubled ("")',
            });
          }
          value += text.slice(j, q);
          if (text.charCodeAt(q + 1) === QUOTE) {
            value += '"';
            j = q + 2;
            continue;
          }
          j = q + 1;
          break;
        }
        line += countLineBreaks(text, openAt, j);
        i = j;
        const c = text.charCodeAt(i);
        if (i < n && c !== d && c !== LF && c !== CR) {
          throw new DistilrankError('BAD_INPUT', `unexpected text after the closing quote of field ${fields.length + 1}`, {
            file,
            line,
            hint: 'a quote inside a quoted field must be doubled (""); nothing may follow the closing quote except the delimiter',
          });
        }
      } else {
        let j = i;
        while (j < n) {
          const c = text.charCodeAt(j);
          if (c === d || c === LF || c === CR) break;
          j++;
        }
        value = text.slice(i, j);
        i = j;
      }
      fields.push(value);
      const c = text.charCodeAt(i);
      if (c === d) {
        i++;
        continue;
      }
      if (c === CR) {
        i++;
        if (text.charCodeAt(i) === LF) i++;
        line++;
      } else if (c === LF) {
        i++;
        line++;
      }
      break; // end of record (or of the text)
    }
    if (fields.length === 1 && fields[0] === '' && !sawQuote) continue; // an empty line
    rows.push({ line: startLine, fields });
  }
  return rows;
}

function countLineBreaks(text: string, from: number, to: number): number {
  let count = 0;
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k);
    if (c === LF) count++;
    else if (c === CR && text.charCodeAt(k + 1) !== LF) count++;
  }
  return count;
}

/**
 * Parse delimited text with a header row into named records. Every row must have as many fields
 * as the header (BAD_INPUT naming the line otherwise); column names must be unique and non-empty.
 */
export function csvRecords(text: string, file: string, opts: CsvOptions = {}): CsvRecords {
  const rows = parseCsv(text, file, opts);
  const first = rows[0];
  if (first === undefined) {
    throw new DistilrankError('BAD_INPUT', 'the file is empty; expected a header row naming the columns', {
      file,
      line: 1,
      hint: 'add a header row, e.g. "id,title"',
    });
  }
  const header = first.fields.map((h) => h.trim());
  const seen = new Map<string, number>();
  header.forEach((name, k) => {
    if (name === '') {
      throw new DistilrankError('BAD_INPUT', `header column ${k + 1} has no name`, {
        file,
        line: first.line,
        hint: 'give every column a name in the header row',
      });
    }
    const prev = seen.get(name);
    if (prev !== undefined) {
      throw new DistilrankError('BAD_INPUT', `header names column "${name}" twice (columns ${prev + 1} and ${k + 1})`, {
        file,
        line: first.line,
        field: name,
        hint: 'rename or remove one of the two columns',
      });
    }
    seen.set(name, k);
  });
  const out: CsvRecords['rows'] = [];
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r] as CsvRow;
    if (row.fields.length !== header.length) {
      const delim = opts.delimiter ?? ',';
      const quoting = (opts.quoting ?? 'rfc4180') === 'rfc4180';
      throw new DistilrankError('BAD_INPUT', `row has ${row.fields.length} fields but the header has ${header.length}`, {
        file,
        line: row.line,
        hint: quoting
          ? `wrap values that contain ${delim === '\t' ? 'tabs' : `"${delim}"`} or line breaks in double quotes`
          : 'every line must have one value per header column, separated by tabs',
      });
    }
    const values: Record<string, string> = {};
    for (let k = 0; k < header.length; k++) values[header[k] as string] = row.fields[k] as string;
    out.push({ line: row.line, values });
  }
  return { header, headerLine: first.line, rows: out };
}

/** Read a CSV file (RFC 4180 quoting, ',' unless `opts.delimiter` says otherwise) with a header. */
export function readCsvRecords(path: string, opts: CsvOptions = {}): CsvRecords {
  return csvRecords(readTextFile(path), path, opts);
}

/** Read a TSV file with a header; quotes are literal unless `opts.quoting` is 'rfc4180'. */
export function readTsvRecords(path: string, opts: Omit<CsvOptions, 'delimiter'> = {}): CsvRecords {
  return csvRecords(readTextFile(path), path, { delimiter: '\t', quoting: opts.quoting ?? 'none' });
}

/** Read a header-less TSV file as raw rows; quotes are literal unless `opts.quoting` is 'rfc4180'. */
export function readTsvRows(path: string, opts: Omit<CsvOptions, 'delimiter'> = {}): CsvRow[] {
  return parseCsv(readTextFile(path), path, { delimiter: '\t', quoting: opts.quoting ?? 'none' });
}

// ---------------------------------------------------------------------------------------------
// JSON Lines
// ---------------------------------------------------------------------------------------------

export interface JsonlRow {
  line: number;
  value: Record<string, unknown>;
}

/** Parse JSON Lines text: one JSON object per non-blank line. */
export function parseJsonl(text: string, file: string): JsonlRow[] {
  const out: JsonlRow[] = [];
  const n = text.length;
  let start = 0;
  let line = 0;
  while (start < n) {
    line++;
    let end = text.indexOf('\n', start);
    if (end < 0) end = n;
    let stop = end;
    if (stop > start && text.charCodeAt(stop - 1) === CR) stop--;
    const raw = text.slice(start, stop);
    start = end + 1;
    if (raw.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new DistilrankError('BAD_INPUT', `invalid JSON: ${why}`, {
        file,
        line,
        hint: 'each line must be one complete JSON object, e.g. {"id": "1", "title": "…"}; objects may not span lines',
      });
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
      throw new DistilrankError('BAD_INPUT', `expected a JSON object, found ${kind}`, {
        file,
        line,
        hint: 'each line must be one JSON object ({…}); a JSON array file is not JSON Lines',
      });
    }
    out.push({ line, value: value as Record<string, unknown> });
  }
  return out;
}

/** Read a JSON Lines file: `{ line, value }` for each non-blank line. */
export function readJsonl(path: string): JsonlRow[] {
  return parseJsonl(readTextFile(path), path);
}

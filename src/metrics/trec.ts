/**
 * TREC run and qrels files, the formats trec_eval, ranx and ir_measures read, so distilrank runs
 * can be checked with those tools and their runs evaluated here.
 *   run:   `qid Q0 docno rank score tag`  (trec_eval ranks by score; the rank column is ignored)
 *   qrels: `qid iter docno rel`           (rel an integer; iter is ignored)
 * Fields are separated by whitespace, so ids must not contain any. Writes are atomic.
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic, DistilrankError } from '../core/index.ts';
import { sortRanking, type Qrels, type Run, type ScoredItem } from './measures.ts';

const RUN_FIELDS = ['qid', 'Q0', 'docno', 'rank', 'score', 'tag'] as const;
const QRELS_FIELDS = ['qid', 'iter', 'docno', 'rel'] as const;
const INTEGER_RE = /^[+-]?[0-9]+$/;
const NUMBER_RE = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function checkToken(kind: string, value: string): void {
  if (value === '' || /\s/.test(value)) {
    throw new DistilrankError('BAD_INPUT', `${kind} ${JSON.stringify(value)} is empty or contains whitespace`, {
      field: kind,
      hint: 'TREC files separate fields by whitespace: use ids without spaces (e.g. replace them with "_")',
    });
  }
}

/**
 * The run as TREC text: queries in code-unit order, each query's items in sortRanking order with
 * ranks 1.., scores written as the shortest text that reads back to the same number. A query with
 * no items writes no line (TREC has no way to say "retrieved nothing").
 */
export function formatRun(run: Run, tag: string): string {
  checkToken('tag', tag);
  const lines: string[] = [];
  for (const qid of [...run.keys()].sort(byCodeUnit)) {
    checkToken('qid', qid);
    sortRanking(run.get(qid)!).forEach((it, i) => {
      checkToken('docno', it.itemId);
      if (!Number.isFinite(it.score)) {
        throw new DistilrankError('BAD_INPUT', `query "${qid}" item "${it.itemId}" has score ${it.score}`, {
          field: 'score',
          hint: 'TREC scores must be finite numbers',
        });
      }
      lines.push(`${qid} Q0 ${it.itemId} ${i + 1} ${it.score} ${tag}`);
    });
  }
  return lines.map((l) => `${l}\n`).join('');
}

/** The qrels as TREC text (iter column 0), queries and items in code-unit order. */
export function formatQrels(qrels: Qrels): string {
  const lines: string[] = [];
  for (const qid of [...qrels.keys()].sort(byCodeUnit)) {
    checkToken('qid', qid);
    const gains = qrels.get(qid)!;
    for (const docno of [...gains.keys()].sort(byCodeUnit)) {
      checkToken('docno', docno);
      const rel = gains.get(docno)!;
      if (!Number.isInteger(rel)) {
        throw new DistilrankError('BAD_INPUT', `query "${qid}" item "${docno}" has relevance ${rel}, not an integer`, {
          field: 'rel',
          hint: 'TREC qrels hold integer grades; map the grades onto integers first',
        });
      }
      lines.push(`${qid} 0 ${docno} ${rel}\n`);
    }
  }
  return lines.join('');
}

export function writeRun(path: string, run: Run, tag: string): void {
  writeAtomic(path, formatRun(run, tag));
}

export function writeQrels(path: string, qrels: Qrels): void {
  writeAtomic(path, formatQrels(qrels));
}

/** Read a TREC run. Malformed lines are BAD_INPUT; an item listed twice for a query is DUPLICATE_ID. */
export function readRun(path: string): Run {
  const run: Run = new Map();
  const seen = new Map<string, number>();
  for (const { line, fields } of readFields(path, RUN_FIELDS)) {
    const [qid, , docno, rank, score] = fields as [string, string, string, string, string];
    if (!INTEGER_RE.test(rank)) throw badField(path, line, 'rank', rank, 'an integer');
    if (!NUMBER_RE.test(score)) throw badField(path, line, 'score', score, 'a finite number');
    checkDuplicate(path, line, seen, qid, docno);
    const items: ScoredItem[] = run.get(qid) ?? [];
    items.push({ itemId: docno, score: Number(score) });
    run.set(qid, items);
  }
  return run;
}

/** Read TREC qrels. Malformed lines are BAD_INPUT; a (qid, docno) judged twice is DUPLICATE_ID. */
export function readQrels(path: string): Qrels {
  const qrels: Qrels = new Map();
  const seen = new Map<string, number>();
  for (const { line, fields } of readFields(path, QRELS_FIELDS)) {
    const [qid, , docno, rel] = fields as [string, string, string, string];
    if (!INTEGER_RE.test(rel)) throw badField(path, line, 'rel', rel, 'an integer');
    checkDuplicate(path, line, seen, qid, docno);
    const gains = qrels.get(qid) ?? new Map<string, number>();
    gains.set(docno, Number(rel));
    qrels.set(qid, gains);
  }
  return qrels;
}

/** Non-blank lines split on whitespace, each with exactly `names.length` fields. */
function readFields(path: string, names: readonly string[]): Array<{ line: number; fields: string[] }> {
  const out: Array<{ line: number; fields: string[] }> = [];
  const lines = readText(path).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const trimmed = lines[i]!.trim();
    if (trimmed === '') continue;
    const fields = trimmed.split(/\s+/);
    if (fields.length !== names.length) {
      throw new DistilrankError('BAD_INPUT', `expected ${names.length} fields, found ${fields.length}`, {
        file: path,
        line: i + 1,
        hint: `each line must read: ${names.join(' ')}`,
      });
    }
    out.push({ line: i + 1, fields });
  }
  return out;
}

function readText(path: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DistilrankError('FILE_NOT_FOUND', 'no such file', { file: path, hint: 'check the path' });
    }
    throw e;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new DistilrankError('BAD_ENCODING', 'the file is not valid UTF-8', {
      file: path,
      hint: 're-encode the file as UTF-8',
    });
  }
}

function badField(file: string, line: number, field: string, value: string, expected: string): DistilrankError {
  return new DistilrankError('BAD_INPUT', `${field} ${JSON.stringify(value)} is not ${expected}`, {
    file,
    line,
    field,
    hint: `write ${field} as ${expected}`,
  });
}

function checkDuplicate(file: string, line: number, seen: Map<string, number>, qid: string, docno: string): void {
  // The key cannot collide: fields never contain whitespace, so a space separates them unambiguously.
  const key = `${qid} ${docno}`;
  const first = seen.get(key);
  if (first !== undefined) {
    throw new DistilrankError('DUPLICATE_ID', `query "${qid}" lists item "${docno}" again (first on line ${first})`, {
      file,
      line,
      field: 'docno',
      hint: 'keep one line per (qid, docno)',
    });
  }
  seen.set(key, line);
}

/** Write atomically; a missing output folder is FILE_NOT_FOUND. */
function writeAtomic(path: string, text: string): void {
  try {
    writeFileAtomic(path, text);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DistilrankError('FILE_NOT_FOUND', `folder ${dirname(path)} does not exist`, {
        file: path,
        hint: 'create the output folder first',
      });
    }
    throw e;
  }
}

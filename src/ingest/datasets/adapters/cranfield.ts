/**
 * cranfield: the Cranfield II collection, read from its original SMART-format files in `raw/` (the
 * files the public download fetches). Query ids are 1..225 in file order, the numbering cranqrel
 * uses (cran.qry's own `.I` numbers have gaps). Grades are Cleverdon's codes, lower = better.
 */
import { DistilrankError } from '../../../core/index.ts';
import { readTextFile } from '../../formats.ts';
import type { Item, Judgment, Query, DatasetBundle, Sourced } from '../../records.ts';
import { CRANFIELD_CODES } from '../scales.ts';
import { requireFile } from './common.ts';

export const CRANFIELD_FILES = ['raw/cran.all.1400', 'raw/cran.qry', 'raw/cranqrel'];

interface SmartRecord {
  id: string;
  line: number;
  fields: Record<string, string>;
}

/** Parse SMART format: `.I id` starts a record, `.X` starts field X, other lines continue it. */
export function parseSmart(text: string, file: string): SmartRecord[] {
  const out: SmartRecord[] = [];
  let current: SmartRecord | null = null;
  let field: string | null = null;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const m = /^\.([A-Z])(?:\s+(.*))?$/.exec(raw);
    if (m && m[1] === 'I') {
      current = { id: (m[2] ?? '').trim(), line: i + 1, fields: {} };
      out.push(current);
      field = null;
    } else if (m) {
      if (!current)
        throw new DistilrankError('BAD_INPUT', `field .${m[1]} before any .I record`, {
          file,
          line: i + 1,
          hint: 'SMART files start each record with ".I id"',
        });
      field = m[1]!;
      (current as SmartRecord).fields[field] = (m[2] ?? '').trim();
    } else if (current && field) {
      const rec = current as SmartRecord;
      rec.fields[field] = `${rec.fields[field] ?? ''} ${raw.trim()}`.trim();
    }
  });
  return out;
}

export function loadCranfield(dir: string): DatasetBundle {
  const name = 'cranfield';
  const docsPath = requireFile(dir, 'raw/cran.all.1400', name);
  const qryPath = requireFile(dir, 'raw/cran.qry', name);
  const qrelPath = requireFile(dir, 'raw/cranqrel', name);
  const items: Sourced<Item>[] = parseSmart(readTextFile(docsPath), docsPath).map((d) => ({
    id: d.id,
    title: d.fields.T ?? '',
    ...(d.fields.W ? { description: d.fields.W } : {}),
    attributes: { authors: d.fields.A ?? '', bib: d.fields.B ?? '' },
    language: 'en',
    origin: { file: docsPath, line: d.line },
  }));
  const queries: Sourced<Query>[] = parseSmart(readTextFile(qryPath), qryPath).map((q, i) => ({
    id: String(i + 1),
    text: q.fields.W ?? '',
    language: 'en',
    origin: { file: qryPath, line: q.line },
  }));
  const judgments: Sourced<Judgment>[] = [];
  readTextFile(qrelPath)
    .split(/\r?\n/)
    .forEach((raw, i) => {
      if (!raw.trim()) return;
      const parts = raw.trim().split(/\s+/);
      const grade = Number(parts[2]);
      if (parts.length < 3 || !Number.isInteger(grade)) {
        throw new DistilrankError('BAD_INPUT', `expected "query doc code", got "${raw.trim()}"`, {
          file: qrelPath,
          line: i + 1,
          field: 'code',
          hint: 'cranqrel lines are: query_number doc_id code',
        });
      }
      judgments.push({ queryId: parts[0]!, itemId: parts[1]!, grade, source: 'cleverdon', origin: { file: qrelPath, line: i + 1 } });
    });
  return {
    name,
    description: 'Cranfield II: 1,400 aeronautics abstracts, 225 questions, Cleverdon relevance codes',
    source: dir,
    mapping: CRANFIELD_CODES,
    defaultJudgmentSet: 'cleverdon',
    items,
    queries,
    judgments,
  };
}

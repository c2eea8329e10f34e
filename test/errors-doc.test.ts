/**
 * docs/errors.md documents every error code users can see — the CLI's (ERROR_CODES, src/core) and the
 * search service's (API_ERRORS, src/serve): each appears as a heading (`## BAD_INPUT`,
 * `### \`BAD_INPUT\``) or in a table row (`| BAD_INPUT | … |`, `| \`error[BAD_INPUT]\` | … |`); prose
 * and code blocks do not count. Each service code also has a table row whose first cell is the code
 * and which states its HTTP status in a cell of its own.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/core/index.ts';
import { API_ERRORS } from '../src/serve/index.ts';
import { REPO_ROOT } from './helpers.ts';

const DOC = join(REPO_ROOT, 'docs', 'errors.md');

const CODE_TOKEN = /(?<![A-Za-z0-9_])[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*(?![A-Za-z0-9_])/g;

/** The lines outside fenced code blocks, trimmed. */
function proseLines(markdown: string): string[] {
  const out: string[] = [];
  let inFence = false;
  for (const raw of markdown.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('```')) {
      inFence = !inFence;
      continue;
    }
    if (!inFence) out.push(line);
  }
  return out;
}

const isTableRow = (line: string): boolean => /^\|.*\|$/.test(line);

function documentedCodes(markdown: string): Set<string> {
  const found = new Set<string>();
  for (const line of proseLines(markdown)) {
    // a heading, or a table row (any cell): every UPPER_SNAKE token in it counts
    if (/^#{1,6}\s/.test(line) || isTableRow(line)) {
      for (const m of line.matchAll(CODE_TOKEN)) found.add(m[0]);
    }
  }
  return found;
}

/** Table rows keyed by the code in their first cell (backticks and bold stripped): code → the row's cells. */
function tableRowsByCode(markdown: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of proseLines(markdown)) {
    if (!isTableRow(line)) continue;
    const cells = line
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
    const first = cells[0]!.replace(/[`*]/g, '');
    if (/^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/.test(first) && !rows.has(first)) rows.set(first, cells);
  }
  return rows;
}

describe('docs/errors.md', () => {
  it('exists', () => {
    expect(existsSync(DOC), `${DOC} is missing`).toBe(true);
  });

  it('lists every CLI error code (ERROR_CODES) as a heading or a table row', () => {
    const documented = documentedCodes(readFileSync(DOC, 'utf8'));
    const missing = Object.keys(ERROR_CODES).filter((code) => !documented.has(code));
    expect(missing, `codes missing from docs/errors.md: ${missing.join(', ')}`).toEqual([]);
  });

  it('lists every service error code (API_ERRORS) as a heading or a table row', () => {
    const documented = documentedCodes(readFileSync(DOC, 'utf8'));
    const missing = Object.keys(API_ERRORS).filter((code) => !documented.has(code));
    expect(missing, `API codes missing from docs/errors.md: ${missing.join(', ')}`).toEqual([]);
  });

  it('gives each service error code a table row with its HTTP status', () => {
    const rows = tableRowsByCode(readFileSync(DOC, 'utf8'));
    const wrong = Object.entries(API_ERRORS)
      .filter(([code, { status }]) => !rows.get(code)?.slice(1).includes(String(status)))
      .map(([code, { status }]) => `${code} (status ${status}; row: ${rows.get(code)?.join(' | ') ?? 'none'})`);
    expect(wrong, `service codes without a table row stating their status: ${wrong.join('; ')}`).toEqual([]);
  });

  it('keeps the two catalogues apart (no code is both a CLI and a service code)', () => {
    expect(Object.keys(API_ERRORS).filter((code) => code in ERROR_CODES)).toEqual([]);
  });
});

describe('documentedCodes and tableRowsByCode (the parsers this test relies on)', () => {
  const md = [
    '# Errors',
    '## BAD_INPUT',
    '### `BAD_ENCODING` — not UTF-8',
    '| code | meaning |',
    '|------|---------|',
    '| `DUPLICATE_ID` | twice |',
    '| **UNKNOWN_NAME** | name |',
    '| 7 | `error[NOT_DOWNLOADABLE]` |',
    '| `NOT_READY` | 503 | artifacts not loaded \\| shutting down |',
    '| `RATE_LIMITED` | too many, 429 |',
    'Prose mentioning STORE_VERSION does not count.',
    '```',
    '## FILE_NOT_FOUND',
    '| `INTERNAL` | 500 | in a code block |',
    '```',
  ].join('\n');

  it('finds codes in headings and table rows, not in prose or code blocks', () => {
    const codes = documentedCodes(md);
    for (const c of ['BAD_INPUT', 'BAD_ENCODING', 'DUPLICATE_ID', 'UNKNOWN_NAME', 'NOT_DOWNLOADABLE', 'NOT_READY']) expect(codes.has(c)).toBe(true);
    expect(codes.has('BAD')).toBe(false); // whole tokens only
    expect(codes.has('STORE_VERSION')).toBe(false);
    expect(codes.has('FILE_NOT_FOUND')).toBe(false);
    expect(codes.has('INTERNAL')).toBe(false);
  });

  it('keys table rows by the code in their first cell, with the cells split on unescaped pipes', () => {
    const rows = tableRowsByCode(md);
    expect(rows.get('NOT_READY')).toEqual(['`NOT_READY`', '503', 'artifacts not loaded \\| shutting down']);
    expect(rows.get('UNKNOWN_NAME')).toEqual(['**UNKNOWN_NAME**', 'name']);
    // a status inside a longer cell is not a status cell
    expect(rows.get('RATE_LIMITED')?.slice(1).includes('429')).toBe(false);
    expect(rows.has('NOT_DOWNLOADABLE')).toBe(false); // not the first cell
    expect(rows.has('INTERNAL')).toBe(false); // in a code block
  });
});

/**
 * docs/errors.md documents every error code users can see: each code in ERROR_CODES appears as a
 * heading (`## BAD_INPUT`, `### \`BAD_INPUT\``) or in a table row (`| BAD_INPUT | … |`,
 * `| \`error[BAD_INPUT]\` | … |`); prose and code blocks do not count.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/core/errors.ts';
import { REPO_ROOT } from './helpers.ts';

const DOC = join(REPO_ROOT, 'docs', 'errors.md');

function documentedCodes(markdown: string): Set<string> {
  const found = new Set<string>();
  let inFence = false;
  for (const raw of markdown.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('```')) {
      inFence = !inFence;
      continue;
    }
    if (inFence) continue;
    // a heading, or a table row (any cell): every UPPER_SNAKE token in it counts
    if (/^#{1,6}\s/.test(line) || /^\|.*\|$/.test(line)) {
      for (const m of line.matchAll(/(?<![A-Za-z0-9_])[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*(?![A-Za-z0-9_])/g)) found.add(m[0]);
    }
  }
  return found;
}

describe('docs/errors.md', () => {
  it('exists', () => {
    expect(existsSync(DOC), `${DOC} is missing`).toBe(true);
  });

  it('lists every error code as a heading or a table row', () => {
    const documented = documentedCodes(readFileSync(DOC, 'utf8'));
    const missing = Object.keys(ERROR_CODES).filter((code) => !documented.has(code));
    expect(missing, `codes missing from docs/errors.md: ${missing.join(', ')}`).toEqual([]);
  });
});

describe('documentedCodes (the parser this test relies on)', () => {
  it('finds codes in headings and table rows, not in prose or code blocks', () => {
    const md = [
      '# Errors',
      '## BAD_INPUT',
      '### `BAD_ENCODING` — not UTF-8',
      '| code | meaning |',
      '|------|---------|',
      '| `DUPLICATE_ID` | twice |',
      '| **UNKNOWN_NAME** | name |',
      '| 7 | `error[NOT_DOWNLOADABLE]` |',
      'Prose mentioning STORE_VERSION does not count.',
      '```',
      '## FILE_NOT_FOUND',
      '```',
    ].join('\n');
    const codes = documentedCodes(md);
    for (const c of ['BAD_INPUT', 'BAD_ENCODING', 'DUPLICATE_ID', 'UNKNOWN_NAME', 'NOT_DOWNLOADABLE']) expect(codes.has(c)).toBe(true);
    expect(codes.has('BAD')).toBe(false); // whole tokens only
    expect(codes.has('STORE_VERSION')).toBe(false);
    expect(codes.has('FILE_NOT_FOUND')).toBe(false);
  });
});

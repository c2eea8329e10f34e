import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DistilrankError } from '../../../core/index.ts';

/** Whitespace-normalised query text (the identity of a query in text-only judgment files). */
export function normaliseQueryText(text: string): string {
  return text.trim().replace(/\s+/g, ' ');
}

/**
 * A stable id for a query known only by its text: `q` + 10 hex digits of SHA-1. TREC files need
 * ids without spaces, and the id must not depend on file order.
 */
export function queryIdFor(text: string): string {
  return `q${createHash('sha1').update(normaliseQueryText(text)).digest('hex').slice(0, 10)}`;
}

export function requireFile(dir: string, rel: string, dataset: string): string {
  const p = join(dir, rel);
  if (!existsSync(p)) {
    throw new DistilrankError('FILE_NOT_FOUND', `data set ${dataset}: missing file ${rel}`, {
      file: p,
      hint: `the ${dataset} folder must contain ${rel} (see docs/datasets.md)`,
    });
  }
  return p;
}

export function toNumber(value: string, file: string, line: number, field: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) {
    throw new DistilrankError('BAD_INPUT', `"${value}" is not a number`, { file, line, field, hint: 'grades must be numbers' });
  }
  return n;
}

/**
 * Deterministic train/dev/test splits by query. Queries are ordered by SHA-256(seed, query id) and cut
 * at exact fractions, so a split depends only on the seed and the set of query ids: the same on every
 * machine and independent of file order. Pairs of one query never straddle splits.
 */
import { createHash } from 'node:crypto';
import { DistilrankError } from '../core/index.ts';

export type Split = 'train' | 'dev' | 'test';
export const SPLITS: readonly Split[] = ['train', 'dev', 'test'];

export interface SplitFractions {
  train: number;
  dev: number;
  test: number;
}

export const DEFAULT_SPLIT_FRACTIONS: Readonly<SplitFractions> = Object.freeze({ train: 0.7, dev: 0.1, test: 0.2 });
export const DEFAULT_SPLIT_SEED = 'distilrank-1';

export function assignSplits(
  queryIds: readonly string[],
  seed: string = DEFAULT_SPLIT_SEED,
  fractions: SplitFractions = DEFAULT_SPLIT_FRACTIONS,
): Map<string, Split> {
  const sum = fractions.train + fractions.dev + fractions.test;
  if (Object.values(fractions).some((f) => !(f >= 0)) || Math.abs(sum - 1) > 1e-9) {
    throw new DistilrankError('BAD_OPTION', `split fractions must be non-negative and sum to 1, got ${JSON.stringify(fractions)}`, {
      field: 'split',
      hint: 'for example train 0.7, dev 0.1, test 0.2',
    });
  }
  const keyed = queryIds.map((id) => ({ id, key: createHash('sha256').update(seed).update('\0').update(id).digest('hex') }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const n = keyed.length;
  const nTest = Math.round(n * fractions.test);
  const nDev = Math.min(n - nTest, Math.round(n * fractions.dev));
  const out = new Map<string, Split>();
  keyed.forEach(({ id }, i) => out.set(id, i < nTest ? 'test' : i < nTest + nDev ? 'dev' : 'train'));
  return out;
}

export function parseSplit(name: string): Split {
  if ((SPLITS as readonly string[]).includes(name)) return name as Split;
  throw new DistilrankError('UNKNOWN_NAME', `unknown split "${name}"`, { field: 'split', hint: `use one of: ${SPLITS.join(', ')}` });
}

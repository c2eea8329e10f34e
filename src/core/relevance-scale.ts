/**
 * The distilrank relevance scale: five levels, L1 (highly irrelevant) … L5 (highly relevant), as in
 * Pinterest's guideline. Data sets keep their native grades; a `ScaleMapping` turns them into levels
 * explicitly, and gains for nDCG come from levels (default: L1=0 … L5=4, linear, as trec_eval reads
 * integer qrels). docs/relevance-guideline.md is the human-readable guideline.
 */
import { DistilrankError } from './errors.ts';

export type Level = 1 | 2 | 3 | 4 | 5;
export const LEVELS: readonly Level[] = [1, 2, 3, 4, 5];

export const LEVEL_NAMES: Readonly<Record<Level, string>> = Object.freeze({
  1: 'highly irrelevant',
  2: 'irrelevant',
  3: 'marginally relevant',
  4: 'relevant',
  5: 'highly relevant',
});

/** P(L1) … P(L5); sums to 1. Index 0 is L1. */
export type LevelDistribution = [number, number, number, number, number];

/** Default gain of a level for nDCG: its index, L1=0 … L5=4 (linear, trec_eval-style integer gains). */
export function defaultGain(level: Level): number {
  return level - 1;
}

export function isLevel(x: number): x is Level {
  return Number.isInteger(x) && x >= 1 && x <= 5;
}

/** One row of a mapping table, for docs and `--help`: which native grades become which level. */
export interface MappingRow {
  native: string;
  level: Level | null;
  note: string;
}

/**
 * How a data set's native scale maps onto the five levels. `toLevel` returns null for a grade that is
 * valid but deliberately not used (documented in `rows`); it throws UNKNOWN_GRADE for a grade that is
 * not on the native scale at all.
 */
export interface ScaleMapping {
  /** Name of the native scale, e.g. "quepid-0-3". */
  name: string;
  /** One sentence: what the native grades mean and where they come from. */
  description: string;
  rows: readonly MappingRow[];
  /** True when a higher native grade means more relevant. */
  higherIsBetter: boolean;
  toLevel(grade: number): Level | null;
  /**
   * For continuous native grades (a mean of raters): a distribution over the levels whose expectation
   * is the grade rescaled to 1–5, kept as the pair's soft label. Absent for discrete scales.
   */
  toDistribution?(grade: number): LevelDistribution;
}

/** A mapping from a finite list of native grades. */
export function discreteMapping(
  name: string,
  description: string,
  table: ReadonlyArray<readonly [grade: number, level: Level | null, note: string]>,
): ScaleMapping {
  const byGrade = new Map(table.map(([g, l]) => [g, l] as const));
  const higherIsBetter = isHigherBetter(table.map(([g, l]) => [g, l] as const));
  return Object.freeze({
    name,
    description,
    higherIsBetter,
    rows: table.map(([g, l, note]) => ({ native: String(g), level: l, note })),
    toLevel(grade: number): Level | null {
      const level = byGrade.get(grade);
      if (level === undefined) {
        throw new DistilrankError('UNKNOWN_GRADE', `grade ${grade} is not on the ${name} scale`, {
          hint: `valid grades: ${table.map(([g]) => g).join(', ')}`,
        });
      }
      return level;
    },
  });
}

function isHigherBetter(pairs: ReadonlyArray<readonly [number, Level | null]>): boolean {
  const used = pairs.filter((p): p is readonly [number, Level] => p[1] !== null).sort((a, b) => a[0] - b[0]);
  if (used.length < 2) return true;
  return used[used.length - 1]![1] >= used[0]![1];
}

/**
 * A mapping from a continuous native range [min, max] (e.g. a mean of rater grades) onto the levels
 * by linear rescaling to [1, 5] and rounding half up. Out-of-range or non-finite grades throw.
 */
export function linearMapping(name: string, description: string, min: number, max: number, examples: readonly number[]): ScaleMapping {
  const toLevel = (grade: number): Level => {
    if (!Number.isFinite(grade) || grade < min - 1e-9 || grade > max + 1e-9) {
      throw new DistilrankError('UNKNOWN_GRADE', `grade ${grade} is outside the ${name} range [${min}, ${max}]`, {
        hint: `grades must be numbers between ${min} and ${max}`,
      });
    }
    const scaled = 1 + ((grade - min) / (max - min)) * 4;
    return Math.min(5, Math.max(1, Math.floor(scaled + 0.5 + 1e-9))) as Level;
  };
  const toDistribution = (grade: number): LevelDistribution => {
    toLevel(grade); // range check
    const scaled = Math.min(5, Math.max(1, 1 + ((grade - min) / (max - min)) * 4));
    const lo = Math.floor(scaled + 1e-9);
    const upper = Math.max(0, scaled - lo);
    const dist: LevelDistribution = [0, 0, 0, 0, 0];
    dist[lo - 1] = 1 - upper;
    if (upper > 1e-9) dist[lo] = upper;
    return dist;
  };
  return Object.freeze({
    name,
    description,
    higherIsBetter: true,
    toDistribution,
    rows: examples.map((g) => ({
      native: g.toFixed(2),
      level: toLevel(g),
      note: `1 + (${g.toFixed(2)} − ${min}) × 4 / ${max - min} = ${(1 + ((g - min) / (max - min)) * 4).toFixed(2)}, rounded`,
    })),
    toLevel,
  });
}

/**
 * The soft label of several raters: the share of raters at each level. Raters whose grade maps to
 * null are left out; with no usable rater the result is null.
 */
export function softLabel(levels: ReadonlyArray<Level | null>): LevelDistribution | null {
  const dist: LevelDistribution = [0, 0, 0, 0, 0];
  let n = 0;
  for (const l of levels) {
    if (l === null) continue;
    dist[l - 1] = dist[l - 1]! + 1;
    n += 1;
  }
  if (n === 0) return null;
  return dist.map((c) => c / n) as LevelDistribution;
}

/** A one-hot distribution at `level`. */
export function oneHot(level: Level): LevelDistribution {
  const dist: LevelDistribution = [0, 0, 0, 0, 0];
  dist[level - 1] = 1;
  return dist;
}

/** Expected level (1 … 5) of a distribution. */
export function expectedLevel(dist: Readonly<LevelDistribution>): number {
  let s = 0;
  for (let i = 0; i < 5; i++) s += dist[i]! * (i + 1);
  return s;
}

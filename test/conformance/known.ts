/**
 * Known deviations of one implementation from a conformance suite. A suite asks `known(reason)` for
 * each check an implementation may be excused from: with no reason it is a plain `it`; with one it
 * is `it.fails`, titled "KNOWN DEVIATION: <reason>", so the suite still runs the check and shows
 * the deviation exists, and turns red the day the implementation is fixed (then delete the entry).
 * A `flaky` deviation (one that shows on some runs only, e.g. an order HNSW does not fix) is
 * skipped instead: `it.fails` would pass or fail by chance.
 */
import { it, type TestAPI } from 'vitest';

export interface Deviation {
  /** What the implementation does instead, and the src/ change that would fix it. */
  reason: string;
  /** The deviation shows on some runs only: skip rather than expect a failure. */
  flaky?: boolean;
}

export type Deviations<K extends string> = Partial<Record<K, Deviation>>;

/** The `it` to register a check with, given the implementation's deviation from it (if any). */
export function known(deviation: Deviation | undefined): (title: string, fn: () => unknown, timeout?: number) => void {
  if (!deviation) return (title, fn, timeout) => it(title, fn, timeout);
  const tag = `KNOWN DEVIATION (${deviation.reason})`;
  if (deviation.flaky) return (title, fn, timeout) => it.skip(`${title} — ${tag}`, fn, timeout);
  return (title, fn, timeout) => (it as TestAPI).fails(`${title} — ${tag}`, fn, timeout);
}

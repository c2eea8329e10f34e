/**
 * The teacher contract. A teacher judges (query, item) pairs and returns a probability distribution
 * over the five levels plus what the call cost. Teachers judge one pair per call; the labelling job
 * (src/label) owns concurrency, retries, budgets, caching and resumption, so a teacher reports
 * failures as TeacherCallError with a kind the job can act on.
 */
import type { LevelDistribution } from '../relevance/index.ts';

export interface TeacherPair {
  queryId: string;
  queryText: string;
  itemId: string;
  /** The item's text representation (untrusted: it goes into a prompt delimited as data). */
  itemText: string;
}

export interface TeacherCost {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  seconds: number;
  /** Money at the configured prices (0 for local models). */
  usd: number;
}

export interface TeacherJudgment {
  distribution: LevelDistribution;
  cost: TeacherCost;
  /** How the distribution was read: 'logprobs', 'samples' (k structured samples), 'logits' … */
  method: string;
}

export interface Teacher {
  /** Registry name, e.g. "llm". */
  readonly name: string;
  /** The model behind it (endpoint model name, GGUF file name, folder name). */
  readonly model: string;
  /** Changes whenever the prompt or the way the distribution is read changes: part of the label cache key. */
  readonly promptVersion: string;
  judge(pair: TeacherPair, signal?: AbortSignal): Promise<TeacherJudgment>;
  close?(): Promise<void>;
}

/**
 * What went wrong with one call, in terms the job acts on:
 * - `rate_limited`: retry after `retryAfterMs` (from Retry-After) or with backoff;
 * - `server`: 5xx or a dropped connection, retry with backoff;
 * - `timeout`: the call exceeded its time limit, retry with backoff;
 * - `malformed`: the endpoint answered but the answer could not be read (retry a few times);
 * - `fatal`: retrying cannot help (401/403, 400 bad request, unknown model): stop the job.
 */
export type TeacherErrorKind = 'rate_limited' | 'server' | 'timeout' | 'malformed' | 'fatal';

export class TeacherCallError extends Error {
  constructor(
    readonly kind: TeacherErrorKind,
    message: string,
    readonly retryAfterMs?: number,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'TeacherCallError';
  }
}

export const ZERO_COST: Readonly<TeacherCost> = Object.freeze({ calls: 0, inputTokens: 0, outputTokens: 0, seconds: 0, usd: 0 });

export function addCost(a: TeacherCost, b: TeacherCost): TeacherCost {
  return {
    calls: a.calls + b.calls,
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    seconds: a.seconds + b.seconds,
    usd: a.usd + b.usd,
  };
}

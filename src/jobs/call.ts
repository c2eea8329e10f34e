/**
 * What one paid call (a teacher judgment, a caption) cost, and how it failed, in terms the job core
 * acts on. Shared by every caller of a paid endpoint or local model: labels, captions, the judge route.
 */

export interface CallCost {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  seconds: number;
  /** Money at the configured prices (0 for local models). */
  usd: number;
}

/**
 * What went wrong with one call, in terms the job acts on:
 * - `rate_limited`: retry after `retryAfterMs` (from Retry-After) or with backoff;
 * - `server`: 5xx or a dropped connection, retry with backoff;
 * - `timeout`: the call exceeded its time limit, retry with backoff;
 * - `malformed`: the endpoint answered but the answer could not be read (retry a few times);
 * - `fatal`: retrying cannot help (401/403, 400 bad request, unknown model): stop the job.
 */
export type CallErrorKind = 'rate_limited' | 'server' | 'timeout' | 'malformed' | 'fatal';

export class CallError extends Error {
  constructor(
    readonly kind: CallErrorKind,
    message: string,
    readonly retryAfterMs?: number,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'CallError';
  }
}

export const ZERO_COST: Readonly<CallCost> = Object.freeze({ calls: 0, inputTokens: 0, outputTokens: 0, seconds: 0, usd: 0 });

export function addCost(a: CallCost, b: CallCost): CallCost {
  return {
    calls: a.calls + b.calls,
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    seconds: a.seconds + b.seconds,
    usd: a.usd + b.usd,
  };
}

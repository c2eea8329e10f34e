/**
 * The paid-call job core shared by labelling (src/label/label-job.ts) and captioning (src/enrich/captions/caption-job.ts):
 * bounded concurrency, retries with backoff, a global pause on 429 honouring Retry-After, a budget
 * on calls / tokens / money, a graceful stop, and progress with rate, cost and ETA.
 *
 * The core knows nothing about caches: the caller filters out tasks already done before the run, and
 * its `attempt` commits the result before resolving, so whatever the caller persists per attempt is
 * durable the moment the core counts it. Anything it has not committed when the process dies is
 * requested again by the next run (at most `concurrency` tasks).
 *
 * Budget: it applies to this run's spend. A call's cost is known only after it returns, so the core
 * estimates it as the mean of this run's successful calls and starts a call only while
 * spent + (calls in flight, this one included) × estimate stays within every limit. Until a first
 * call has returned, a token or money limit lets one call fly at a time. The spend can exceed a limit
 * only by how much the calls in flight cost more than the estimate.
 * Counting: `calls` counts what successful attempts report plus one per failed attempt, except
 * rate-limited ones (refused before any work) and errors marked `unbilled` (e.g. a failed image
 * download before any model call); tokens are input + output tokens.
 */
import { DistilrankError, mulberry32 } from '../core/index.ts';
import { CallError, ZERO_COST, addCost, type CallCost, type CallErrorKind } from './call.ts';

export interface JobBudget {
  /** Requests (see the module comment for what counts). */
  calls?: number;
  /** Input + output tokens. */
  tokens?: number;
  usd?: number;
}

export interface RetryPolicy {
  /** Attempts per task, the first included, before it counts as failed. */
  maxAttempts: number;
  /** Backoff before retry n (n ≥ 1): min(maxDelayMs, baseDelayMs × 2^(n−1)) × a jitter factor in [0.5, 1). */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: Readonly<RetryPolicy> = Object.freeze({ maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 30_000 });
export const DEFAULT_CONCURRENCY = 4;

/** Time as the job sees it; tests inject a fake one. `sleep` resolves early when `signal` aborts. */
export interface JobClock {
  now(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const REAL_CLOCK: JobClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted || ms <= 0) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    }),
};

export type StopReason = 'done' | 'budget' | 'fatal' | 'aborted';

/** What one attempt produced: its cost, and whether it settled the task with a result or as skipped. */
export interface AttemptResult {
  cost: CallCost;
  /** 'done' (default): a result was committed. 'skipped': settled without a result (e.g. a refused image). */
  outcome?: 'done' | 'skipped';
}

export interface TaskFailure<T> {
  task: T;
  kind: CallErrorKind;
  message: string;
}

export interface CoreProgress {
  /** Tasks given to the core. */
  total: number;
  succeeded: number;
  skipped: number;
  failed: number;
  /** Tasks found done by another writer when their turn came. */
  late: number;
  inFlight: number;
  elapsedSeconds: number;
  /** Tasks settled by an attempt (succeeded, skipped or failed) per second in this run. */
  perSecond: number;
  /** Seconds until the tasks left are settled at the current rate; null before any rate is known. */
  etaSeconds: number | null;
  cost: CallCost;
}

export interface CoreResult<T> {
  succeeded: number;
  skipped: number;
  failed: number;
  late: number;
  /** Tasks not settled because the job stopped (budget, fatal, abort). */
  remaining: number;
  stoppedBy: StopReason;
  cost: CallCost;
  /** Requests sent, failed ones included. */
  attempts: number;
  /** The first failures (at most 100). */
  failures: TaskFailure<T>[];
  /** The error that stopped the job, when stoppedBy is 'fatal'. */
  error?: TaskFailure<T>;
  elapsedSeconds: number;
}

/** How a paid-call job runs: what the labelling and caption jobs take and hand to the core as is. */
export interface JobSettings {
  concurrency?: number;
  budget?: JobBudget;
  retry?: Partial<RetryPolicy>;
  /** Graceful stop: no new calls; calls in flight finish and are committed; backoff waits end. */
  signal?: AbortSignal;
  clock?: JobClock;
  /** Seed of the backoff jitter (default 1). */
  seed?: number;
}

/** The JobSettings fields of a job's options (without the job's own fields). */
export function jobSettings(o: JobSettings): JobSettings {
  return {
    ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
    ...(o.budget ? { budget: o.budget } : {}),
    ...(o.retry ? { retry: o.retry } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  };
}

export interface CoreOptions<T> extends JobSettings {
  tasks: readonly T[];
  /**
   * One attempt at a task. Resolves after its result is committed; fails with a CallError
   * whose kind says what to do (any other error is a bug: the job stops and rethrows it).
   */
  attempt(task: T, attempt: number, signal: AbortSignal): Promise<AttemptResult>;
  /** True when the task was settled elsewhere since the caller filtered (another writer): skip it. */
  alreadyDone?(task: T): boolean;
  onProgress?: (p: CoreProgress) => void;
}

const MAX_FAILURES_KEPT = 100;

/** A CallError, also one from another copy of the module (duck-typed by name and kind). */
export function asCallError(e: unknown): CallError | null {
  if (e instanceof CallError) return e;
  if (e instanceof Error && e.name === 'CallError' && typeof (e as { kind?: unknown }).kind === 'string') return e as CallError;
  return null;
}

function checkNonNegative(value: number | undefined, field: string, integer: boolean): void {
  if (value === undefined) return;
  if (!Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new DistilrankError('BAD_OPTION', `${field} must be a ${integer ? 'non-negative integer' : 'non-negative number'}, not ${value}`, { field });
  }
}

/** Check the options shared by every job (before the caller does any work). */
export function checkJobOptions(o: { concurrency?: number; budget?: JobBudget; retry?: Partial<RetryPolicy> }): void {
  const concurrency = o.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new DistilrankError('BAD_OPTION', `concurrency must be a positive integer, not ${concurrency}`, { field: 'concurrency' });
  }
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...o.retry };
  checkNonNegative(retry.maxAttempts, 'retry.maxAttempts', true);
  checkNonNegative(retry.baseDelayMs, 'retry.baseDelayMs', false);
  checkNonNegative(retry.maxDelayMs, 'retry.maxDelayMs', false);
  const budget = o.budget ?? {};
  checkNonNegative(budget.calls, 'budget.calls', false);
  checkNonNegative(budget.tokens, 'budget.tokens', false);
  checkNonNegative(budget.usd, 'budget.usd', false);
}

export async function runJobCore<T>(opts: CoreOptions<T>): Promise<CoreResult<T>> {
  checkJobOptions(opts);
  const concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...opts.retry };
  const maxAttempts = Math.max(1, retry.maxAttempts);
  const budget = opts.budget ?? {};
  const clock = opts.clock ?? REAL_CLOCK;
  const random = mulberry32(opts.seed ?? 1);
  const todo = opts.tasks;

  let spent: CallCost = { ...ZERO_COST };
  let successCalls = 0;
  let successTokens = 0;
  let successUsd = 0;
  let successes = 0;
  let attempts = 0;
  let succeeded = 0;
  let skipped = 0;
  let failed = 0;
  let late = 0;
  let next = 0;
  let inFlight = 0;
  let pausedUntil = 0;
  let stopReason: StopReason | null = null;
  let fatal: TaskFailure<T> | undefined;
  let bug: { error: unknown } | undefined;
  const failures: TaskFailure<T>[] = [];
  const stopCtl = new AbortController();
  let waiters: Array<() => void> = [];
  const notify = () => {
    const w = waiters;
    waiters = [];
    for (const resolve of w) resolve();
  };
  const changed = () => new Promise<void>((resolve) => waiters.push(resolve));
  const stop = (reason: Exclude<StopReason, 'done'>) => {
    if (stopReason) return;
    stopReason = reason;
    stopCtl.abort();
    notify();
  };
  const onAbort = () => stop('aborted');
  if (opts.signal?.aborted) stop('aborted');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const started = clock.now();
  const elapsed = () => Math.max(0, (clock.now() - started) / 1000);

  /** Would `n` calls in flight (this one included) fit the budget, given the spend so far? */
  const budgetAllows = (n: number): boolean => {
    const fits = (limit: number | undefined, used: number, perCall: number | undefined) => {
      if (limit === undefined) return true;
      if (perCall === undefined) return n <= 1 && used < limit;
      return used + n * perCall <= limit + 1e-12;
    };
    const tokens = spent.inputTokens + spent.outputTokens;
    return (
      fits(budget.calls, spent.calls, successes ? Math.max(1, successCalls / successes) : 1) &&
      fits(budget.tokens, tokens, successes ? successTokens / successes : undefined) &&
      fits(budget.usd, spent.usd, successes ? successUsd / successes : undefined)
    );
  };

  const progress = () => {
    if (!opts.onProgress) return;
    const elapsedSeconds = elapsed();
    const byAttempt = succeeded + skipped + failed;
    const perSecond = elapsedSeconds > 0 ? byAttempt / elapsedSeconds : 0;
    const left = todo.length - byAttempt - late;
    opts.onProgress({
      total: todo.length,
      succeeded,
      skipped,
      failed,
      late,
      inFlight,
      elapsedSeconds,
      perSecond,
      etaSeconds: left === 0 ? 0 : perSecond > 0 ? left / perSecond : null,
      cost: { ...spent },
    });
  };

  const backoff = (attempt: number) => Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1)) * (0.5 + 0.5 * random());

  /** Settle one task: attempts until it is committed, skipped, fails, or the job stops. */
  const runOne = async (task: T): Promise<void> => {
    if (opts.alreadyDone?.(task)) {
      late += 1;
      return;
    }
    for (let attempt = 1; ; attempt++) {
      while (!stopReason && clock.now() < pausedUntil) await clock.sleep(pausedUntil - clock.now(), stopCtl.signal);
      if (stopReason) return;
      if (attempt > 1 && !budgetAllows(inFlight)) {
        stop('budget');
        return;
      }
      attempts += 1;
      let result: AttemptResult;
      try {
        result = await opts.attempt(task, attempt, stopCtl.signal);
      } catch (e) {
        const err = asCallError(e);
        if (!err) throw e;
        const unbilled = (err as { unbilled?: unknown }).unbilled === true;
        if (err.kind !== 'rate_limited' && !unbilled) spent = addCost(spent, { ...ZERO_COST, calls: 1 });
        const failure: TaskFailure<T> = { task, kind: err.kind, message: err.message };
        if (err.kind === 'fatal') {
          fatal ??= failure;
          stop('fatal');
          return;
        }
        if (attempt >= maxAttempts) {
          failed += 1;
          if (failures.length < MAX_FAILURES_KEPT) failures.push(failure);
          progress();
          return;
        }
        if (err.kind === 'rate_limited' && err.retryAfterMs !== undefined && Number.isFinite(err.retryAfterMs)) {
          pausedUntil = Math.max(pausedUntil, clock.now() + Math.max(0, err.retryAfterMs));
        } else {
          await clock.sleep(backoff(attempt), stopCtl.signal);
        }
        continue;
      }
      const c = result.cost;
      spent = addCost(spent, c);
      if (result.outcome !== 'skipped' || c.calls > 0) {
        successes += 1;
        successCalls += c.calls;
        successTokens += c.inputTokens + c.outputTokens;
        successUsd += c.usd;
      }
      if (result.outcome === 'skipped') skipped += 1;
      else succeeded += 1;
      progress();
      return;
    }
  };

  const worker = async (): Promise<void> => {
    while (!stopReason && next < todo.length) {
      if (!budgetAllows(inFlight + 1)) {
        if (inFlight === 0) stop('budget');
        else await changed();
        continue;
      }
      const task = todo[next++]!;
      inFlight += 1;
      try {
        await runOne(task);
      } catch (e) {
        bug ??= { error: e };
        stop('fatal');
      } finally {
        inFlight -= 1;
        notify();
      }
    }
  };

  progress();
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, todo.length)) }, () => worker()));
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  if (bug) throw bug.error;
  progress();
  const result: CoreResult<T> = {
    succeeded,
    skipped,
    failed,
    late,
    remaining: todo.length - succeeded - skipped - failed - late,
    stoppedBy: stopReason ?? 'done',
    cost: spent,
    attempts,
    failures,
    elapsedSeconds: elapsed(),
  };
  if (fatal) result.error = fatal;
  return result;
}

/**
 * The labelling job: the teacher labels pairs, each label saved the moment it arrives, under a
 * budget, with bounded concurrency and retries. Resumable by construction: a pair whose label is in
 * the cache is never requested again, so re-running the same job after a crash, a kill, a budget
 * stop or an abort continues where it stopped.
 *
 * What can be paid for twice: only a call that was in flight when the process died (the teacher
 * answered, or was about to, but the label was not yet committed). At most `concurrency` pairs.
 * Stopping cleanly (budget, fatal error, abort signal) never loses one: new calls stop, calls in
 * flight finish and are saved.
 *
 * Budget: it applies to this run's spend (what `summary.cost` reports), not to earlier runs; the
 * cache records every earlier label's cost (`LabelCache.totals`), so a caller wanting a lifetime cap
 * passes the cap minus those totals. A call's cost is known only after it returns, so the job
 * estimates it as the mean of this run's successful calls and starts a call only while
 * spent + (calls in flight, this one included) × estimate stays within every limit. Until a first
 * call has returned, a token or money limit lets one call fly at a time. The spend can exceed a
 * limit only by how much the calls in flight cost more than the estimate.
 * Counting: `calls` counts the teacher's reported calls of successful judgments plus one per failed
 * attempt, except rate-limited ones (refused before any work); tokens are input + output tokens.
 */
import { DistilrankError } from '../errors.ts';
import type { Teacher, TeacherCost, TeacherErrorKind, TeacherJudgment, TeacherPair } from '../teacher/types.ts';
import { TeacherCallError, ZERO_COST, addCost } from '../teacher/types.ts';
import { isDistribution, keyString, pairKey, type LabelCache, type LabelKey, type LabelRef } from './cache.ts';
import { mulberry32 } from '../random.ts';

export interface LabelBudget {
  /** Requests (see the module comment for what counts). */
  calls?: number;
  /** Input + output tokens. */
  tokens?: number;
  usd?: number;
}

export interface RetryPolicy {
  /** Attempts per pair, the first included, before it counts as failed. */
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

export interface LabelProgress {
  /** Pairs given to the job. */
  total: number;
  /** Pairs settled so far: cached + duplicates + labelled + failed. */
  done: number;
  labelled: number;
  cached: number;
  duplicates: number;
  failed: number;
  inFlight: number;
  elapsedSeconds: number;
  /** Pairs labelled or failed per second in this run. */
  pairsPerSecond: number;
  /** Seconds until the pairs left are settled at the current rate; null before any rate is known. */
  etaSeconds: number | null;
  cost: TeacherCost;
}

export interface PairFailure {
  queryId: string;
  itemId: string;
  kind: TeacherErrorKind;
  message: string;
}

export interface LabelJobSummary {
  pairs: number;
  /** Labels paid for and saved in this run. */
  labelled: number;
  /** Pairs not requested because their label was already in the cache. */
  cached: number;
  /** Pairs with the same key (query text, item text) as an earlier pair of this run: answered by its label. */
  duplicates: number;
  /** Pairs that exhausted their attempts (not cached: a later run tries them again). */
  failed: number;
  /** Pairs not settled because the job stopped (budget, fatal, abort). */
  remaining: number;
  stoppedBy: StopReason;
  /** This run's spend. */
  cost: TeacherCost;
  /** Requests sent, failed ones included. */
  attempts: number;
  /** The first pair failures (at most 100). */
  failures: PairFailure[];
  /** The error that stopped the job, when stoppedBy is 'fatal'. */
  error?: PairFailure;
}

export interface LabelJobOptions {
  cache: LabelCache;
  teacher: Teacher;
  pairs: readonly TeacherPair[];
  /** The data set the pairs come from (recorded with each label so `labelsFor` finds it). */
  dataset: string;
  concurrency?: number;
  budget?: LabelBudget;
  retry?: Partial<RetryPolicy>;
  /** Graceful stop: no new calls; calls in flight finish and are saved; backoff waits end. */
  signal?: AbortSignal;
  onProgress?: (p: LabelProgress) => void;
  clock?: JobClock;
  /** Seed of the backoff jitter (default 1). */
  seed?: number;
}

interface Task {
  key: LabelKey;
  pair: TeacherPair;
  /** Later pairs of this run with the same key. */
  dups: TeacherPair[];
}

const MAX_FAILURES_KEPT = 100;


function asCallError(e: unknown): TeacherCallError | null {
  if (e instanceof TeacherCallError) return e;
  if (e instanceof Error && e.name === 'TeacherCallError' && typeof (e as { kind?: unknown }).kind === 'string') return e as TeacherCallError;
  return null;
}

function checkPositive(value: number | undefined, field: string, integer: boolean): void {
  if (value === undefined) return;
  if (!Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new DistilrankError('BAD_OPTION', `${field} must be a ${integer ? 'non-negative integer' : 'non-negative number'}, not ${value}`, { field });
  }
}

export async function runLabelJob(opts: LabelJobOptions): Promise<LabelJobSummary> {
  const { cache, teacher, dataset } = opts;
  const concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new DistilrankError('BAD_OPTION', `concurrency must be a positive integer, not ${concurrency}`, { field: 'concurrency' });
  }
  const retry: RetryPolicy = { ...DEFAULT_RETRY, ...opts.retry };
  checkPositive(retry.maxAttempts, 'retry.maxAttempts', true);
  checkPositive(retry.baseDelayMs, 'retry.baseDelayMs', false);
  checkPositive(retry.maxDelayMs, 'retry.maxDelayMs', false);
  const maxAttempts = Math.max(1, retry.maxAttempts);
  const budget = opts.budget ?? {};
  checkPositive(budget.calls, 'budget.calls', false);
  checkPositive(budget.tokens, 'budget.tokens', false);
  checkPositive(budget.usd, 'budget.usd', false);
  const clock = opts.clock ?? REAL_CLOCK;
  const random = mulberry32(opts.seed ?? 1);
  const refOf = (p: TeacherPair): LabelRef => ({ dataset, queryId: p.queryId, itemId: p.itemId, queryText: p.queryText });

  // Keys, de-duplication within the run, and what the cache already holds.
  const tasks = new Map<string, Task>();
  let duplicates = 0;
  for (const pair of opts.pairs) {
    const key = pairKey(teacher, pair);
    const ks = keyString(key);
    const task = tasks.get(ks);
    if (task) {
      task.dups.push(pair);
      duplicates += 1;
    } else tasks.set(ks, { key, pair, dups: [] });
  }
  const todo: Task[] = [];
  const cachedRefs: Array<{ key: LabelKey; ref: LabelRef }> = [];
  let cached = 0;
  for (const task of tasks.values()) {
    if (cache.has(task.key)) {
      cached += 1;
      for (const p of [task.pair, ...task.dups]) cachedRefs.push({ key: task.key, ref: refOf(p) });
    } else todo.push(task);
  }
  cache.addRefs(cachedRefs);

  // Run state.
  let spent: TeacherCost = { ...ZERO_COST };
  let successCalls = 0;
  let successTokens = 0;
  let successUsd = 0;
  let successes = 0;
  let attempts = 0;
  let labelled = 0;
  let failed = 0;
  let cachedLate = 0;
  let next = 0;
  let inFlight = 0;
  let pausedUntil = 0;
  let stopReason: StopReason | null = null;
  let fatal: PairFailure | undefined;
  let bug: { error: unknown } | undefined;
  const failures: PairFailure[] = [];
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
    const elapsedSeconds = Math.max(0, (clock.now() - started) / 1000);
    const settled = labelled + failed + cachedLate;
    const pairsPerSecond = elapsedSeconds > 0 ? (labelled + failed) / elapsedSeconds : 0;
    const left = todo.length - settled;
    opts.onProgress({
      total: opts.pairs.length,
      done: cached + duplicates + settled,
      labelled,
      cached: cached + cachedLate,
      duplicates,
      failed,
      inFlight,
      elapsedSeconds,
      pairsPerSecond,
      etaSeconds: left === 0 ? 0 : pairsPerSecond > 0 ? left / pairsPerSecond : null,
      cost: { ...spent },
    });
  };

  const backoff = (attempt: number) => Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1)) * (0.5 + 0.5 * random());

  /** Label one pair: attempts until it is saved, fails, or the job stops. */
  const labelOne = async (task: Task): Promise<void> => {
    if (cache.has(task.key)) {
      // Another writer of the same cache (a second job) saved it since the start.
      cache.addRefs([task.pair, ...task.dups].map((p) => ({ key: task.key, ref: refOf(p) })));
      cachedLate += 1;
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
      let judgment: TeacherJudgment;
      try {
        judgment = await teacher.judge(task.pair);
        if (!isDistribution(judgment.distribution)) {
          throw new TeacherCallError('malformed', `the teacher returned no level distribution: ${JSON.stringify(judgment.distribution)}`);
        }
      } catch (e) {
        const err = asCallError(e);
        if (!err) throw e;
        if (err.kind !== 'rate_limited') spent = addCost(spent, { ...ZERO_COST, calls: 1 });
        const failure: PairFailure = { queryId: task.pair.queryId, itemId: task.pair.itemId, kind: err.kind, message: err.message };
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
      const c = judgment.cost;
      spent = addCost(spent, c);
      successes += 1;
      successCalls += c.calls;
      successTokens += c.inputTokens + c.outputTokens;
      successUsd += c.usd;
      cache.put(task.key, judgment, refOf(task.pair), attempt);
      cache.addRefs(task.dups.map((p) => ({ key: task.key, ref: refOf(p) })));
      labelled += 1;
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
        await labelOne(task);
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
  const summary: LabelJobSummary = {
    pairs: opts.pairs.length,
    labelled,
    cached: cached + cachedLate,
    duplicates,
    failed,
    remaining: todo.length - labelled - failed - cachedLate,
    stoppedBy: stopReason ?? 'done',
    cost: spent,
    attempts,
    failures,
  };
  if (fatal) summary.error = fatal;
  return summary;
}

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
import type { Teacher, TeacherJudgment, TeacherPair } from '../teacher/index.ts';
import {
  type CallCost,
  type CallErrorKind,
  CallError,
  checkJobOptions,
  jobSettings,
  runJobCore,
  type JobBudget,
  type JobSettings,
  type StopReason,
} from '../jobs/index.ts';
import { isDistribution, keyString, pairKey, type LabelCache, type LabelKey, type LabelRef } from './cache.ts';

export { DEFAULT_CONCURRENCY, DEFAULT_RETRY, REAL_CLOCK } from '../jobs/index.ts';
export type { JobClock, RetryPolicy, StopReason } from '../jobs/index.ts';

export type LabelBudget = JobBudget;

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
  cost: CallCost;
}

export interface PairFailure {
  queryId: string;
  itemId: string;
  kind: CallErrorKind;
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
  cost: CallCost;
  /** Requests sent, failed ones included. */
  attempts: number;
  /** The first pair failures (at most 100). */
  failures: PairFailure[];
  /** The error that stopped the job, when stoppedBy is 'fatal'. */
  error?: PairFailure;
}

export interface LabelJobOptions extends JobSettings {
  cache: LabelCache;
  teacher: Teacher;
  pairs: readonly TeacherPair[];
  /** The data set the pairs come from (recorded with each label so `labelsFor` finds it). */
  dataset: string;
  onProgress?: (p: LabelProgress) => void;
}

interface Task {
  key: LabelKey;
  pair: TeacherPair;
  /** Later pairs of this run with the same key. */
  dups: TeacherPair[];
}

/** Label the pairs not in the cache yet (the job core does concurrency, retries, budget and progress). */
export async function runLabelJob(opts: LabelJobOptions): Promise<LabelJobSummary> {
  const { cache, teacher, dataset } = opts;
  checkJobOptions(opts);
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

  const core = await runJobCore<Task>({
    tasks: todo,
    ...jobSettings(opts),
    alreadyDone: (task) => {
      if (!cache.has(task.key)) return false;
      // Another writer of the same cache (a second job) saved it since the start.
      cache.addRefs([task.pair, ...task.dups].map((p) => ({ key: task.key, ref: refOf(p) })));
      return true;
    },
    attempt: async (task, attempt) => {
      const judgment: TeacherJudgment = await teacher.judge(task.pair);
      if (!isDistribution(judgment.distribution)) {
        throw new CallError('malformed', `the teacher returned no level distribution: ${JSON.stringify(judgment.distribution)}`);
      }
      cache.put(task.key, judgment, refOf(task.pair), attempt);
      cache.addRefs(task.dups.map((p) => ({ key: task.key, ref: refOf(p) })));
      return { cost: judgment.cost };
    },
    ...(opts.onProgress
      ? {
          onProgress: (p) =>
            opts.onProgress!({
              total: opts.pairs.length,
              done: cached + duplicates + p.succeeded + p.failed + p.late,
              labelled: p.succeeded,
              cached: cached + p.late,
              duplicates,
              failed: p.failed,
              inFlight: p.inFlight,
              elapsedSeconds: p.elapsedSeconds,
              pairsPerSecond: p.perSecond,
              etaSeconds: p.etaSeconds,
              cost: p.cost,
            }),
        }
      : {}),
  });
  const failureOf = (f: { task: Task; kind: CallErrorKind; message: string }): PairFailure => ({
    queryId: f.task.pair.queryId,
    itemId: f.task.pair.itemId,
    kind: f.kind,
    message: f.message,
  });
  const summary: LabelJobSummary = {
    pairs: opts.pairs.length,
    labelled: core.succeeded,
    cached: cached + core.late,
    duplicates,
    failed: core.failed,
    remaining: core.remaining,
    stoppedBy: core.stoppedBy,
    cost: core.cost,
    attempts: core.attempts,
    failures: core.failures.map(failureOf),
  };
  if (core.error) summary.error = failureOf(core.error);
  return summary;
}

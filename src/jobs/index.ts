/** The paid-call job core (concurrency, retries, budget, progress) shared by labelling and captioning. */
export { DEFAULT_CONCURRENCY, DEFAULT_RETRY, REAL_CLOCK, asCallError, checkJobOptions, jobSettings, runJobCore } from './core.ts';
export type { AttemptResult, CoreOptions, CoreProgress, CoreResult, JobBudget, JobClock, JobSettings, RetryPolicy, StopReason, TaskFailure } from './core.ts';

/**
 * Paid calls: the job core (concurrency, retries, budget, progress) shared by labelling and
 * captioning, what a call costs and how it fails, and OpenAI-compatible endpoint errors.
 */
export { DEFAULT_CONCURRENCY, DEFAULT_RETRY, REAL_CLOCK, checkJobOptions, jobSettings, runJobCore } from './core.ts';
export type { CoreProgress, JobBudget, JobClock, JobSettings, RetryPolicy, StopReason } from './core.ts';
export { CallError, ZERO_COST, addCost } from './call.ts';
export type { CallCost, CallErrorKind } from './call.ts';
export { endpointCallError, redactUrl, retryAfterMs } from './endpoint.ts';
export type { Env, LlmPricing } from './endpoint.ts';

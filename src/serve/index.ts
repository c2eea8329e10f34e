/**
 * The serve stage: the HTTP service over an immutable, reloadable artifact set (store, retriever,
 * student). `buildApp` is the app factory (tests inject into it), `startServer` listens and handles
 * shutdown; the CLI command `distilrank serve` and the demo use startServer.
 */
export { buildApp, bearerMatches, DEFAULT_BODY_LIMIT } from './app.ts';
export type { AppOptions, ServeApp } from './app.ts';
export { ArtifactHolder, ArtifactSet, DEFAULT_RETRIEVER } from './artifacts.ts';
export type { ArtifactSpec, ModelInfo, RankedResult } from './artifacts.ts';
export { API_ERRORS, ApiError, ERROR_SCHEMA } from './errors.ts';
export type { ErrorBody } from './errors.ts';
export { FILTERS_SCHEMA, MAX_FILTERS, matches } from './filters.ts';
export type { Condition, Filters } from './filters.ts';
export { DEFAULT_JUDGE_BUDGET, JudgeService } from './judge.ts';
export type { JudgeBudget } from './judge.ts';
export { Counter, Histogram, LATENCY_BUCKETS, retrieverStatsGauges } from './metrics.ts';
export { openApiDocument } from './openapi.ts';
export { DEFAULT_RATE_LIMIT, RateLimiter } from './rate-limit.ts';
export type { RateLimitOptions } from './rate-limit.ts';
export { DEFAULT_LIMITS } from './schemas.ts';
export type { Limits } from './schemas.ts';
export { DEFAULT_HOST, DEFAULT_PORT, DRAIN_TIMEOUT_MS, generateAdminToken, startServer } from './server.ts';
export type { RunningServer, StartServerOptions } from './server.ts';

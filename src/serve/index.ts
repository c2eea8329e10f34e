/**
 * The serve stage: the HTTP service over an immutable, reloadable artifact set (store, retriever,
 * student). `buildApp` is the app factory (tests inject into it), `startServer` listens and handles
 * shutdown; the CLI command `distilrank serve` and the demo use startServer.
 */
export { buildApp, DEFAULT_BODY_LIMIT } from './app.ts';
export type { AppOptions, ServeApp } from './app.ts';
export { API_ERRORS } from './errors.ts';
export { matches } from './filters.ts';
export { Histogram, retrieverStatsGauges } from './metrics.ts';
export { DEFAULT_RATE_LIMIT, RateLimiter } from './rate-limit.ts';
export { DEFAULT_LIMITS } from './schemas.ts';
export { DEFAULT_HOST, DEFAULT_PORT, startServer } from './server.ts';
export type { RunningServer } from './server.ts';

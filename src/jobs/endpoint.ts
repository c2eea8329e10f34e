/**
 * OpenAI-compatible endpoints as paid callers see them: prices, environment, Retry-After, redacted
 * URLs, and the openai client's errors mapped to CallError kinds. Shared by the llm teacher and the
 * captioning VLM.
 */
import OpenAI from 'openai';
import { isRecord } from '../core/index.ts';
import { CallError } from './call.ts';

export interface LlmPricing {
  /** USD per 1M input (prompt) tokens; 0 for a self-hosted model. */
  inputPerMTok: number;
  /** USD per 1M output (completion) tokens; 0 for a self-hosted model. */
  outputPerMTok: number;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Milliseconds to wait from Retry-After (seconds or an HTTP date) or retry-after-ms; undefined when absent. */
export function retryAfterMs(headers: Headers | undefined, now: number = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '') {
    const n = Number(ms);
    if (Number.isFinite(n) && n >= 0) return Math.round(n);
  }
  const ra = headers.get('retry-after');
  if (ra === null || ra.trim() === '') return undefined;
  const seconds = Number(ra);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const date = Date.parse(ra);
  if (!Number.isNaN(date)) return Math.max(0, date - now);
  return undefined;
}

/** What endpointCallError needs to know to word its messages. */
export interface EndpointErrorContext {
  /** The endpoint as shown in messages (no credentials). */
  endpoint: string;
  timeoutMs: number;
  model: string;
  /** The variable holding the API key (named in the 401/403 hint). */
  keyVariable: string;
  /** Removes secrets from text that may end up in a message. */
  redact: (text: string) => string;
}

/**
 * An error of the openai client (or of reading its answer) as a CallError whose kind tells a
 * job what to do: 429 → rate_limited (with Retry-After), 408/timeouts → timeout, 409/5xx/connection
 * → server, other 4xx → fatal, unreadable bodies → malformed. Shared by every OpenAI-compatible caller.
 */
export function endpointCallError(e: unknown, timedOut: boolean, ctx: EndpointErrorContext): CallError {
  if (e instanceof CallError) return e;
  if (timedOut || e instanceof OpenAI.APIConnectionTimeoutError) {
    return new CallError('timeout', `${ctx.endpoint} did not answer within ${ctx.timeoutMs} ms`);
  }
  if (e instanceof OpenAI.APIConnectionError) {
    return new CallError('server', `${ctx.endpoint} could not be reached: ${ctx.redact(errorText(e))}`);
  }
  if (e instanceof OpenAI.APIError && typeof e.status === 'number') {
    const status = e.status;
    const detail = ctx.redact(serverMessage(e));
    const what = `${ctx.endpoint} answered HTTP ${status}${detail ? `: ${detail}` : ''}`;
    if (status === 429) return new CallError('rate_limited', what, retryAfterMs(e.headers), status);
    if (status === 408) return new CallError('timeout', what, undefined, status);
    if (status === 409 || status >= 500) return new CallError('server', what, undefined, status);
    const hint =
      status === 401 || status === 403
        ? ` (check ${ctx.keyVariable})`
        : status === 404
          ? ` (check the base URL and that the endpoint serves model "${ctx.model}")`
          : '';
    return new CallError('fatal', `${what}${hint}`, undefined, status);
  }
  if (e instanceof SyntaxError) {
    return new CallError('malformed', `${ctx.endpoint} answered with a body that is not valid JSON`);
  }
  if (e instanceof Error && e.name === 'AbortError') {
    return new CallError('timeout', `${ctx.endpoint} did not answer within ${ctx.timeoutMs} ms`);
  }
  if (e instanceof Error) return new CallError('malformed', `${ctx.endpoint}: ${ctx.redact(e.message)}`);
  return new CallError('malformed', `${ctx.endpoint}: ${ctx.redact(String(e))}`);
}

function serverMessage(e: InstanceType<typeof OpenAI.APIError>): string {
  const body = e.error;
  if (isRecord(body)) {
    if (typeof body.message === 'string') return body.message;
    if (isRecord(body.error) && typeof body.error.message === 'string') return body.error.message;
  }
  if (typeof body === 'string') return body;
  return '';
}

function errorText(e: Error): string {
  const cause = (e as { cause?: unknown }).cause;
  return cause instanceof Error ? `${e.message} (${cause.message})` : e.message;
}

/** The base URL without any user:password part. */
export function redactUrl(u: string): string {
  try {
    const url = new URL(u);
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/+$/, '');
  } catch {
    return u;
  }
}

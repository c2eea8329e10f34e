/**
 * The service's error catalogue: every error response has ONE shape, `{error: {code, message,
 * field?}}`, with a stable code and an HTTP status. Errors a user of the CLI can cause (unknown model
 * name, artifact mismatch …) keep their DistilrankError code. Nothing else (no stack, no internals)
 * ever reaches a response.
 */
import { ERROR_CODES, isDistilrankError, type ErrorCode } from '../core/index.ts';

export const API_ERRORS = {
  BAD_REQUEST: { status: 400, description: 'the body, query string or a field fails the route schema' },
  MALFORMED_JSON: { status: 400, description: 'the body is not valid JSON (or is empty where JSON is required)' },
  QUERY_TOO_LONG: { status: 400, description: 'the query text is longer than the service accepts' },
  UNAUTHORIZED: { status: 401, description: 'an admin route without a bearer token, or with a wrong one' },
  BUDGET_EXHAUSTED: { status: 402, description: 'the judge budget of this process (calls, tokens or USD) is spent: no more paid teacher calls' },
  NOT_FOUND: { status: 404, description: 'no such route (or method on it)' },
  PAYLOAD_TOO_LARGE: { status: 413, description: 'the body is larger than the body size limit' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'the body is not application/json' },
  RATE_LIMITED: { status: 429, description: 'this client sent more requests than its token bucket allows; retry after Retry-After seconds' },
  UNSUPPORTED: { status: 422, description: 'the loaded model cannot do this (e.g. rerank of free texts needs a student model)' },
  RELOAD_FAILED: { status: 422, description: 'the new artifact set could not be loaded; the old one keeps serving' },
  TEACHER_UNAVAILABLE: { status: 503, description: 'the teacher could not be built or failed to answer' },
  NOT_READY: { status: 503, description: 'the artifacts are not loaded yet, or the service is shutting down' },
  INTERNAL: { status: 500, description: 'an unexpected failure (details are in the server log, never in the response)' },
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS | ErrorCode;

export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly field?: string,
    readonly status: number = statusOf(code),
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function statusOf(code: ApiErrorCode): number {
  if (code in API_ERRORS) return API_ERRORS[code as keyof typeof API_ERRORS].status;
  return 400;
}

export function errorBody(code: string, message: string, field?: string): ErrorBody {
  return { error: field ? { code, message, field } : { code, message } };
}

/** The JSON schema of the error body (every route's 4xx/5xx responses). */
export const ERROR_SCHEMA = {
  $id: 'Error',
  type: 'object',
  description: 'Every error response: a stable code, a message for humans, and the offending field when there is one.',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: [...Object.keys(API_ERRORS), ...Object.keys(ERROR_CODES)] },
        message: { type: 'string' },
        field: { type: 'string' },
      },
    },
  },
} as const;

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message?: string;
  validation?: Array<{ keyword: string; instancePath: string; params: Record<string, unknown>; message?: string }>;
  validationContext?: string;
}

/**
 * Map anything thrown while handling a request to (status, body). `maxQueryChars` names the query
 * length limit in the message of a too-long query.
 */
export function toErrorResponse(e: unknown): { status: number; body: ErrorBody; headers: Record<string, string>; internal: boolean } {
  if (e instanceof ApiError) return { status: e.status, body: errorBody(e.code, e.message, e.field), headers: { ...e.headers }, internal: false };
  if (isDistilrankError(e)) {
    const field = e.details.field;
    const message = e.details.hint ? `${e.message} (${e.details.hint})` : e.message;
    return { status: 400, body: errorBody(e.code, message, field), headers: {}, internal: false };
  }
  const fe = (e ?? {}) as FastifyLikeError;
  if (fe.validation && fe.validation.length) {
    const v = fe.validation[0]!;
    const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
    const missing = typeof v.params.missingProperty === 'string' ? v.params.missingProperty : undefined;
    const extra = typeof v.params.additionalProperty === 'string' ? v.params.additionalProperty : undefined;
    const field = [path, missing ?? extra].filter(Boolean).join('.') || fe.validationContext || undefined;
    if (v.keyword === 'maxLength' && path === 'query') {
      return {
        status: 400,
        body: errorBody('QUERY_TOO_LONG', `query is longer than ${String(v.params.limit)} characters`, 'query'),
        headers: {},
        internal: false,
      };
    }
    const what = extra ? `unknown field "${extra}"` : (v.message ?? 'is invalid');
    return {
      status: 400,
      body: errorBody('BAD_REQUEST', `${fe.validationContext ?? 'request'}${path ? `.${path}` : ''} ${what}`, field),
      headers: {},
      internal: false,
    };
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: errorBody('PAYLOAD_TOO_LARGE', 'the request body is larger than the limit'), headers: {}, internal: false };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: errorBody('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json'), headers: {}, internal: false };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, body: errorBody('MALFORMED_JSON', 'the body is not valid JSON'), headers: {}, internal: false };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, body: errorBody('BAD_REQUEST', 'the Content-Length does not match the body'), headers: {}, internal: false };
    default:
  }
  if (e instanceof SyntaxError || fe.statusCode === 400) {
    return { status: 400, body: errorBody('MALFORMED_JSON', 'the body is not valid JSON'), headers: {}, internal: false };
  }
  if (fe.statusCode === 413)
    return { status: 413, body: errorBody('PAYLOAD_TOO_LARGE', 'the request body is larger than the limit'), headers: {}, internal: false };
  if (fe.statusCode === 415)
    return { status: 415, body: errorBody('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json'), headers: {}, internal: false };
  return { status: 500, body: errorBody('INTERNAL', 'internal error (see the server log)'), headers: {}, internal: true };
}

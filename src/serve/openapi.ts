/**
 * The OpenAPI 3.1 document, generated from the schemas the routes are registered with (collected by
 * an onRoute hook), so it cannot drift from what the service validates. OpenAPI 3.1 schemas are
 * JSON Schema, so route schemas pass through; shared schemas (`$ref: 'Name#'`, added with
 * addSchema) become components.
 */

export interface RouteRecord {
  method: string;
  url: string;
  schema: Record<string, unknown>;
}

const STATUS_TEXT: Record<string, string> = {
  200: 'OK',
  400: 'Bad request (validation, malformed JSON, query too long)',
  401: 'Missing or wrong bearer token',
  402: 'Judge budget spent',
  404: 'Not found',
  413: 'Body too large',
  415: 'Unsupported media type',
  422: 'Not possible with the loaded artifacts',
  429: 'Rate limited (see Retry-After)',
  500: 'Internal error',
  503: 'Not ready or shutting down',
};

/** `{$ref: 'Error#'}` → `{$ref: '#/components/schemas/Error'}`, recursively; drops `$id`. */
function toComponentRefs(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toComponentRefs);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === '$id') continue;
    if (k === '$ref' && typeof v === 'string' && !v.startsWith('#')) out.$ref = `#/components/schemas/${v.replace(/#.*$/, '')}`;
    else out[k] = toComponentRefs(v);
  }
  return out;
}

export function openApiDocument(
  info: { title: string; version: string; description: string },
  routes: readonly RouteRecord[],
  shared: ReadonlyArray<Record<string, unknown>>,
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    if (r.method === 'HEAD') continue;
    const s = r.schema;
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries((s.response ?? {}) as Record<string, unknown>)) {
      const isText = typeof schema === 'object' && schema !== null && (schema as { type?: unknown }).type === 'string';
      responses[status] = {
        description: STATUS_TEXT[status] ?? 'response',
        content: { [isText ? 'text/plain' : 'application/json']: { schema: toComponentRefs(schema) } },
        ...(status === '429' ? { headers: { 'Retry-After': { description: 'seconds until the client may retry', schema: { type: 'integer' } } } } : {}),
      };
    }
    const op: Record<string, unknown> = {
      operationId: `${r.method.toLowerCase()}${r.url.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: s.summary,
      tags: s.tags,
      responses,
    };
    if (s.security) op.security = s.security;
    if (s.body) op.requestBody = { required: true, content: { 'application/json': { schema: toComponentRefs(s.body) } } };
    (paths[r.url] ??= {})[r.method.toLowerCase()] = op;
  }
  const schemas: Record<string, unknown> = {};
  for (const sch of shared) schemas[String(sch.$id)] = toComponentRefs(sch);
  return {
    openapi: '3.1.0',
    info,
    servers: [{ url: '/' }],
    paths,
    components: { schemas, securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the admin token (DISTILRANK_ADMIN_TOKEN)' } } },
  };
}

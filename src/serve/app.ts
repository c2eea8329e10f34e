/**
 * The HTTP app factory: `buildApp(options)` loads the artifact set and returns a fastify instance
 * with every route registered (no listening here: tests use inject() or listen on 127.0.0.1:0).
 *
 * Routes: POST /v1/search, POST /v1/rerank, POST /v1/judge (admin), POST /admin/reload (admin),
 * GET /healthz, /readyz, /metrics, /openapi.json. Every route has request and response schemas; every
 * error has the shape of errors.ts; admin routes need `Authorization: Bearer <token>`; a token bucket
 * per client IP limits request rates; bodies are size-limited.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { DistilrankError } from '../core/index.ts';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ArtifactHolder, ArtifactSet, DEFAULT_RETRIEVER, type ArtifactSpec } from './artifacts.ts';
import { ApiError, ERROR_SCHEMA, toErrorResponse } from './errors.ts';
import { matches, type Filters } from './filters.ts';
import { DEFAULT_JUDGE_BUDGET, JudgeService, type JudgeBudget, type JudgePairInput } from './judge.ts';
import { gauge, retrieverStatsGauges, ServiceMetrics } from './metrics.ts';
import { openApiDocument, type RouteRecord } from './openapi.ts';
import { DEFAULT_RATE_LIMIT, RateLimiter, type RateLimitOptions } from './rate-limit.ts';
import { DEFAULT_LIMITS, routeSchemas, type Limits } from './schemas.ts';
import { DEFAULT_CANDIDATES } from '../student/index.ts';

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export interface AppOptions {
  /** The artifact set to serve (store file, data set, model, retriever, candidates). */
  artifacts: Omit<ArtifactSpec, 'retriever' | 'candidates'> & Partial<Pick<ArtifactSpec, 'retriever' | 'candidates'>>;
  /** The bearer token of the admin routes. */
  adminToken: string;
  limits?: Partial<Limits>;
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Per-client token bucket; perSecond 0 switches it off. */
  rateLimit?: RateLimitOptions;
  judge?: { teacher?: string; env?: Readonly<Record<string, string | undefined>>; cachePath?: string; budget?: Partial<JudgeBudget> };
  /** Log requests and errors to stdout as JSON lines (default off). */
  logger?: boolean;
}

interface RouteConfig {
  /** Ops routes (health, metrics, the document) are not rate-limited. */
  ops?: boolean;
  admin?: boolean;
}

export interface ServeApp extends FastifyInstance {
  /** The artifact holder (tests and the CLI read the current model from it). */
  readonly artifacts: ArtifactHolder;
  readonly serviceMetrics: ServiceMetrics;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time comparison of the bearer token (hashes make the lengths equal). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer ([^\s]+)$/i.exec(header ?? '');
  return m !== null && timingSafeEqual(digest(m[1]!), digest(token));
}

export async function buildApp(options: AppOptions): Promise<ServeApp> {
  if (options.adminToken.length < 16) {
    throw new DistilrankError('BAD_OPTION', `the admin token has ${options.adminToken.length} characters; it needs at least 16`, {
      field: 'DISTILRANK_ADMIN_TOKEN',
      hint: 'set DISTILRANK_ADMIN_TOKEN to a long random string (e.g. `openssl rand -base64 24`), or unset it to get a generated one',
    });
  }
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  const schemas = routeSchemas(limits);
  const spec: ArtifactSpec = { retriever: DEFAULT_RETRIEVER, candidates: DEFAULT_CANDIDATES, ...options.artifacts };
  const holder = new ArtifactHolder();
  await holder.swap(() => ArtifactSet.load(spec));

  const metrics = new ServiceMetrics();
  const limiter = new RateLimiter(options.rateLimit ?? DEFAULT_RATE_LIMIT);
  const judge = new JudgeService({
    teacher: options.judge?.teacher ?? 'llm',
    ...(options.judge?.env ? { env: options.judge.env } : {}),
    ...(options.judge?.cachePath ? { cachePath: options.judge.cachePath } : {}),
    budget: { ...DEFAULT_JUDGE_BUDGET, ...options.judge?.budget },
  });
  const routes: RouteRecord[] = [];
  let closing = false;

  const app = Fastify({
    logger: options.logger ? { level: 'info' } : false,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false, allowUnionTypes: true } },
  });
  // JSON only: a text/plain body is refused with 415 rather than reaching the schema as a string.
  app.removeContentTypeParser('text/plain');
  app.addSchema(ERROR_SCHEMA);
  app.decorate('artifacts', holder);
  app.decorate('serviceMetrics', metrics);
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const method of methods) if (r.schema) routes.push({ method, url: r.url, schema: r.schema as Record<string, unknown> });
  });

  app.setErrorHandler((err, request, reply) => {
    const r = toErrorResponse(err);
    if (r.internal) request.log.error({ err }, 'internal error');
    void reply.code(r.status).headers(r.headers).send(r.body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } });
  });

  app.addHook('onRequest', async (request, reply) => {
    const config = (request.routeOptions.config ?? {}) as RouteConfig;
    if (config.ops) return;
    const wait = limiter.take(request.ip);
    if (wait !== null) {
      metrics.rateLimited.inc();
      throw new ApiError('RATE_LIMITED', `too many requests from this client; retry in ${wait} s`, undefined, 429, { 'retry-after': String(wait) });
    }
    if (config.admin && !bearerMatches(request.headers.authorization, options.adminToken)) {
      void reply.header('www-authenticate', 'Bearer');
      throw new ApiError('UNAUTHORIZED', 'this route needs Authorization: Bearer <admin token>');
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.record(request.is404 ? 'unmatched' : route, request.method, reply.statusCode, reply.elapsedTime / 1000);
  });
  app.addHook('preClose', async () => {
    closing = true;
  });
  // While draining, each answered request closes its connection (a kept-alive one would hold the
  // shutdown until its keep-alive timeout).
  app.addHook('onSend', async (_request, reply) => {
    if (closing) void reply.header('connection', 'close');
  });
  app.addHook('onClose', async () => {
    await holder.close();
    await judge.close();
  });

  /** Run `fn` on a lease of the current artifact set. */
  async function withArtifacts<T>(fn: (set: ArtifactSet) => Promise<T>): Promise<T> {
    // Requests already accepted run to the end during shutdown (the server refuses new ones).
    const set = holder.acquire();
    if (!set) {
      throw new ApiError('NOT_READY', 'the service is not ready (loading, or shutting down)');
    }
    try {
      return await fn(set);
    } finally {
      set.release();
    }
  }

  const modelLabel = (set: ArtifactSet) => `${set.info.name}@${set.info.version}`;

  app.post<{ Body: { query: string; k: number; filters?: Filters; explain: boolean } }>('/v1/search', { schema: schemas.search }, async (request) => {
    const t0 = performance.now();
    const { query, k, filters, explain } = request.body;
    return withArtifacts(async (set) => {
      const filter = filters && Object.keys(filters).length ? (item: Parameters<typeof matches>[0]) => matches(item, filters) : undefined;
      const results = await set.search(query, k, { ...(filter ? { filter } : {}), explain });
      return { results, model: modelLabel(set), tookMs: performance.now() - t0 };
    });
  });

  app.post<{ Body: { model?: string; query: string; documents: Array<string | { text: string; title?: string }>; top_n?: number; return_documents: boolean } }>(
    '/v1/rerank',
    { schema: schemas.rerank },
    async (request) => {
      const { query, documents, top_n, return_documents } = request.body;
      return withArtifacts(async (set) => {
        if (!set.canRerankTexts) {
          throw new ApiError(
            'UNSUPPORTED',
            `the loaded model (${set.info.name}) scores catalogue items only; rerank of free texts needs a student model (serve --model student)`,
          );
        }
        const docs = documents.map((d) => (typeof d === 'string' ? { text: d } : d));
        const scores = await set.rerankTexts(query, docs);
        const order = scores.map((s, index) => ({ index, s })).sort((a, b) => b.s - a.s || a.index - b.index);
        const top = order.slice(0, top_n ?? order.length);
        return {
          id: `rerank-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
          model: modelLabel(set),
          results: top.map(({ index, s }) => ({
            index,
            relevance_score: (s - 1) / 4,
            ...(return_documents ? { document: { text: docs[index]!.text } } : {}),
          })),
        };
      });
    },
  );

  app.post<{ Body: { pairs: JudgePairInput[] } }>('/v1/judge', { schema: schemas.judge, config: { admin: true } }, async (request) =>
    withArtifacts(async (set) => {
      const r = await judge.judge(set.dataset, request.body.pairs);
      const spent = judge.spending;
      return { ...r, spent: { calls: spent.calls, inputTokens: spent.inputTokens, outputTokens: spent.outputTokens, usd: spent.usd } };
    }),
  );

  app.post<{ Body: Partial<Omit<ArtifactSpec, 'store'>> & { store?: string } }>(
    '/admin/reload',
    { schema: schemas.reload, config: { admin: true } },
    async (request) => {
      const current = holder.current;
      if (!current || closing) throw new ApiError('NOT_READY', 'the service is shutting down');
      const next: ArtifactSpec = { ...current.spec, ...request.body };
      const t0 = performance.now();
      try {
        const { previous } = await holder.swap(() => ArtifactSet.load(next));
        metrics.reloads.inc({ result: 'ok' });
        return { model: holder.current!.info, previous: previous?.info ?? current.info, loadMs: performance.now() - t0 };
      } catch (e) {
        metrics.reloads.inc({ result: 'failed' });
        const r = toErrorResponse(e);
        const why = r.internal ? (e as Error).message : r.body.error.message;
        throw new ApiError('RELOAD_FAILED', `reload failed, still serving ${modelLabel(current)}: ${why}`, r.body.error.field);
      }
    },
  );

  const ops = { ops: true };
  app.get('/healthz', { schema: schemas.healthz, config: ops }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: schemas.readyz, config: ops }, async () => {
    const set = holder.current;
    if (!set || closing) throw new ApiError('NOT_READY', closing ? 'shutting down' : 'artifacts are not loaded yet');
    return { status: 'ready', model: set.info };
  });
  app.get('/metrics', { schema: schemas.metrics, config: ops }, async (_request, reply: FastifyReply) => {
    const set = holder.current;
    const parts = [metrics.latency.render(), metrics.requests.render(), metrics.rateLimited.render(), metrics.reloads.render()];
    if (set) {
      const i = set.info;
      parts.push(
        gauge('distilrank_model_info', 'The artifact set being served (value 1).', [
          { labels: { model: i.name, version: i.version, dataset: i.dataset, retriever: i.retriever }, value: 1 },
        ]),
      );
      parts.push(gauge('distilrank_inflight_requests', 'Requests holding the current artifact set.', [{ value: set.inFlight }]));
      const stats = (set.retriever as { stats?: () => unknown }).stats;
      if (typeof stats === 'function') parts.push(...retrieverStatsGauges(stats.call(set.retriever)));
    }
    const s = judge.spending;
    parts.push(
      gauge('distilrank_judge_spent', 'What /v1/judge has paid the teacher in this process, by unit.', [
        { labels: { unit: 'calls' }, value: s.calls },
        { labels: { unit: 'tokens' }, value: s.inputTokens + s.outputTokens },
        { labels: { unit: 'usd' }, value: s.usd },
      ]),
    );
    void reply.type('text/plain; version=0.0.4; charset=utf-8');
    return `${parts.join('\n')}\n`;
  });

  const info = {
    title: 'distilrank',
    version: '0.1.0',
    description: 'Search with a distilled relevance model: retrieval, student re-ranking, teacher labels.',
  };
  let doc: Record<string, unknown> | null = null;
  app.get(
    '/openapi.json',
    { schema: schemas.openapi, config: ops },
    async (_request: FastifyRequest) => (doc ??= openApiDocument(info, routes, [ERROR_SCHEMA])),
  );

  await app.ready();
  return app as unknown as ServeApp;
}

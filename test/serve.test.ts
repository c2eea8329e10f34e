/**
 * The HTTP service through fastify's inject() and, where the network matters (reload under load,
 * replicas), real listeners on 127.0.0.1: every route's happy path, the one error shape for every
 * failure (validation, malformed JSON, 404, 413, 415, query too long, refused admin call, rate limit),
 * metrics, the OpenAPI document, judge with a fake LLM endpoint, reload under load.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { studentFeatureSet } from '../src/features/index.ts';
import { LabelCache } from '../src/label/index.ts';
import { buildApp, type AppOptions, type ServeApp } from '../src/serve/index.ts';
import { ADMIN_TOKEN, buildServeFixture, SERVE_DS, type ServeFixture } from './serve-fixture.ts';
import { useFakeOpenAI } from './helpers.ts';

let fx: ServeFixture;
let app: ServeApp;
const apps: ServeApp[] = [];

async function makeApp(extra: Partial<AppOptions> = {}): Promise<ServeApp> {
  const a = await buildApp({
    artifacts: { store: fx.storePath, dataset: SERVE_DS, model: `student:${fx.studentA}` },
    adminToken: ADMIN_TOKEN,
    rateLimit: { perSecond: 0, burst: 1 },
    ...extra,
  });
  apps.push(a);
  return a;
}

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

beforeAll(async () => {
  fx = await buildServeFixture();
  app = await makeApp();
}, 120_000);

afterAll(async () => {
  for (const a of apps) await a.close();
  fx?.cleanup();
});

function expectErrorShape(body: unknown, code: string): void {
  expect(body).toMatchObject({ error: { code, message: expect.any(String) } });
  const e = (body as { error: Record<string, unknown> }).error;
  expect(Object.keys(e).every((k) => ['code', 'message', 'field'].includes(k))).toBe(true);
  expect(JSON.stringify(body)).not.toMatch(/\bat .*\.ts:\d+|node:internal|stack/);
}

describe('POST /v1/search', () => {
  it('returns the top k of the student re-ranking, each with levels that sum to 1 and the model version', async () => {
    const r = await app.inject({ method: 'POST', url: '/v1/search', payload: { query: 'boundary layer flow over a flat plate', k: 5 } });
    expect(r.statusCode).toBe(200);
    const body = r.json<{
      results: Array<{ id: string; title: string; score: number; expectedGrade: number; levels: number[] }>;
      model: string;
      tookMs: number;
    }>();
    expect(body.results).toHaveLength(5);
    expect(body.model).toBe(`student(human)@${app.artifacts.current!.info.version}`);
    for (const res of body.results) {
      expect(res.levels).toHaveLength(5);
      expect(res.levels.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      expect(res.expectedGrade).toBeCloseTo(
        res.levels.reduce((s, p, j) => s + p * (j + 1), 0),
        6,
      );
      expect(res.title.length).toBeGreaterThan(0);
    }
    const scores = body.results.map((x) => x.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    // The re-ranked top is a subset of the same query's BM25 candidates (the retriever is bm25).
    const set = app.artifacts.current!;
    const candidates = new Set((await set.retriever.retrieve('boundary layer flow over a flat plate', 200)).map((c) => c.itemId));
    for (const res of body.results) expect(candidates.has(res.id)).toBe(true);
  });

  it('k defaults to 10; explain adds per-feature contributions sorted by magnitude', async () => {
    const plain = await app.inject({ method: 'POST', url: '/v1/search', payload: { query: 'heat transfer' } });
    expect(plain.json<{ results: unknown[] }>().results).toHaveLength(10);
    const r = await app.inject({ method: 'POST', url: '/v1/search', payload: { query: 'heat transfer', k: 2, explain: true } });
    const results = r.json<{ results: Array<{ explanation: Array<{ feature: string; contribution: number }> }> }>().results;
    expect(results).toHaveLength(2);
    const ex = results[0]!.explanation;
    expect(ex.length).toBe(studentFeatureSet(false).specs.length); // every feature of a student without embeddings
    expect(ex.map((c) => c.feature)).toContain('bm25_title');
    const mags = ex.map((c) => Math.abs(c.contribution));
    expect([...mags].sort((a, b) => b - a)).toEqual(mags);
  });

  it('filters keep only candidates whose stored fields match (exact value, any-of, numeric range)', async () => {
    // Cranfield items have no text fields beyond title/abstract; filter on the item language and on an unknown field.
    const none = await app.inject({ method: 'POST', url: '/v1/search', payload: { query: 'heat transfer', filters: { brand: 'acme' } } });
    expect(none.statusCode).toBe(200);
    expect(none.json<{ results: unknown[] }>().results).toEqual([]);
    const bad = await app.inject({ method: 'POST', url: '/v1/search', payload: { query: 'heat transfer', filters: { brand: { between: 1 } } } });
    expect(bad.statusCode).toBe(400);
    expectErrorShape(bad.json(), 'BAD_REQUEST');
  });

  it('refuses a query over the length limit with QUERY_TOO_LONG, and unknown fields with BAD_REQUEST naming the field', async () => {
    const long = await app.inject({ method: 'POST', url: '/v1/search', payload: { query: 'wing '.repeat(200) } });
    expect(long.statusCode).toBe(400);
    expectErrorShape(long.json(), 'QUERY_TOO_LONG');
    expect(long.json<{ error: { field: string } }>().error.field).toBe('query');
    const extra = await app.inject({ method: 'POST', url: '/v1/search', payload: { query: 'wing', limit: 3 } });
    expect(extra.statusCode).toBe(400);
    expectErrorShape(extra.json(), 'BAD_REQUEST');
    expect(extra.json<{ error: { field: string } }>().error.field).toBe('limit');
    const missing = await app.inject({ method: 'POST', url: '/v1/search', payload: { k: 3 } });
    expect(missing.json<{ error: { field: string } }>().error.field).toBe('query');
    const k = await app.inject({ method: 'POST', url: '/v1/search', payload: { query: 'wing', k: 0 } });
    expect(k.json<{ error: { field: string } }>().error.field).toBe('k');
  });
});

describe('POST /v1/rerank (Cohere / Jina shape)', () => {
  const documents = [
    'a recipe for lemon cake with sugar',
    'the laminar boundary layer on a flat plate in supersonic flow',
    { text: 'boundary layer transition at hypersonic speeds' },
  ];

  it('scores free texts, orders by relevance_score in [0,1], honours top_n and return_documents', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/v1/rerank',
      payload: { model: 'anything', query: 'boundary layer flow', documents, top_n: 2, return_documents: true },
    });
    expect(r.statusCode).toBe(200);
    const body = r.json<{ id: string; results: Array<{ index: number; relevance_score: number; document?: { text: string } }> }>();
    expect(body.results).toHaveLength(2);
    expect(body.id).toMatch(/^rerank-/);
    // The cake recipe shares no term with the query: it must not be in the top 2.
    expect(body.results.map((x) => x.index).sort()).toEqual([1, 2]);
    for (const x of body.results) {
      expect(x.relevance_score).toBeGreaterThanOrEqual(0);
      expect(x.relevance_score).toBeLessThanOrEqual(1);
      const d = documents[x.index]!;
      expect(x.document?.text).toBe(typeof d === 'string' ? d : d.text);
    }
    expect(body.results[0]!.relevance_score).toBeGreaterThanOrEqual(body.results[1]!.relevance_score);
    const all = await app.inject({ method: 'POST', url: '/v1/rerank', payload: { query: 'boundary layer flow', documents } });
    const res = all.json<{ results: Array<{ index: number; document?: unknown }> }>().results;
    expect(res).toHaveLength(3);
    expect(res[2]!.index).toBe(0);
    expect(res[0]!.document).toBeUndefined();
  });

  it('scores a catalogue text the same whether it arrives as free text or is ranked from the catalogue (no brand, no priors)', async () => {
    const set = app.artifacts.current!;
    const [item] = set.dataset.storedItems(['3']);
    // An unjudged catalogue item with no brand: its features as a free text equal its catalogue features.
    const r = await app.inject({
      method: 'POST',
      url: '/v1/rerank',
      payload: { query: 'shear flow past a plate', documents: [{ title: item!.title, text: item!.description ?? '' }] },
    });
    expect(r.statusCode).toBe(200);
    expect(r.json<{ results: Array<{ relevance_score: number }> }>().results[0]!.relevance_score).toBeGreaterThan(0);
  });

  it('refuses an empty document list and a non-JSON body in the error shape', async () => {
    const empty = await app.inject({ method: 'POST', url: '/v1/rerank', payload: { query: 'x', documents: [] } });
    expect(empty.statusCode).toBe(400);
    expectErrorShape(empty.json(), 'BAD_REQUEST');
  });
});

describe('errors: one JSON shape for every failure', () => {
  it('malformed JSON → 400 MALFORMED_JSON', async () => {
    const r = await app.inject({ method: 'POST', url: '/v1/search', payload: '{"query": "wing",', headers: { 'content-type': 'application/json' } });
    expect(r.statusCode).toBe(400);
    expectErrorShape(r.json(), 'MALFORMED_JSON');
  });

  it('unknown route → 404 NOT_FOUND; wrong method → 404', async () => {
    const r = await app.inject({ method: 'GET', url: '/v2/nothing?x=1' });
    expect(r.statusCode).toBe(404);
    expectErrorShape(r.json(), 'NOT_FOUND');
    expect(r.json<{ error: { message: string } }>().error.message).toBe('no route GET /v2/nothing');
    expect((await app.inject({ method: 'GET', url: '/v1/search' })).statusCode).toBe(404);
  });

  it('oversize body → 413 PAYLOAD_TOO_LARGE', async () => {
    const small = await makeApp({ bodyLimit: 2048 });
    const r = await small.inject({
      method: 'POST',
      url: '/v1/rerank',
      payload: { query: 'wing', documents: Array.from({ length: 200 }, () => 'lift and drag of a wing') },
    });
    expect(r.statusCode).toBe(413);
    expectErrorShape(r.json(), 'PAYLOAD_TOO_LARGE');
  });

  it('a body that is not JSON → 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const r = await app.inject({ method: 'POST', url: '/v1/search', payload: 'query=wing', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(r.statusCode).toBe(415);
    expectErrorShape(r.json(), 'UNSUPPORTED_MEDIA_TYPE');
    const text = await app.inject({ method: 'POST', url: '/v1/search', payload: 'wing', headers: { 'content-type': 'text/plain' } });
    expect(text.statusCode).toBe(415);
  });
});

describe('admin routes', () => {
  it('refuse calls without a token or with a wrong one (401, WWW-Authenticate), before reading the body', async () => {
    for (const headers of [
      {},
      { authorization: 'Bearer wrong-token-wrong-token' },
      { authorization: ADMIN_TOKEN },
      { authorization: `Basic ${ADMIN_TOKEN}` },
    ]) {
      const r = await app.inject({ method: 'POST', url: '/admin/reload', payload: {}, headers });
      expect(r.statusCode).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Bearer');
      expectErrorShape(r.json(), 'UNAUTHORIZED');
      const j = await app.inject({ method: 'POST', url: '/v1/judge', payload: '{not json', headers: { ...headers, 'content-type': 'application/json' } });
      expect(j.statusCode).toBe(401);
    }
  });

  it('a failed reload keeps the old set serving and names the error', async () => {
    const before = app.artifacts.current!.info.version;
    const r = await app.inject({ method: 'POST', url: '/admin/reload', payload: { model: `student:${fx.dir}/nothing-here` }, headers: admin });
    expect(r.statusCode).toBe(422);
    expectErrorShape(r.json(), 'RELOAD_FAILED');
    expect(r.json<{ error: { message: string } }>().error.message).toContain('no student model here');
    expect(app.artifacts.current!.info.version).toBe(before);
    const s = await app.inject({ method: 'POST', url: '/v1/search', payload: { query: 'wing', k: 1 } });
    expect(s.json<{ model: string }>().model).toContain(before);
  });
});

describe('POST /v1/judge (admin, budgeted, cached)', () => {
  const fake = useFakeOpenAI();

  it('pays each new pair once, answers repeats from the label cache, and refuses paid calls past the budget with 402', async () => {
    const cachePath = `${fx.dir}/judge-labels.sqlite`;
    const env = {
      DISTILRANK_LLM_BASE_URL: fake.url,
      DISTILRANK_LLM_MODEL: 'fake-judge',
      DISTILRANK_LLM_PRICE_INPUT: '1',
      DISTILRANK_LLM_PRICE_OUTPUT: '2',
      DISTILRANK_LLM_MODE: 'logprobs',
    };
    const j = await makeApp({ judge: { teacher: 'llm', env, cachePath, budget: { calls: 3 } } });
    const pairs = [
      { query: 'boundary layer', itemId: '3' },
      { query: 'boundary layer', text: 'the boundary layer of a flat plate' },
    ];
    const first = await j.inject({ method: 'POST', url: '/v1/judge', payload: { pairs }, headers: admin });
    expect(first.statusCode).toBe(200);
    const b1 = first.json<{
      teacher: { name: string; model: string };
      results: Array<{ cached: boolean; levels: number[]; expectedLevel: number; itemId?: string }>;
      spent: { calls: number; usd: number };
    }>();
    expect(b1.teacher).toMatchObject({ name: 'llm', model: 'fake-judge' });
    expect(b1.results.map((x) => x.cached)).toEqual([false, false]);
    expect(b1.results[0]!.itemId).toBe('3');
    for (const x of b1.results) expect(x.levels.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    // Both texts contain "boundary" and "layer": the fake's rule answers level 3 (1 + 2 words found).
    expect(b1.results[1]!.expectedLevel).toBeGreaterThan(2.5);
    expect(b1.spent.calls).toBe(2);
    expect(b1.spent.usd).toBeGreaterThan(0);
    const calls = fake.requests.length;

    const again = await j.inject({ method: 'POST', url: '/v1/judge', payload: { pairs }, headers: admin });
    expect(again.json<{ results: Array<{ cached: boolean }> }>().results.map((x) => x.cached)).toEqual([true, true]);
    expect(fake.requests.length).toBe(calls);

    // One more paid call fits (3 calls), the next is refused; nothing paid is lost.
    const third = await j.inject({ method: 'POST', url: '/v1/judge', payload: { pairs: [{ query: 'wing lift', itemId: '3' }] }, headers: admin });
    expect(third.statusCode).toBe(200);
    const over = await j.inject({ method: 'POST', url: '/v1/judge', payload: { pairs: [{ query: 'supersonic wing', itemId: '5' }] }, headers: admin });
    expect(over.statusCode).toBe(402);
    expectErrorShape(over.json(), 'BUDGET_EXHAUSTED');
    expect(fake.requests.length).toBe(calls + 1);
    // Cached pairs are still answered after the budget is spent.
    const cachedAfter = await j.inject({ method: 'POST', url: '/v1/judge', payload: { pairs }, headers: admin });
    expect(cachedAfter.statusCode).toBe(200);
    const cache = LabelCache.open(cachePath);
    try {
      expect(cache.count()).toBe(3);
    } finally {
      cache.close();
    }
  });

  it('an unknown item id is refused with its field', async () => {
    const env = { DISTILRANK_LLM_BASE_URL: fake.url, DISTILRANK_LLM_MODEL: 'fake-judge', DISTILRANK_LLM_PRICE_INPUT: '0', DISTILRANK_LLM_PRICE_OUTPUT: '0' };
    const j = await makeApp({ judge: { teacher: 'llm', env, cachePath: `${fx.dir}/judge-2.sqlite` } });
    const r = await j.inject({ method: 'POST', url: '/v1/judge', payload: { pairs: [{ query: 'x', itemId: 'no-such-item' }] }, headers: admin });
    expect(r.statusCode).toBe(400);
    expectErrorShape(r.json(), 'UNKNOWN_REFERENCE');
    expect(r.json<{ error: { field: string } }>().error.field).toBe('pairs.0.itemId');
  });
});

describe('ops routes', () => {
  it('healthz, readyz and metrics answer; metrics carry latency histograms, status counts and the model info', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.json()).toMatchObject({ status: 'ready', model: { dataset: SERVE_DS, retriever: 'bm25', candidates: 200 } });
    await app.inject({ method: 'POST', url: '/v1/search', payload: { query: 'wing', k: 1 } });
    await app.inject({ method: 'GET', url: '/nothing' });
    const m = await app.inject({ method: 'GET', url: '/metrics' });
    expect(m.statusCode).toBe(200);
    expect(m.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = m.body;
    expect(text).toContain('# TYPE distilrank_http_request_duration_seconds histogram');
    expect(text).toMatch(/distilrank_http_request_duration_seconds_bucket\{route="\/v1\/search",method="POST",le="\+Inf"\} \d+/);
    expect(text).toMatch(/distilrank_http_requests_total\{route="\/v1\/search",method="POST",status="200"\} \d+/);
    expect(text).toMatch(/distilrank_http_requests_total\{route="unmatched",method="GET",status="404"\} [1-9]/);
    const v = app.artifacts.current!.info.version;
    expect(text).toContain(`distilrank_model_info{model="student(human)",version="${v}",dataset="${SERVE_DS}",retriever="bm25"} 1`);
    // BM25 answers from the in-memory copy of the FTS5 index: it holds every item and answered the search.
    expect(text).toMatch(/distilrank_retriever_bm25_index_items 1400\n/);
    expect(Number(/distilrank_retriever_bm25_index_answered (\d+)/.exec(text)?.[1])).toBeGreaterThan(0);
    // Cumulative buckets never decrease, and +Inf equals _count.
    const buckets = [...text.matchAll(/distilrank_http_request_duration_seconds_bucket\{route="\/v1\/search",method="POST",le="([^"]+)"\} (\d+)/g)].map((x) =>
      Number(x[2]),
    );
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!).toBeGreaterThanOrEqual(buckets[i - 1]!);
    const count = Number(/distilrank_http_request_duration_seconds_count\{route="\/v1\/search",method="POST"\} (\d+)/.exec(text)![1]);
    expect(buckets.at(-1)).toBe(count);
    // Every sample line is `name{labels} value` or `name value`.
    for (const line of text.trim().split('\n'))
      expect(line).toMatch(/^(# (HELP|TYPE) \S+ .+|[a-z_:][a-z0-9_:]*(\{[^}]*\})? -?[0-9.e+-]+|[a-z_:][a-z0-9_:]*(\{[^}]*\})? \+Inf)$/i);
  });

  it('the OpenAPI document lists every route with its request and response schemas', async () => {
    const r = await app.inject({ method: 'GET', url: '/openapi.json' });
    const doc = r.json<{
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          {
            requestBody?: { content: Record<string, { schema: unknown }> };
            responses: Record<string, { content: Record<string, { schema: unknown }> }>;
            security?: unknown;
          }
        >
      >;
      components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
    }>();
    expect(doc.openapi).toBe('3.1.0');
    const routes = app.printRoutes({ commonPrefix: false });
    const expected = [
      ['post', '/v1/search'],
      ['post', '/v1/rerank'],
      ['post', '/v1/judge'],
      ['post', '/admin/reload'],
      ['get', '/healthz'],
      ['get', '/readyz'],
      ['get', '/metrics'],
      ['get', '/openapi.json'],
    ] as const;
    expect(Object.keys(doc.paths).sort()).toEqual(expected.map((e) => e[1]).sort());
    for (const [method, path] of expected) {
      expect(routes).toContain(path);
      const op = doc.paths[path]![method]!;
      expect(op.responses['200'], `${method} ${path}`).toBeDefined();
      expect(op.responses['400']!.content['application/json']!.schema).toEqual({ $ref: '#/components/schemas/Error' });
      if (method === 'post') expect(op.requestBody!.content['application/json']!.schema).toMatchObject({ type: 'object' });
    }
    expect(doc.paths['/v1/search']!.post!.requestBody!.content['application/json']!.schema).toMatchObject({
      required: ['query'],
      properties: { query: { maxLength: 512 } },
    });
    expect(doc.paths['/admin/reload']!.post!.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/v1/judge']!.post!.responses['401']).toBeDefined();
    expect(doc.components.schemas.Error).toMatchObject({ type: 'object', required: ['error'] });
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    // Every $ref resolves inside the document.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((x) => x[1]!);
    for (const ref of refs) expect(ref).toMatch(/^#\/components\/schemas\/(Error)$/);
  });
});

describe('rate limit', () => {
  it('refuses a client past its bucket with 429 RATE_LIMITED and Retry-After, others and ops routes unaffected', async () => {
    const limited = await makeApp({ rateLimit: { perSecond: 1, burst: 3 } });
    const codes: number[] = [];
    let last: Awaited<ReturnType<typeof limited.inject>> | undefined;
    for (let i = 0; i < 5; i++) {
      last = await limited.inject({ method: 'POST', url: '/v1/search', payload: { query: 'wing', k: 1 }, remoteAddress: '10.0.0.1' });
      codes.push(last.statusCode);
    }
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    expect(Number(last!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expectErrorShape(last!.json(), 'RATE_LIMITED');
    const other = await limited.inject({ method: 'POST', url: '/v1/search', payload: { query: 'wing', k: 1 }, remoteAddress: '10.0.0.2' });
    expect(other.statusCode).toBe(200);
    expect((await limited.inject({ method: 'GET', url: '/healthz', remoteAddress: '10.0.0.1' })).statusCode).toBe(200);
    const m = await limited.inject({ method: 'GET', url: '/metrics' });
    expect(m.body).toMatch(/distilrank_rate_limited_total 2/);
  });
});

async function listen(a: ServeApp): Promise<string> {
  await a.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(a.server.address() as AddressInfo).port}`;
}

async function post(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

describe('reload under load and replicas', () => {
  it('swaps to another student while requests stream in: zero failures, later responses carry the new version', async () => {
    const a = await makeApp();
    const url = await listen(a);
    const oldVersion = a.artifacts.current!.info.version;
    const queries = ['boundary layer', 'heat transfer', 'supersonic flow', 'wing lift', 'shock waves'];
    let stop = false;
    // started: when the request was sent; done: when its answer arrived.
    const seen: Array<{ status: number; model: string; started: number; done: number }> = [];
    const workers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const started = performance.now();
        const r = await post(`${url}/v1/search`, { query: queries[(i + w) % queries.length], k: 10 });
        seen.push({ status: r.status, model: String(r.body.model), started, done: performance.now() });
      }
    });
    await new Promise((res) => setTimeout(res, 300));
    const t0 = performance.now();
    const reload = await fetch(`${url}/admin/reload`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ model: `student:${fx.studentB}` }),
    });
    const t1 = performance.now();
    expect(reload.status).toBe(200);
    const info = (await reload.json()) as { model: { version: string }; previous: { version: string } };
    expect(info.previous.version).toBe(oldVersion);
    expect(info.model.version).not.toBe(oldVersion);
    await new Promise((res) => setTimeout(res, 300));
    stop = true;
    await Promise.all(workers);
    expect(seen.filter((s) => s.status !== 200)).toEqual([]);
    expect(seen.filter((s) => s.done < t0).length).toBeGreaterThan(0);
    expect(seen.filter((s) => s.done < t0).every((s) => s.model.endsWith(oldVersion))).toBe(true);
    // Requests sent after the reload answered are served by the new set.
    const after = seen.filter((s) => s.started > t1);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((s) => s.model.endsWith(info.model.version))).toBe(true);
  }, 60_000);
});

/**
 * `distilrank serve` as a user runs it (a separate process): it binds 127.0.0.1, prints the URL and a
 * generated admin token, answers, and on SIGTERM lets a request that is in flight finish before it
 * closes the artifacts and exits 0. Two such processes over the same artifacts (replicas behind a
 * load balancer) answer identically.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelCard } from '../src/student/index.ts';
import { CLI, DATA_DIR } from './helpers.ts';
import { buildServeFixture, SERVE_DS, type ServeFixture } from './serve-fixture.ts';

let fx: ServeFixture;
beforeAll(async () => {
  fx = await buildServeFixture();
}, 120_000);
afterAll(() => fx?.cleanup());

function startServe(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ child: ChildProcessWithoutNullStreams; url: string; stdout: () => string; stderr: () => string; exit: Promise<number | null> }> {
  const child = spawn(
    process.execPath,
    [CLI, '--store', fx.storePath, 'serve', '--dataset', SERVE_DS, '--port', '0', '--model', `student:${fx.studentA}`, ...args],
    {
      cwd: fx.dir,
      env: { ...process.env, DISTILRANK_DATA_DIR: DATA_DIR, CI: 'true', DISTILRANK_ADMIN_TOKEN: '', ...env },
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start\nstdout: ${out}\nstderr: ${err}`)), 60_000);
    child.stdout.on('data', () => {
      const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m && out.includes('try: curl')) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, stdout: () => out, stderr: () => err, exit });
      }
    });
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code}\nstdout: ${out}\nstderr: ${err}`));
    });
  });
}

describe('distilrank serve', () => {
  it('binds 127.0.0.1, prints the URL and a generated admin token, and answers a search', async () => {
    const s = await startServe([]);
    try {
      expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const token = /admin token \(generated[^)]*\): (\S+)/.exec(s.stdout())?.[1];
      expect(token?.length).toBeGreaterThanOrEqual(32);
      const r = await fetch(`${s.url}/v1/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'heat transfer', k: 3 }),
      });
      expect(r.status).toBe(200);
      expect(((await r.json()) as { results: unknown[] }).results).toHaveLength(3);
      const refused = await fetch(`${s.url}/admin/reload`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(refused.status).toBe(401);
      const accepted = await fetch(`${s.url}/admin/reload`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: '{}',
      });
      expect(accepted.status).toBe(200);
    } finally {
      s.child.kill('SIGTERM');
      expect(await s.exit).toBe(0);
    }
  }, 90_000);

  it('on SIGTERM finishes the request in flight, refuses new connections, closes and exits 0', async () => {
    const s = await startServe([]);
    const { port } = new URL(s.url);
    const body = JSON.stringify({ query: 'boundary layer on a flat plate', k: 5 });
    // A request whose body arrives in two parts: it is in flight when SIGTERM lands.
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: Number(port),
          method: 'POST',
          path: '/v1/search',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 10));
      setTimeout(() => {
        s.child.kill('SIGTERM');
        setTimeout(() => {
          // Stopped accepting: a new connection is refused while the old request is still open.
          fetch(`${s.url}/healthz`).then(
            () => reject(new Error('a new connection was accepted after SIGTERM')),
            () => req.end(body.slice(10)),
          );
        }, 500);
      }, 300);
    });
    const r = await response;
    const t0 = performance.now();
    expect(r.status).toBe(200);
    expect((JSON.parse(r.text) as { results: unknown[] }).results).toHaveLength(5);
    expect(await s.exit).toBe(0);
    // Drained, not cut off at the drain time limit.
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(s.stderr()).toContain('drained in-flight requests');
    expect(s.stderr()).not.toMatch(/^\s+at /m);
  }, 90_000);

  it('refuses an unknown retriever, a short admin token and a port in use with a code and a hint, exit 1', async () => {
    await expect(startServe(['--retriever', 'nope'])).rejects.toThrow(/exited 1[\s\S]*error\[UNKNOWN_NAME\][\s\S]*hint/);
    await expect(startServe([], { DISTILRANK_ADMIN_TOKEN: 'short' })).rejects.toThrow(/exited 1[\s\S]*error\[BAD_OPTION\][\s\S]*at least 16[\s\S]*hint/);
    const blocker = createServer();
    await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', res));
    try {
      const port = String((blocker.address() as AddressInfo).port);
      const e = startServe(['--port', port]);
      await expect(e).rejects.toThrow(new RegExp(`exited 1[\\s\\S]*error\\[BAD_OPTION\\][\\s\\S]*127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\)`));
      await expect(e).rejects.not.toThrow(/^\s+at /m);
    } finally {
      blocker.close();
    }
  }, 90_000);
});

async function postJson(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

describe('two distilrank serve processes over the same artifacts (replicas)', () => {
  it('return identical rankings (ids, order, scores, levels, explanations) and rerank scores, report the same model version, and exit 0 on SIGTERM', async () => {
    const [a, b] = await Promise.all([startServe([]), startServe([])]);
    try {
      expect(a.url).not.toBe(b.url);
      // Same model version on /readyz, and it is the served artifact's (the ONNX checksum prefix).
      const card = JSON.parse(readFileSync(join(fx.studentA, 'card.json'), 'utf8')) as ModelCard;
      const ready = await Promise.all(
        [a, b].map(async (s) => {
          const r = await fetch(`${s.url}/readyz`);
          expect(r.status).toBe(200);
          return ((await r.json()) as { model: { name: string; version: string; dataset: string; retriever: string; candidates: number } }).model;
        }),
      );
      expect(ready[0]!.version).toBe(card.onnxSha256.slice(0, 12));
      const { name, version, dataset, retriever, candidates } = ready[0]!;
      expect(ready[1]).toMatchObject({ name, version, dataset, retriever, candidates });

      const searches = [
        { query: 'boundary layer flow over a flat plate', k: 20 },
        { query: 'heat transfer in slip flow', k: 10, explain: true },
        { query: 'supersonic wing', k: 25 },
        { query: 'panel flutter', k: 15 },
        { query: 'what is the effect of yaw on the pressure distribution', k: 50 },
      ];
      for (const body of searches) {
        const [x, y] = await Promise.all([postJson(`${a.url}/v1/search`, body), postJson(`${b.url}/v1/search`, body)]);
        expect([x.status, y.status]).toEqual([200, 200]);
        const rx = x.body.results as Array<{ id: string; score: number; explanation?: unknown[] }>;
        const ry = y.body.results as typeof rx;
        expect(rx).toHaveLength(body.k);
        expect(ry.map((r) => r.id)).toEqual(rx.map((r) => r.id));
        expect(ry.map((r) => r.score)).toEqual(rx.map((r) => r.score));
        expect(ry).toEqual(rx); // titles, levels and explanations too
        if (body.explain) expect(rx[0]!.explanation!.length).toBeGreaterThan(0);
        expect(new Set(rx.map((r) => r.score)).size).toBeGreaterThan(1); // a real ranking, not a constant
        expect(y.body.model).toBe(x.body.model);
        expect(x.body.model).toBe(`${name}@${version}`);
      }

      const reranks = [
        {
          query: 'boundary layer flow over a flat plate',
          documents: [
            'laminar boundary layer on a flat plate at zero incidence',
            'panel flutter at supersonic speeds',
            'heat transfer to a cylinder',
            'the flat plate',
          ],
        },
        {
          query: 'heat transfer in slip flow',
          documents: [
            { title: 'slip flow heat transfer', text: 'heat transfer from a sphere in rarefied gas, slip flow regime' },
            { text: 'buckling of thin cylindrical shells' },
            { title: 'Couette flow', text: 'temperature jump at the wall' },
          ],
          top_n: 2,
        },
      ];
      for (const body of reranks) {
        const [x, y] = await Promise.all([postJson(`${a.url}/v1/rerank`, body), postJson(`${b.url}/v1/rerank`, body)]);
        expect([x.status, y.status]).toEqual([200, 200]);
        const rx = x.body.results as Array<{ index: number; relevance_score: number }>;
        expect(rx).toHaveLength(body.top_n ?? body.documents.length);
        expect(y.body.results).toEqual(rx);
        expect(y.body.model).toBe(x.body.model);
      }
    } finally {
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
    }
    expect(await a.exit).toBe(0);
    expect(await b.exit).toBe(0);
  }, 120_000);
});

/**
 * `distilrank serve` as a user runs it (a separate process): it binds 127.0.0.1, prints the URL and a
 * generated admin token, answers, and on SIGTERM lets a request that is in flight finish before it
 * closes the artifacts and exits 0.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, DATA_DIR } from './helpers.ts';
import { buildServeFixture, SERVE_DS, type ServeFixture } from './serve-fixture.ts';

let fx: ServeFixture;
beforeAll(async () => {
  fx = await buildServeFixture();
}, 120_000);
afterAll(() => fx?.cleanup());

function startServe(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcessWithoutNullStreams; url: string; stdout: () => string; stderr: () => string; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, [CLI, '--store', fx.storePath, 'serve', '--dataset', SERVE_DS, '--port', '0', '--model', `student:${fx.studentA}`, ...args], {
    cwd: fx.dir,
    env: { ...process.env, DISTILRANK_DATA_DIR: DATA_DIR, CI: 'true', DISTILRANK_ADMIN_TOKEN: '', ...env },
  });
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
      const r = await fetch(`${s.url}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'heat transfer', k: 3 }) });
      expect(r.status).toBe(200);
      expect(((await r.json()) as { results: unknown[] }).results).toHaveLength(3);
      const refused = await fetch(`${s.url}/admin/reload`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(refused.status).toBe(401);
      const accepted = await fetch(`${s.url}/admin/reload`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '{}' });
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
      const req = request({ host: '127.0.0.1', port: Number(port), method: 'POST', path: '/v1/search', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
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

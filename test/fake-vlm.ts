/**
 * Test servers for the captions job, both real node:http servers on 127.0.0.1 (port 0):
 *
 * - `startImageServer()`: serves tiny PNGs the test generates (`tinyPng`), and the hostile cases an
 *   untrusted image URL can be: an oversize body (declared or streamed), a body that never ends, a
 *   non-image content type, redirects (to anywhere the test says).
 * - `startFakeVlm()`: an OpenAI-compatible POST /v1/chat/completions that reads image content parts
 *   (`{type: 'image_url', image_url: {url}}`, a data: URL or an http URL) and answers a caption, with
 *   scripted faults (429 + Retry-After, 5xx, hang, malformed body, refusal) and an optional fixed
 *   latency. It records every request with the SHA-256 of the image it carried.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { deflateSync } from 'node:zlib';
import { listen } from './fake-server.ts';

// ---------------------------------------------------------------------------------------------
// A tiny PNG, built here (no fixture files)

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A valid w×h RGB PNG whose pixels come from SHA-256(seed) (distinct seeds give distinct bytes). */
export function tinyPng(seed: string, w = 2, h = 2): Buffer {
  const digest = createHash('sha256').update(seed).digest();
  const pixel = (x: number, y: number) => digest.subarray(((y * w + x) * 3) % 30, (((y * w + x) * 3) % 30) + 3);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  const row = (y: number) => Buffer.concat([Buffer.from([0]), ...Array.from({ length: w }, (_, x) => pixel(x, y))]);
  const raw = Buffer.concat(Array.from({ length: h }, (_, y) => row(y)));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export const sha256hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

// ---------------------------------------------------------------------------------------------
// The image server

export interface ImageServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** URL of the PNG for `name` (GET /img/NAME.png). */
  imageUrl(name: string): string;
  /** Paths requested, in order. */
  hits: string[];
  close(): Promise<void>;
}

/**
 * Routes: /img/NAME.png (tinyPng(NAME)); /big (streams 6 MiB of image/png, no Content-Length);
 * /big-declared (Content-Length 6 MiB); /slow (headers, then a body that never ends); /html (a page);
 * /redirect?to=URL (302); /hops/N (N redirects in a row, then a PNG); anything else 404.
 */
export async function startImageServer(): Promise<ImageServer> {
  const hits: string[] = [];
  const running = await listen((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    hits.push(u.pathname);
    const img = /^\/img\/([^/]+)\.png$/.exec(u.pathname);
    if (img) {
      const body = tinyPng(decodeURIComponent(img[1]!));
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length });
      res.end(body);
      return;
    }
    if (u.pathname === '/big') {
      res.writeHead(200, { 'content-type': 'image/png' });
      const block = Buffer.alloc(64 * 1024, 7);
      let sent = 0;
      const pump = () => {
        while (sent < 6 * 1024 * 1024) {
          sent += block.length;
          if (!res.write(block)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('error', () => {});
      pump();
      return;
    }
    if (u.pathname === '/big-declared') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(6 * 1024 * 1024) });
      res.write(Buffer.alloc(1024));
      return; // the client must refuse on the header alone
    }
    if (u.pathname === '/slow') {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.write(tinyPng('slow').subarray(0, 10));
      return; // never ends
    }
    if (u.pathname === '/html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<html><body>not an image</body></html>');
      return;
    }
    if (u.pathname === '/redirect') {
      res.writeHead(302, { location: u.searchParams.get('to') ?? '/' });
      res.end();
      return;
    }
    const hops = /^\/hops\/(\d+)$/.exec(u.pathname);
    if (hops) {
      const n = Number(hops[1]);
      res.writeHead(302, { location: n > 0 ? `/hops/${n - 1}` : '/img/after-hops.png' });
      res.end();
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('no such image');
  });
  return { url: running.url, imageUrl: (name) => `${running.url}/img/${encodeURIComponent(name)}.png`, hits, close: running.close };
}

// ---------------------------------------------------------------------------------------------
// The fake VLM

export interface VlmRequest {
  body: Record<string, unknown>;
  /** The image_url.url of the first image part ('' when none). */
  imageUrl: string;
  /** SHA-256 of the image bytes when sent as a data: URL; null otherwise. */
  imageSha256: string | null;
  /** The text parts of the user message, joined. */
  text: string;
}

export type VlmReply =
  | { kind: 'caption'; caption?: string; usage?: { prompt_tokens: number; completion_tokens: number } }
  | { kind: 'refusal'; message?: string }
  | { kind: 'error'; status: number; headers?: Readonly<Record<string, string>> }
  | { kind: 'raw'; body: string }
  | { kind: 'hang' };

export type VlmBehaviour = VlmReply | ((req: VlmRequest, index: number) => VlmReply);

export interface FakeVlmOptions {
  behaviour?: VlmBehaviour;
  /** Milliseconds before each answer (the endpoint's latency). */
  latencyMs?: number;
}

export interface FakeVlm {
  /** Base URL ending in /v1. */
  url: string;
  requests: VlmRequest[];
  setBehaviour(b: VlmBehaviour): void;
  close(): Promise<void>;
}

/** Prompt tokens the fake charges for one image (as hosted VLMs charge a fixed tile cost). */
export const IMAGE_TOKENS = 85;

/** The caption the fake gives an image by default: names the first bytes of its hash. */
export function defaultCaption(sha: string | null, url: string): string {
  return sha ? `A small square product photo, colour code ${sha.slice(0, 8)}.` : `A product photo from ${url}.`;
}

function parseRequest(body: Record<string, unknown>): VlmRequest {
  let imageUrl = '';
  let imageSha256: string | null = null;
  const texts: string[] = [];
  const messages = Array.isArray(body.messages) ? (body.messages as Array<{ role?: string; content?: unknown }>) : [];
  for (const m of messages) {
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') texts.push(m.content);
    if (!Array.isArray(m.content)) continue;
    for (const part of m.content as Array<Record<string, unknown>>) {
      if (part.type === 'text' && typeof part.text === 'string') texts.push(part.text);
      if (part.type === 'image_url' && !imageUrl) {
        const u = (part.image_url as { url?: unknown } | undefined)?.url;
        if (typeof u === 'string') {
          imageUrl = u;
          const data = /^data:image\/[a-z0-9.+-]+;base64,(.*)$/is.exec(u);
          if (data) imageSha256 = sha256hex(Buffer.from(data[1]!, 'base64'));
        }
      }
    }
  }
  return { body, imageUrl, imageSha256, text: texts.join('\n') };
}

export async function startFakeVlm(opts: FakeVlmOptions = {}): Promise<FakeVlm> {
  let behaviour: VlmBehaviour = opts.behaviour ?? { kind: 'caption' };
  const requests: VlmRequest[] = [];
  let id = 0;
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const running = await listen(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      json(res, 404, { error: { message: `no route ${req.method} ${path}` } });
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      json(res, 400, { error: { message: 'body is not JSON' } });
      return;
    }
    const parsed = parseRequest(body);
    requests.push(parsed);
    const reply = typeof behaviour === 'function' ? behaviour(parsed, requests.length - 1) : behaviour;
    if (reply.kind === 'hang') return;
    if (opts.latencyMs) await new Promise((r) => setTimeout(r, opts.latencyMs));
    const model = typeof body.model === 'string' ? body.model : 'fake-vlm';
    switch (reply.kind) {
      case 'error':
        json(res, reply.status, { error: { message: `fake error ${reply.status}`, type: 'fake_error' } }, { ...reply.headers });
        return;
      case 'raw':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(reply.body);
        return;
      case 'refusal':
      case 'caption': {
        const refusal = reply.kind === 'refusal' ? (reply.message ?? "I'm sorry, I can't help with that image.") : null;
        const content = reply.kind === 'caption' ? (reply.caption ?? defaultCaption(parsed.imageSha256, parsed.imageUrl)) : null;
        const usage = (reply.kind === 'caption' ? reply.usage : undefined) ?? {
          prompt_tokens: IMAGE_TOKENS + Math.ceil(parsed.text.length / 4),
          completion_tokens: content ? content.split(/\s+/).length : 3,
        };
        id += 1;
        json(res, 200, {
          id: `chatcmpl-vlm-${id}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model,
          choices: [{ index: 0, message: { role: 'assistant', content, refusal }, logprobs: null, finish_reason: 'stop' }],
          usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
        });
        return;
      }
    }
  });
  return {
    url: `${running.url}/v1`,
    requests,
    setBehaviour(b) {
      behaviour = b;
    },
    close: running.close,
  };
}

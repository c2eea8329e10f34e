/**
 * A fake OpenAI-compatible chat-completions server for tests: a real node:http server on
 * 127.0.0.1 (port 0) that answers POST /v1/chat/completions in the documented response shape,
 * records every request, and can be scripted per test with faults (429, 5xx, hangs, malformed
 * bodies, stalled bodies, missing logprobs, 401).
 *
 *   const fake = await startFakeOpenAI();
 *   const teacher = new LlmTeacher({ baseURL: fake.url, model: 'fake', … });
 *   fake.setBehaviour({ kind: 'error', status: 429, headers: { 'retry-after': '2' } });
 *   …
 *   await fake.close();
 *
 * Default behaviour (`{ kind: 'answer' }` with nothing scripted): the level is 1 + the number of
 * distinct query words (from the <query> block of the last user message) that occur in the <item>
 * block, clipped to 5. Logprobs put 0.85 on that level and 0.0375 on each other level, plus a blank
 * token with a tiny probability (so clients must normalise); json_schema requests get `{"level": n}`.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { listen } from './fake-server.ts';

export interface FakeRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (or the raw text when it was not JSON). */
  body: Record<string, unknown>;
  raw: string;
}

export interface FakeUsage {
  prompt_tokens: number;
  completion_tokens: number;
}

export type FakeReply =
  | {
      kind: 'answer';
      /** The level to answer (default: the deterministic rule). */
      level?: number;
      /** token → probability of the first generated token (logprobs = ln p); the argmax is the answer. */
      top?: Readonly<Record<string, number>>;
      /** Levels of successive samples (for json_schema requests), cycled across choices and calls. */
      samples?: readonly (number | string)[];
      /** The message content to send as is (overrides level/top/samples for content). */
      content?: string;
      /** Include logprobs when asked (default: the server's `logprobs` option). */
      logprobs?: boolean;
      /** Usage per response (default: prompt ≈ characters / 4, completion = 1 per digit, 6 per JSON sample). */
      usage?: Partial<FakeUsage> | null;
    }
  | { kind: 'error'; status: number; headers?: Readonly<Record<string, string>>; message?: string }
  | { kind: 'raw'; status?: number; contentType?: string; body: string }
  /** Never answer at all. */
  | { kind: 'hang' }
  /** Send 200 and the first bytes of a body, then never finish it. */
  | { kind: 'stall' }
  /** Close the connection without an answer. */
  | { kind: 'drop' };

export type FakeBehaviour = FakeReply | ((req: FakeRequest, index: number) => FakeReply | Promise<FakeReply>);

export interface FakeOpenAIOptions {
  behaviour?: FakeBehaviour;
  /** Honour `n` (default true). False mimics servers that ignore it (one choice per call). */
  supportsN?: boolean;
  /** Return logprobs when asked (default true). False mimics servers that ignore `logprobs`. */
  logprobs?: boolean;
}

export interface FakeOpenAI {
  /** Base URL to give the client, ending in /v1. */
  url: string;
  /** Every request received, in order. */
  requests: FakeRequest[];
  setBehaviour(b: FakeBehaviour): void;
  close(): Promise<void>;
}

/** The text between <tag> and </tag> in `s` (first occurrence), or ''. */
export function block(s: string, tag: string): string {
  const open = `<${tag}>`;
  const i = s.indexOf(open);
  const j = s.indexOf(`</${tag}>`, i + open.length);
  return i < 0 || j < 0 ? '' : s.slice(i + open.length, j);
}

/** The messages of a recorded request. */
export function messagesOf(req: FakeRequest): Array<{ role: string; content: string }> {
  const m = req.body.messages;
  return Array.isArray(m) ? (m as Array<{ role: string; content: string }>) : [];
}

/** The deterministic default level of a request: 1 + query words found in the item block, clipped to 5. */
export function ruleLevel(req: FakeRequest): number {
  const user = [...messagesOf(req)].reverse().find((m) => m.role === 'user')?.content ?? '';
  const words = (s: string): string[] =>
    s
      .toLowerCase()
      .split(/[^\p{L}\p{N}]+/u)
      .filter((w) => w.length > 0);
  const item = new Set(words(block(user, 'item')));
  const query = new Set(words(block(user, 'query')));
  let found = 0;
  for (const w of query) if (item.has(w)) found += 1;
  return Math.min(5, 1 + found);
}

function defaultTop(level: number): Record<string, number> {
  const top: Record<string, number> = {};
  for (let l = 1; l <= 5; l++) top[String(l)] = l === level ? 0.85 : 0.0375;
  top[' '] = 0.001;
  return top;
}

export async function startFakeOpenAI(opts: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  let behaviour: FakeBehaviour = opts.behaviour ?? { kind: 'answer' };
  const supportsN = opts.supportsN ?? true;
  const serverLogprobs = opts.logprobs ?? true;
  const requests: FakeRequest[] = [];
  let sampleCursor = 0;
  let completionId = 0;

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body);
  };

  const answer = (req: FakeRequest, reply: Extract<FakeReply, { kind: 'answer' }>): Record<string, unknown> => {
    const body = req.body;
    const json =
      typeof body.response_format === 'object' && body.response_format !== null && (body.response_format as { type?: unknown }).type === 'json_schema';
    const n = supportsN && typeof body.n === 'number' && body.n > 1 ? body.n : 1;
    const wantLogprobs = body.logprobs === true && (reply.logprobs ?? serverLogprobs);
    const topN = typeof body.top_logprobs === 'number' ? body.top_logprobs : 0;
    const level = reply.level ?? ruleLevel(req);
    const choices: Record<string, unknown>[] = [];
    let completionTokens = 0;
    for (let i = 0; i < n; i++) {
      let content: string;
      let top: Record<string, number> | undefined;
      if (reply.content !== undefined) {
        content = reply.content;
      } else if (json) {
        const sample = reply.samples && reply.samples.length > 0 ? reply.samples[sampleCursor++ % reply.samples.length]! : level;
        content = typeof sample === 'string' ? sample : JSON.stringify({ level: sample });
      } else {
        top = { ...(reply.top ?? defaultTop(level)) };
        content = Object.entries(top).sort((a, b) => b[1] - a[1])[0]![0];
      }
      completionTokens += json ? 6 : 1;
      let logprobs: unknown = null;
      if (wantLogprobs) {
        const t = top ?? { [content]: 1 };
        const entries = Object.entries(t)
          .sort((a, b) => b[1] - a[1])
          .slice(0, Math.max(topN, 1))
          .map(([token, p]) => ({ token, logprob: Math.log(p), bytes: [...Buffer.from(token)] }));
        logprobs = {
          content: [{ token: content, logprob: Math.log(t[content] ?? 1), bytes: [...Buffer.from(content)], top_logprobs: entries }],
          refusal: null,
        };
      }
      choices.push({ index: i, message: { role: 'assistant', content, refusal: null }, logprobs, finish_reason: 'stop' });
    }
    const chars = messagesOf(req).reduce((s, m) => s + String(m.content).length, 0);
    const usage =
      reply.usage === null
        ? undefined
        : {
            prompt_tokens: reply.usage?.prompt_tokens ?? Math.ceil(chars / 4),
            completion_tokens: reply.usage?.completion_tokens ?? completionTokens,
          };
    completionId += 1;
    return {
      id: `chatcmpl-fake-${completionId}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: typeof body.model === 'string' ? body.model : 'fake',
      choices,
      ...(usage ? { usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } } : {}),
    };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed === 'object' && parsed !== null) body = parsed as Record<string, unknown>;
    } catch {
      body = {};
    }
    const path = (req.url ?? '/').split('?')[0]!;
    const recorded: FakeRequest = { method: req.method ?? 'GET', path, headers: req.headers, body, raw };
    requests.push(recorded);
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      send(res, 404, JSON.stringify({ error: { message: `no route ${req.method} ${path}`, type: 'invalid_request_error' } }));
      return;
    }
    const reply = typeof behaviour === 'function' ? await behaviour(recorded, requests.length - 1) : behaviour;
    switch (reply.kind) {
      case 'hang':
        return; // never answer; close() destroys the socket
      case 'stall':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"id": "chatcmpl-stalled", "choices": [');
        return;
      case 'drop':
        req.socket.destroy();
        return;
      case 'raw':
        res.writeHead(reply.status ?? 200, { 'content-type': reply.contentType ?? 'application/json' });
        res.end(reply.body);
        return;
      case 'error':
        send(
          res,
          reply.status,
          JSON.stringify({ error: { message: reply.message ?? `fake error ${reply.status}`, type: 'fake_error', code: null, param: null } }),
          { ...reply.headers },
        );
        return;
      case 'answer':
        send(res, 200, JSON.stringify(answer(recorded, reply)));
        return;
    }
  };

  const running = await listen((req, res) =>
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, JSON.stringify({ error: { message: String(e) } }));
      else res.destroy();
    }),
  );

  return {
    url: `${running.url}/v1`,
    requests,
    setBehaviour(b: FakeBehaviour): void {
      behaviour = b;
    },
    close: running.close,
  };
}

/**
 * Shared test setup: where the real data sets live, temp folders, stores, fake servers, running the
 * CLI as a user does, and catching the DistilrankError a call throws.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { DistilrankError, discreteMapping } from '../src/core/index.ts';
import { datasetAdapter } from '../src/ingest/datasets/index.ts';
import type { DatasetBundle } from '../src/ingest/index.ts';
import { Store } from '../src/store/index.ts';
import { startFakeOpenAI, type FakeOpenAI, type FakeOpenAIOptions } from './fake-openai.ts';
import { startFakeVlm, startImageServer, type FakeVlm, type FakeVlmOptions, type ImageServer } from './fake-vlm.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The shared data sets (read-only): DISTILRANK_DATA_DIR, else ../shared/data beside the repository. */
export const DATA_DIR = process.env.DISTILRANK_DATA_DIR ?? resolve(REPO_ROOT, '..', 'shared', 'data');
export const CLI = join(REPO_ROOT, 'bin', 'distilrank.js');

/** The built-in data set `name` (cranfield, home-depot, icecat-chorus) as its adapter loads it from DATA_DIR. */
export function builtInBundle(name: string): DatasetBundle {
  return datasetAdapter(name).load(join(DATA_DIR, name));
}

export function tempDir(prefix = 'distilrank-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A temp folder that vitest hooks make and remove (see useTempDir). */
export interface TempFolder {
  /** The folder (only inside tests and hooks: it is made in a before hook). */
  readonly path: string;
  /** Write `content` to the file `name` in the folder; its path. */
  write(name: string, content: string | Buffer): string;
  /** A path in the folder no other call returned: `NAME-N` + `ext` (N counts up from 1). */
  fresh(name: string, ext?: string): string;
}

/**
 * A temp folder for the tests of this file (or of the describe block it is called in), made in
 * beforeAll and removed in afterAll; with `each`, a new one for every test (beforeEach/afterEach).
 * Call it before the hooks that use it: vitest runs before hooks in order and after hooks in reverse.
 */
export function useTempDir(prefix: string, opts: { each?: boolean } = {}): TempFolder {
  let dir: { path: string; cleanup: () => void } | undefined;
  let counter = 0;
  (opts.each ? beforeEach : beforeAll)(() => {
    dir = tempDir(prefix);
  });
  (opts.each ? afterEach : afterAll)(() => {
    dir?.cleanup();
    dir = undefined;
  });
  const folder: TempFolder = {
    get path(): string {
      if (!dir) throw new Error(`the temp folder ${prefix}* exists only inside tests and hooks`);
      return dir.path;
    },
    write(name, content) {
      const p = join(folder.path, name);
      writeFileSync(p, content);
      return p;
    },
    fresh: (name, ext = '') => join(folder.path, `${name}-${++counter}${ext}`),
  };
  return folder;
}

/** A new temp folder on every call, all of them removed after each test. */
export function useWorkDirs(prefix: string): () => string {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    while (cleanups.length) cleanups.pop()!();
  });
  return () => {
    const t = tempDir(prefix);
    cleanups.push(t.cleanup);
    return t.path;
  };
}

/** A new store at `path` (created), holding `bundles` ingested in order with `opts`. */
export function ingestedStore(path: string, bundles: DatasetBundle | readonly DatasetBundle[], opts?: Parameters<Store['ingest']>[1]): Store {
  const store = Store.open(path, { create: true });
  for (const b of Array.isArray(bundles) ? bundles : [bundles as DatasetBundle]) store.ingest(b, opts);
  return store;
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run `distilrank ARGS` in `cwd` as a separate process (no TTY, CI-like environment). */
export function runCli(args: readonly string[], opts: { cwd: string; env?: Record<string, string | undefined>; timeoutMs?: number }): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd,
    encoding: 'utf8',
    env: { ...process.env, DISTILRANK_DATA_DIR: DATA_DIR, CI: 'true', ...opts.env },
    timeout: opts.timeoutMs ?? 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * runCli, but asynchronous: for tests whose fake servers live in the test process and must keep
 * answering while the CLI runs.
 */
export function runCliAsync(args: readonly string[], cwd: string, env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, DISTILRANK_DATA_DIR: DATA_DIR, CI: 'true', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** The DistilrankError `fn` throws (any other error is rethrown; no error fails the test). */
export function caught(fn: () => unknown): DistilrankError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DistilrankError) return e;
    throw e;
  }
  throw new Error('expected a DistilrankError, but nothing was thrown');
}

/** The error of class `type` that `p` rejects with (any other error is rethrown; fulfilling fails the test). */
export async function rejectedWith<E extends Error>(type: abstract new (...args: never[]) => E, p: Promise<unknown>): Promise<E> {
  try {
    await p;
  } catch (e) {
    if (e instanceof type) return e;
    throw e;
  }
  throw new Error(`expected a ${type.name}, but nothing was thrown`);
}

/** The DistilrankError `p` rejects with (any other error is rethrown; fulfilling fails the test). */
export const rejected = (p: Promise<unknown>): Promise<DistilrankError> => rejectedWith(DistilrankError, p);

/** Where the DistilrankError `fn` throws points (code, file, line, field); it must carry a hint. */
export function errorWhere(fn: () => unknown): { code: string; file?: string; line?: number; field?: string } {
  const e = caught(fn);
  expect(e.details.hint ?? '').not.toBe('');
  return { code: e.code, file: e.details.file, line: e.details.line, field: e.details.field };
}

/** The result of a command that must succeed: its output, or an error showing both streams. */
export function ok(r: CliResult): CliResult {
  if (r.status !== 0) throw new Error(`exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** A user-caused failure prints a message and a hint, never a stack trace or an internal error. */
export function noStackTrace(r: CliResult): void {
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toContain('node:internal');
  expect(r.stderr).not.toContain('internal error');
}

/** The identity five-point scale (grade g → level g) of the synthetic test catalogues. */
export const SYNTH_SCALE = discreteMapping('synth-1-5', 'synthetic five-point scale', [
  [1, 1, '1 → L1'],
  [2, 2, '2 → L2'],
  [3, 3, '3 → L3'],
  [4, 4, '4 → L4'],
  [5, 5, '5 → L5'],
]);

/** The 0–3 scale of the small hand-made test data sets: 0 → L1, 1 → L3, 2 → L4, 3 → L5. */
export const TEST_SCALE = discreteMapping('test-0-3', 'test scale', [
  [0, 1, '0 → L1'],
  [1, 3, '1 → L3'],
  [2, 4, '2 → L4'],
  [3, 5, '3 → L5'],
]);

/**
 * Run `fn` on a second, raw SQLite connection to a store file: how a test plants or inspects rows the
 * store's API never writes (the store's own handle is private to src/store/). WAL mode lets it read
 * and write beside the store's connection.
 */
export function withRawDb<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/**
 * The environment that points distilrank's llm teacher at `url` (a fake server): model fake-judge,
 * $0.5 / $1.5 per million tokens, and `more` on top.
 */
export function llmEnv(url: string, more: Record<string, string> = {}): Record<string, string> {
  return { DISTILRANK_LLM_BASE_URL: url, DISTILRANK_LLM_MODEL: 'fake-judge', DISTILRANK_LLM_PRICE_INPUT: '0.5', DISTILRANK_LLM_PRICE_OUTPUT: '1.5', ...more };
}

/**
 * A server that a beforeAll hook starts (`start`) and an afterAll hook closes, for the tests of this
 * file or of the describe block it is called in; the function returns the running server.
 */
function useStarted<S extends { close(): Promise<void> }>(start: () => Promise<S>, what: string): () => S {
  let running: S | undefined;
  beforeAll(async () => {
    running = await start();
  });
  afterAll(async () => {
    await running?.close();
    running = undefined;
  });
  return () => {
    if (!running) throw new Error(`the ${what} runs only inside tests and hooks`);
    return running;
  };
}

/** What the fake model servers (fake OpenAI, fake VLM) have in common. */
interface FakeEndpoint<B, R> {
  url: string;
  requests: R[];
  setBehaviour(b: B): void;
  close(): Promise<void>;
}

/** A fake model server started by useStarted, as an object usable inside tests and hooks. */
function useFakeEndpoint<B, R>(start: () => Promise<FakeEndpoint<B, R>>, what: string): FakeEndpoint<B, R> {
  const fake = useStarted(start, what);
  return {
    get url() {
      return fake().url;
    },
    get requests() {
      return fake().requests;
    },
    setBehaviour: (b) => fake().setBehaviour(b),
    close: () => fake().close(),
  };
}

/**
 * A fake OpenAI-compatible server (test/fake-openai.ts) for the tests of this file or describe block,
 * started in beforeAll and closed in afterAll (use it inside tests and hooks); `env` is filled in
 * beforeAll with llmEnv(its url, `env`).
 */
export function useFakeOpenAI(env: Record<string, string> = {}, opts: FakeOpenAIOptions = {}): FakeOpenAI & { readonly env: Record<string, string> } {
  const server = useFakeEndpoint(() => startFakeOpenAI(opts), 'fake OpenAI server');
  const fullEnv: Record<string, string> = {};
  beforeAll(() => {
    Object.assign(fullEnv, llmEnv(server.url, env));
  });
  return Object.assign(server, { env: fullEnv });
}

/** The fake VLM of test/fake-vlm.ts (`opts`) for the tests of this file: started in beforeAll, closed in afterAll. */
export function useFakeVlm(opts: FakeVlmOptions = {}): FakeVlm {
  return useFakeEndpoint(() => startFakeVlm(opts), 'fake VLM');
}

/** The image server of test/fake-vlm.ts for the tests of this file: started in beforeAll, closed in afterAll. */
export function useImageServer(): ImageServer {
  const images = useStarted(startImageServer, 'image server');
  return {
    get url() {
      return images().url;
    },
    imageUrl: (name) => images().imageUrl(name),
    get hits() {
      return images().hits;
    },
    close: () => images().close(),
  };
}

/**
 * How many rows a cache (label or caption cache) has committed: `open()` gives a read-only connection,
 * closed again here; null while the file cannot be opened or read yet.
 */
export function committedCount(open: () => { count(): number; close(): void }): number | null {
  try {
    const cache = open();
    try {
      return cache.count();
    } finally {
      cache.close();
    }
  } catch {
    return null;
  }
}

/**
 * Kill -9 mid-job: poll `progress()` every 5 ms until it reaches `atLeast` (for `timeoutMs` at most),
 * then SIGKILL `child` (spawned with its stderr piped). The child must not have exited before the kill
 * (its stderr is shown if it did) and must die of the signal. Returns the last progress seen.
 */
export async function killWhen(child: ChildProcess, progress: () => number, atLeast: number, timeoutMs: number): Promise<number> {
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (_code, signal) => resolve({ signal })));
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));
  const deadline = Date.now() + timeoutMs;
  let seen = 0;
  while (!exitedEarly && Date.now() < deadline) {
    seen = progress();
    if (seen >= atLeast) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  expect(exitedEarly, `the child exited before the kill: ${stderr}`).toBe(false);
  child.kill('SIGKILL');
  expect((await exited).signal).toBe('SIGKILL');
  return seen;
}

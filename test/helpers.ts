/** Shared test setup: where the real data sets live, temp folders, and running the CLI as a user does. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { DistilrankError, discreteMapping } from '../src/core/index.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The shared data sets (read-only): DISTILRANK_DATA_DIR, else ../shared/data beside the repository. */
export const DATA_DIR = process.env.DISTILRANK_DATA_DIR ?? resolve(REPO_ROOT, '..', 'shared', 'data');
export const CLI = join(REPO_ROOT, 'bin', 'distilrank.js');

export function tempDir(prefix = 'distilrank-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
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

/** Shared test setup: where the real data sets live, temp folders, and running the CLI as a user does. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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
export function runCli(args: readonly string[], opts: { cwd: string; env?: Record<string, string | undefined> }): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd,
    encoding: 'utf8',
    env: { ...process.env, DISTILRANK_DATA_DIR: DATA_DIR, CI: 'true', ...opts.env },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The label cache survives kill -9: a child process labels 200 pairs (teacher ~10 ms a call, 4 in
 * flight) and is killed with SIGKILL once 60 labels are committed; the cache then opens cleanly, a
 * second run completes the job, every pair is labelled exactly once, and the teacher's call log
 * shows no pair requested twice except those in flight at the kill (at most the concurrency).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LabelCache, runLabelJob } from '../src/label/index.ts';
import { LoggingTeacher, killTestPairs } from './fixtures/label/log-teacher.ts';
import { REPO_ROOT, committedCount, killWhen, useTempDir } from './helpers.ts';

const PAIRS = 200;
const CONCURRENCY = 4;
const KILL_AFTER = 60;
const CHILD = join(REPO_ROOT, 'test', 'fixtures', 'label', 'kill-child.ts');

const tmp = useTempDir('distilrank-label-kill-');

/** Labels committed so far, read through a read-only connection; null while the file is not ready. */
const committed = (path: string): number | null => committedCount(() => LabelCache.open(path, { readonly: true }));

describe('label job under kill -9', () => {
  it('loses no committed label and repeats at most the calls in flight', async () => {
    const cachePath = join(tmp.path, 'labels.sqlite');
    const logPath = join(tmp.path, 'calls.log');
    writeFileSync(logPath, '');
    // bin/distilrank.js registers tsx in-process; a child gets the same loader through --import.
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, cachePath, logPath, String(PAIRS), String(CONCURRENCY), '10'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const seen = await killWhen(child, () => committed(cachePath) ?? 0, KILL_AFTER, 30_000);
    expect(seen).toBeGreaterThanOrEqual(KILL_AFTER);

    // The file opens cleanly (read-write), passes SQLite's integrity check, and kept a partial job.
    const cache = LabelCache.open(cachePath);
    try {
      expect(cache.db.pragma('integrity_check', { simple: true })).toBe('ok');
      const afterKill = cache.count();
      expect(afterKill).toBeGreaterThanOrEqual(KILL_AFTER);
      expect(afterKill).toBeLessThan(PAIRS);

      const logBeforeRerun = readFileSync(logPath, 'utf8').split('\n').filter(Boolean).length;
      expect(logBeforeRerun).toBeGreaterThanOrEqual(afterKill);

      const pairs = killTestPairs(PAIRS);
      const summary = await runLabelJob({
        cache,
        teacher: new LoggingTeacher(logPath, 1),
        pairs,
        dataset: 'kill-test',
        concurrency: CONCURRENCY,
      });
      expect(summary.stoppedBy).toBe('done');
      expect(summary.cached).toBe(afterKill);
      expect(summary.labelled).toBe(PAIRS - afterKill);
      expect(summary.failed).toBe(0);

      // Every pair exactly once in the cache.
      expect(cache.count()).toBe(PAIRS);
      const rows = cache.labelsFor('kill-test', 'log-teacher', 'fixture', 'kill-1');
      expect(rows).toHaveLength(PAIRS);
      expect(new Set(rows.map((r) => `${r.queryId}\t${r.itemId}`)).size).toBe(PAIRS);

      // The call log: every pair requested, and only pairs in flight at the kill requested twice.
      const counts = new Map<string, number>();
      for (const line of readFileSync(logPath, 'utf8').split('\n').filter(Boolean)) counts.set(line, (counts.get(line) ?? 0) + 1);
      expect(counts.size).toBe(PAIRS);
      const repeated = [...counts].filter(([, n]) => n > 1);
      expect(repeated.every(([, n]) => n === 2)).toBe(true);
      expect(repeated.length).toBeLessThanOrEqual(CONCURRENCY);
      // The repeats are exactly the calls logged by the child whose labels were not committed.
      expect(repeated.length).toBe(logBeforeRerun - afterKill);
    } finally {
      cache.close();
    }
  });
});

/**
 * `distilrank label` end to end: the CLI as a separate process against a fake OpenAI-compatible
 * server on 127.0.0.1. A budget stops the run; a rerun pays only for what is missing; a third run
 * pays for nothing; an endpoint that refuses the key stops the job with TEACHER_FAILED.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LabelCache } from '../src/label/index.ts';
import { runCliAsync, useFakeOpenAI, useTempDir } from './helpers.ts';

const pairKey = (body: Record<string, unknown>): string => {
  const messages = body.messages as Array<{ role: string; content: string }>;
  return messages[messages.length - 1]!.content;
};

describe('distilrank label', () => {
  const server = useFakeOpenAI({ DISTILRANK_LLM_API_KEY: 'sk-test-secret' });
  const dir = useTempDir('distilrank-label-cli-');
  const { env } = server;

  it('stops at the budget, resumes without paying twice, and a third run pays nothing', async () => {
    const args = ['label', '--dataset', 'cranfield', '--k', '3', '--concurrency', '3'];
    const first = await runCliAsync([...args, '--max-calls', '40'], dir.path, env);
    expect(first.stderr).not.toMatch(/\n {4}at /);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/stopped: budget/);
    const afterFirst = server.requests.length;
    expect(afterFirst).toBeGreaterThanOrEqual(38);
    expect(afterFirst).toBeLessThanOrEqual(40);

    const second = await runCliAsync(args, dir.path, env);
    expect(second.status).toBe(0);
    expect(second.stdout).toMatch(/stopped: done/);
    const sent = server.requests.map((r) => pairKey(r.body));
    expect(new Set(sent).size).toBe(sent.length); // no pair was ever requested twice
    // the pool: 3 candidates for each of cranfield's 157 training queries, never a dev/test query
    const cache = LabelCache.open(join(dir.path, '.distilrank', 'labels.sqlite'), { readonly: true });
    const labels = cache.labelsFor('cranfield', 'llm', 'fake-judge', cache.count() ? labelsPromptVersion(cache) : '');
    expect(labels.length).toBe(157 * 3);
    cache.close();
    expect(second.stdout).toMatch(new RegExp(`${sent.length - afterFirst} labelled now, ${afterFirst} already cached`));

    const third = await runCliAsync(args, dir.path, env);
    expect(third.status).toBe(0);
    expect(server.requests.length).toBe(sent.length);
    expect(third.stdout).toMatch(/0 labelled now, 471 already cached/);
    expect(third.stdout).toMatch(/cost of this run: 0 calls/);
  });

  it('--representation: a different item text is a different label (paid once), shown to the teacher as configured', async () => {
    const rep = join(dir.path, 'title-only.json');
    writeFileSync(rep, JSON.stringify({ fields: [{ source: 'title' }] }));
    const args = ['label', '--dataset', 'cranfield', '--k', '1', '--concurrency', '2', '--representation', rep];
    const before = server.requests.length;
    const first = await runCliAsync(args, dir.path, env);
    expect(first.status, first.stderr).toBe(0);
    const sent = server.requests.slice(before).map((r) => pairKey(r.body));
    // Every pair of the pool again (the first test labelled them with the default representation),
    // each item shown by its title alone.
    expect(sent).toHaveLength(157);
    for (const m of sent) {
      expect(m).toMatch(/title: /);
      expect(m).not.toMatch(/description: /);
    }
    const again = await runCliAsync(args, dir.path, env);
    expect(again.status).toBe(0);
    expect(server.requests.length).toBe(before + 157);
    expect(again.stdout).toMatch(/0 labelled now, 157 already cached/);
  });

  it('an endpoint that refuses the key stops the job: TEACHER_FAILED, exit 1, the key never printed', async () => {
    server.setBehaviour({ kind: 'error', status: 401, message: 'invalid api key' });
    const r = await runCliAsync(['label', '--dataset', 'icecat-chorus', '--k', '2'], dir.path, env);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error\[TEACHER_FAILED\]/);
    expect(r.stderr + r.stdout).not.toContain('sk-test-secret');
    expect(r.stderr).not.toMatch(/\n {4}at /);
  });

  it('missing endpoint settings are a clear BAD_OPTION naming the variable', async () => {
    const r = await runCliAsync(['label', '--dataset', 'cranfield'], dir.path, { DISTILRANK_LLM_BASE_URL: '', DISTILRANK_LLM_MODEL: '' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error\[BAD_OPTION\].*DISTILRANK_LLM_BASE_URL/);
  });
});

/** The prompt version the llm teacher recorded (one teacher configuration in this test). */
function labelsPromptVersion(cache: LabelCache): string {
  const row = cache.db.prepare('SELECT DISTINCT prompt_version AS v FROM labels').get() as { v: string };
  return row.v;
}

/**
 * `distilrank enrich captions` as a user runs it: a data set ingested from files whose items carry
 * image URLs on the test's image server (loopback, so --allow-private-urls), the fake VLM in this
 * process. The CLI child is killed with SIGKILL mid-job; the caption cache opens cleanly, a second
 * run completes, every image is captioned exactly once, and only calls in flight at the kill (at
 * most the concurrency) were paid twice.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CaptionCache } from '../src/enrich/captions/index.ts';
import { CLI, DATA_DIR, REPO_ROOT, committedCount, killWhen, runCliAsync, useFakeVlm, useImageServer, useTempDir } from './helpers.ts';

const ITEMS = 120;
const WITHOUT_IMAGE = 5;
const CONCURRENCY = 4;
const KILL_AFTER = 40;

const images = useImageServer();
const vlm = useFakeVlm({ latencyMs: 15 });
const tmp = useTempDir('distilrank-captions-cli-');
let env: Record<string, string>;
let store: string;

beforeAll(async () => {
  store = join(tmp.path, 'store.sqlite');
  const lines: string[] = [];
  for (let i = 0; i < ITEMS + WITHOUT_IMAGE; i++) {
    const item: Record<string, string> = { id: `p${i}`, title: `product ${i}` };
    if (i < ITEMS) item.image_url = images.imageUrl(`p${i}`);
    lines.push(JSON.stringify(item));
  }
  writeFileSync(join(tmp.path, 'items.jsonl'), lines.join('\n') + '\n');
  writeFileSync(join(tmp.path, 'queries.tsv'), 'id\ttext\nq1\tproduct\nq2\tproduct 1\n');
  writeFileSync(join(tmp.path, 'qrels.txt'), 'q1 0 p1 3\nq2 0 p2 1\n');
  env = {
    DISTILRANK_VLM_BASE_URL: vlm.url,
    DISTILRANK_VLM_MODEL: 'fake-vlm',
    DISTILRANK_VLM_PRICE_INPUT: '1',
    DISTILRANK_VLM_PRICE_OUTPUT: '4',
  };
  const ingest = await runCliAsync(
    [
      '--store',
      store,
      'ingest',
      '--name',
      'cap',
      '--items',
      join(tmp.path, 'items.jsonl'),
      '--queries',
      join(tmp.path, 'queries.tsv'),
      '--judgments',
      join(tmp.path, 'qrels.txt'),
      '--scale',
      'quepid-0-3',
    ],
    tmp.path,
    {},
  );
  expect(ingest.status, ingest.stderr).toBe(0);
}, 60_000);

/** Captions committed so far (read-only connection); null while the file is not ready. */
const committed = (path: string): number | null => committedCount(() => CaptionCache.open(path, { readonly: true }));

describe('distilrank enrich captions', () => {
  it('refuses loopback image URLs without --allow-private-urls, and says why', async () => {
    const r = await runCliAsync(['--store', store, 'enrich', 'captions', '--dataset', 'cap', '--cache', join(tmp.path, 'strict.sqlite')], tmp.path, env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${ITEMS} image URLs refused`);
    expect(r.stdout).toContain(`${WITHOUT_IMAGE} without an image`);
    expect(r.stderr).toContain('blocked_address');
    expect(vlm.requests).toHaveLength(0);
  }, 60_000);

  it('stops with CAPTIONER_FAILED on a 401, never printing the key', async () => {
    vlm.setBehaviour({ kind: 'error', status: 401 });
    const r = await runCliAsync(
      ['--store', store, 'enrich', 'captions', '--dataset', 'cap', '--allow-private-urls', '--concurrency', '1', '--cache', join(tmp.path, 'fatal.sqlite')],
      tmp.path,
      { ...env, DISTILRANK_VLM_API_KEY: 'sk-test-key-123' },
    );
    vlm.setBehaviour({ kind: 'caption' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error[CAPTIONER_FAILED]');
    expect(r.stderr + r.stdout).not.toContain('sk-test-key-123');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    vlm.requests.length = 0;
  }, 60_000);

  it('survives kill -9: no caption lost, none paid twice except calls in flight', async () => {
    const cachePath = join(store, '..', 'captions.sqlite');
    const child = spawn(
      process.execPath,
      [CLI, '--store', store, 'enrich', 'captions', '--dataset', 'cap', '--allow-private-urls', '--concurrency', String(CONCURRENCY)],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, DISTILRANK_DATA_DIR: DATA_DIR, CI: 'true', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    await killWhen(child, () => committed(cachePath) ?? 0, KILL_AFTER, 60_000);

    const cache = CaptionCache.open(cachePath);
    let afterKill: number;
    try {
      expect(cache.db.pragma('integrity_check', { simple: true })).toBe('ok');
      afterKill = cache.count();
    } finally {
      cache.close();
    }
    expect(afterKill).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(afterKill).toBeLessThan(ITEMS);
    const requestsBefore = vlm.requests.length;
    expect(requestsBefore).toBeGreaterThanOrEqual(afterKill);

    const r = await runCliAsync(
      ['--store', store, 'enrich', 'captions', '--dataset', 'cap', '--allow-private-urls', '--concurrency', String(CONCURRENCY)],
      tmp.path,
      env,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${ITEMS - afterKill} captioned now, ${afterKill} already cached`);
    expect(r.stdout).toContain(`${WITHOUT_IMAGE} without an image`);

    const after = CaptionCache.open(cachePath, { readonly: true });
    try {
      expect(after.count()).toBe(ITEMS);
      const src = after.captionSource('cap', { model: 'fake-vlm' });
      for (let i = 0; i < ITEMS; i++) expect(src.captionFor(`p${i}`), `p${i}`).toBeDefined();
      expect(src.captionFor(`p${ITEMS}`)).toBeUndefined(); // no image
    } finally {
      after.close();
    }
    const counts = new Map<string, number>();
    for (const q of vlm.requests) counts.set(q.imageSha256!, (counts.get(q.imageSha256!) ?? 0) + 1);
    expect(counts.size).toBe(ITEMS);
    const repeated = [...counts].filter(([, n]) => n > 1);
    expect(repeated.every(([, n]) => n === 2)).toBe(true);
    expect(repeated.length).toBeLessThanOrEqual(CONCURRENCY);
    expect(repeated.length).toBe(requestsBefore - afterKill);
  }, 120_000);

  it('the caption reaches the item text representation (what the teacher reads) when the representation lists it', async () => {
    const rep = join(tmp.path, 'with-caption.json');
    writeFileSync(rep, JSON.stringify({ fields: [{ source: 'title' }, { source: 'caption' }] }));
    const r = await runCliAsync(
      ['--store', store, 'represent', '--dataset', 'cap', '--representation', rep, '--item', 'p0', `p${ITEMS}`, '--json'],
      tmp.path,
      env,
    );
    expect(r.status, r.stderr).toBe(0);
    const shown = JSON.parse(r.stdout) as { items: Array<{ id: string; text: string }> };
    const cache = CaptionCache.open(join(store, '..', 'captions.sqlite'), { readonly: true });
    const caption = cache.captionSource('cap').captionFor('p0')!;
    cache.close();
    expect(caption.length).toBeGreaterThan(0);
    expect(shown.items[0]!.text).toContain(`caption: ${caption.replace(/\s+/g, ' ').trim().slice(0, 40)}`);
    expect(shown.items[1]!.text).not.toContain('caption:'); // no image, no caption line
  }, 60_000);
});

/**
 * The captions job against real servers on 127.0.0.1: an image server serving PNGs built here, and a
 * fake OpenAI-compatible VLM that reads image content parts, with its faults.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CaptionCache, VlmCaptioner, imageUrlOf, runCaptionJob, vlmConfigFromEnv, type CaptionItem } from '../src/enrich/captions/index.ts';
import { DistilrankError } from '../src/core/errors.ts';
import { IMAGE_TOKENS, defaultCaption, sha256hex, tinyPng } from './fake-vlm.ts';
import { caught, useFakeVlm, useImageServer, useTempDir } from './helpers.ts';

const images = useImageServer();
const vlm = useFakeVlm();
const tmp = useTempDir('distilrank-captions-', { each: true });
let cache: CaptionCache;

beforeEach(() => {
  cache = CaptionCache.open(join(tmp.path, 'captions.sqlite'));
  vlm.requests.length = 0;
  vlm.setBehaviour({ kind: 'caption' });
});
afterEach(() => {
  cache.close();
});

const PRICES = { inputPerMTok: 2, outputPerMTok: 10 };
const captioner = (over: Partial<ConstructorParameters<typeof VlmCaptioner>[0]> = {}) =>
  new VlmCaptioner({ baseURL: vlm.url, model: 'fake-vlm-7b', pricing: PRICES, timeoutMs: 2000, ...over });
const items = (n: number, prefix = 'p'): CaptionItem[] =>
  Array.from({ length: n }, (_, i) => ({ itemId: `${prefix}${i}`, imageUrl: images.imageUrl(`${prefix}${i}`) }));
const FAST = { baseDelayMs: 2, maxDelayMs: 10 };
const fetchOpts = { allowPrivate: true };

describe('captions job', () => {
  it('captions every item with an image, sends the image as a data: URL part, stores caption, model and image hash', async () => {
    const list: CaptionItem[] = [...items(6), { itemId: 'noimg1', imageUrl: null }, { itemId: 'noimg2', imageUrl: '  ' }];
    const s = await runCaptionJob({ cache, captioner: captioner(), dataset: 'shop', items: list, fetch: fetchOpts, concurrency: 3 });
    expect(s).toMatchObject({ items: 8, noImage: 2, captioned: 6, cached: 0, failed: 0, remaining: 0, stoppedBy: 'done' });
    expect(vlm.requests).toHaveLength(6);
    for (const r of vlm.requests) {
      expect(r.imageUrl.startsWith('data:image/png;base64,')).toBe(true);
      expect(r.body.model).toBe('fake-vlm-7b');
    }
    // The bytes the VLM received are the bytes the image server sent.
    expect(new Set(vlm.requests.map((r) => r.imageSha256))).toEqual(new Set(list.slice(0, 6).map((it) => sha256hex(tinyPng(it.itemId)))));
    const sha = sha256hex(tinyPng('p3'));
    const stored = cache.get({ model: 'fake-vlm-7b', promptVersion: captioner().promptVersion, imageHash: sha })!;
    expect(stored.caption).toBe(defaultCaption(sha, ''));
    expect(stored.contentType).toBe('image/png');
    expect(cache.refOf('shop', 'p3', 'fake-vlm-7b', captioner().promptVersion)).toEqual({ imageUrl: images.imageUrl('p3'), imageHash: sha });
    // Cost at the configured prices, from the endpoint's usage.
    const tokensIn = vlm.requests.length * IMAGE_TOKENS;
    expect(s.cost.calls).toBe(6);
    expect(s.cost.inputTokens).toBeGreaterThan(tokensIn);
    expect(s.cost.usd).toBeCloseTo((s.cost.inputTokens * 2 + s.cost.outputTokens * 10) / 1e6, 12);
    // The source the text representation reads.
    const source = cache.captionSource('shop');
    expect(source.captionFor('p3')).toBe(defaultCaption(sha, ''));
    expect(source.captionFor('noimg1')).toBeUndefined();
    expect(cache.captionSource('shop', { model: 'another-model' }).captionFor('p3')).toBeUndefined();

    // A second run pays nothing and downloads nothing.
    const hits = images.hits.length;
    const again = await runCaptionJob({ cache, captioner: captioner(), dataset: 'shop', items: list, fetch: fetchOpts });
    expect(again).toMatchObject({ cached: 6, captioned: 0, noImage: 2 });
    expect(again.cost.calls).toBe(0);
    expect(vlm.requests).toHaveLength(6);
    expect(images.hits.length).toBe(hits);
    // Another model is another caption.
    const other = await runCaptionJob({ cache, captioner: captioner({ model: 'other-vlm' }), dataset: 'shop', items: list.slice(0, 2), fetch: fetchOpts });
    expect(other.captioned).toBe(2);
  });

  it('pays once per image: duplicate URLs and the same image under another URL reuse the caption', async () => {
    const url = images.imageUrl('same');
    const list: CaptionItem[] = [
      { itemId: 'a', imageUrl: url },
      { itemId: 'b', imageUrl: url },
      { itemId: 'c', imageUrl: `${images.url}/redirect?to=${encodeURIComponent(url)}` },
    ];
    const s = await runCaptionJob({ cache, captioner: captioner(), dataset: 'shop', items: list, fetch: fetchOpts, concurrency: 1 });
    expect(s).toMatchObject({ captioned: 1, duplicates: 1, sameImage: 1 });
    expect(vlm.requests).toHaveLength(1);
    const src = cache.captionSource('shop');
    expect(src.captionFor('a')).toBeDefined();
    expect(src.captionFor('b')).toBe(src.captionFor('a'));
    expect(src.captionFor('c')).toBe(src.captionFor('a'));
  });

  it('retries 429 (honouring Retry-After), 500, a hang past the timeout and a malformed body', async () => {
    const seen = new Map<string, number>();
    vlm.setBehaviour((req) => {
      const n = (seen.get(req.imageSha256!) ?? 0) + 1;
      seen.set(req.imageSha256!, n);
      if (n > 1) return { kind: 'caption' };
      const which = seen.size % 4;
      if (which === 1) return { kind: 'error', status: 429, headers: { 'retry-after': '0.2' } };
      if (which === 2) return { kind: 'error', status: 500 };
      if (which === 3) return { kind: 'hang' };
      return { kind: 'raw', body: '{"choices": [' };
    });
    const t0 = Date.now();
    const s = await runCaptionJob({
      cache,
      captioner: captioner({ timeoutMs: 300 }),
      dataset: 'shop',
      items: items(8),
      fetch: fetchOpts,
      concurrency: 4,
      retry: FAST,
    });
    expect(s).toMatchObject({ captioned: 8, failed: 0, stoppedBy: 'done' });
    expect(vlm.requests).toHaveLength(16); // each image: one fault, one success
    expect([...seen.values()].every((n) => n === 2)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200); // the Retry-After pause was honoured
    // Rate-limited attempts are not calls; the other failed attempts are.
    expect(s.attempts).toBe(16);
    expect(s.cost.calls).toBe(8 + 6);
  });

  it('a persistent fault fails the item after its attempts; a 401 stops the job (fatal)', async () => {
    vlm.setBehaviour({ kind: 'error', status: 503 });
    const s = await runCaptionJob({ cache, captioner: captioner(), dataset: 'shop', items: items(2), fetch: fetchOpts, retry: { ...FAST, maxAttempts: 3 } });
    expect(s).toMatchObject({ failed: 2, captioned: 0 });
    expect(vlm.requests).toHaveLength(6);
    expect(s.failures[0]!.kind).toBe('server');
    expect(cache.count()).toBe(0);
    vlm.setBehaviour({ kind: 'error', status: 401 });
    const f = await runCaptionJob({
      cache,
      captioner: captioner({ apiKey: 'sk-secret-1' }),
      dataset: 'shop',
      items: items(5),
      fetch: fetchOpts,
      concurrency: 1,
    });
    expect(f.stoppedBy).toBe('fatal');
    expect(f.error!.message).toContain('DISTILRANK_VLM_API_KEY');
    expect(f.error!.message).not.toContain('sk-secret-1');
    expect(f.remaining).toBe(5); // the item that met the 401 is not settled either
  });

  it('stores a refusal once (paid) and never asks again; captionFor skips it', async () => {
    vlm.setBehaviour({ kind: 'refusal' });
    const s = await runCaptionJob({ cache, captioner: captioner(), dataset: 'shop', items: items(2), fetch: fetchOpts });
    expect(s).toMatchObject({ refusedByModel: 2, captioned: 0 });
    expect(cache.totals().refusals).toBe(2);
    expect(cache.captionSource('shop').captionFor('p0')).toBeUndefined();
    vlm.setBehaviour({ kind: 'caption' });
    const again = await runCaptionJob({ cache, captioner: captioner(), dataset: 'shop', items: items(2), fetch: fetchOpts });
    expect(again.cached).toBe(2);
    expect(vlm.requests).toHaveLength(2);
  });

  it('stops at the budget and resumes without paying twice', async () => {
    const list = items(10);
    const first = await runCaptionJob({ cache, captioner: captioner(), dataset: 'shop', items: list, fetch: fetchOpts, concurrency: 2, budget: { calls: 4 } });
    expect(first.stoppedBy).toBe('budget');
    expect(first.cost.calls).toBeLessThanOrEqual(4);
    expect(first.captioned).toBe(first.cost.calls);
    const second = await runCaptionJob({ cache, captioner: captioner(), dataset: 'shop', items: list, fetch: fetchOpts, concurrency: 2 });
    expect(second.cached).toBe(first.captioned);
    expect(second.captioned).toBe(10 - first.captioned);
    expect(vlm.requests).toHaveLength(10);
    expect(new Set(vlm.requests.map((r) => r.imageSha256)).size).toBe(10);
    // A money budget: the first call flies alone, later ones only while the estimate fits.
    const usd = await runCaptionJob({
      cache,
      captioner: captioner(),
      dataset: 'other',
      items: items(10, 'u'),
      fetch: fetchOpts,
      concurrency: 4,
      budget: { usd: 0.0012 },
    });
    expect(usd.stoppedBy).toBe('budget');
    expect(usd.cost.usd).toBeLessThanOrEqual(0.0012 + 0.0004);
    expect(usd.captioned).toBeGreaterThan(0);
  });

  it('skips items whose image URL the rules refuse, without calling the VLM, and counts them', async () => {
    const list: CaptionItem[] = [
      { itemId: 'ok', imageUrl: images.imageUrl('ok') },
      { itemId: 'meta', imageUrl: 'http://169.254.169.254/latest/meta-data/' },
      { itemId: 'file', imageUrl: 'file:///etc/passwd' },
      { itemId: 'html', imageUrl: `${images.url}/html` },
      { itemId: 'big', imageUrl: `${images.url}/big` },
    ];
    // Without any allowance the test server (loopback) is refused too.
    const strict = await runCaptionJob({ cache, captioner: captioner(), dataset: 'shop', items: list, retry: FAST });
    expect(strict).toMatchObject({ urlRefused: 5, captioned: 0 });
    expect(strict.urlRefusals.map((r) => r.reason).sort()).toEqual(['bad_url', 'blocked_address', 'blocked_address', 'blocked_address', 'blocked_address']);
    expect(vlm.requests).toHaveLength(0);
    // Only the test server's own address let through: the metadata address stays refused.
    const onlyServer = { allowAddress: (a: string) => a === '127.0.0.1' };
    const allowed = await runCaptionJob({ cache, captioner: captioner(), dataset: 'shop', items: list, fetch: onlyServer, retry: FAST });
    expect(allowed).toMatchObject({ captioned: 1, urlRefused: 4 });
    expect(Object.fromEntries(allowed.urlRefusals.map((r) => [r.itemId, r.reason]))).toEqual({
      meta: 'blocked_address',
      file: 'bad_url',
      html: 'not_image',
      big: 'too_large',
    });
    expect(vlm.requests).toHaveLength(1);
  });

  it('url mode sends the checked URL instead of the bytes', async () => {
    await runCaptionJob({ cache, captioner: captioner({ imageMode: 'url' }), dataset: 'shop', items: items(1), fetch: fetchOpts });
    expect(vlm.requests[0]!.imageUrl).toBe(images.imageUrl('p0'));
  });
});

describe('captions configuration', () => {
  it('reads DISTILRANK_VLM_* and names a missing variable', () => {
    const env = {
      DISTILRANK_VLM_BASE_URL: 'http://127.0.0.1:9/v1',
      DISTILRANK_VLM_MODEL: 'm',
      DISTILRANK_VLM_PRICE_INPUT: '0.5',
      DISTILRANK_VLM_PRICE_OUTPUT: '1.5',
      DISTILRANK_VLM_IMAGE_MODE: 'url',
    };
    const c = vlmConfigFromEnv(env);
    expect(c).toMatchObject({ model: 'm', pricing: { inputPerMTok: 0.5, outputPerMTok: 1.5 }, imageMode: 'url', maxTokens: 80 });
    expect(vlmConfigFromEnv(env, { model: 'override' }).model).toBe('override');
    const e = caught(() => vlmConfigFromEnv({ ...env, DISTILRANK_VLM_PRICE_INPUT: undefined }));
    expect(e).toBeInstanceOf(DistilrankError);
    expect(e.details.field).toBe('DISTILRANK_VLM_PRICE_INPUT');
    expect(caught(() => vlmConfigFromEnv({ ...env, DISTILRANK_VLM_IMAGE_MODE: 'inline' })).code).toBe('BAD_OPTION');
  });

  it('finds the image URL in the column, a named field, or a field that looks like one', () => {
    const base = { imageUrl: null, fields: {}, attributes: {} };
    expect(imageUrlOf({ ...base, imageUrl: 'https://x/a.jpg' })).toBe('https://x/a.jpg');
    expect(imageUrlOf({ ...base, fields: { brand: 'https://brand.example', img_500x500: 'https://x/b.jpg' } })).toBe('https://x/b.jpg');
    expect(imageUrlOf({ ...base, attributes: { Thumbnail: 'http://x/c.png', weight: 3 } })).toBe('http://x/c.png');
    expect(imageUrlOf({ ...base, fields: { image: 'not a url' } })).toBeNull();
    expect(imageUrlOf({ ...base, fields: { pic: 'https://x/d.png' } }, 'pic')).toBe('https://x/d.png');
    expect(imageUrlOf({ ...base, imageUrl: 'https://x/a.jpg', fields: { pic: 'https://x/d.png' } }, 'image_url')).toBe('https://x/a.jpg');
  });
});

// Data set download: every case runs against a real HTTP server on 127.0.0.1 started here, serving
// the local copies of the public files (no internet needed). The local copies are read from
// DISTILRANK_DATA_DIR, else ../shared/data next to the repository.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { COMPLETION_MARKER, pythonFloatRepr, pythonJsonLines, resolveDatasetDir, type ResolveDatasetOptions } from '../src/ingest/datasets/download.ts';
import { DATASET_SOURCES, type DatasetSource } from '../src/ingest/datasets/sources.ts';
import { listen, type Running } from './fake-server.ts';
import { DATA_DIR, rejected, useTempDir } from './helpers.ts';

const CRAN_FILES = ['cran.all.1400', 'cran.qry', 'cranqrel', 'cranqrel.readme'];
const haveData = existsSync(join(DATA_DIR, 'cranfield', 'raw', 'cran.all.1400'));
const haveIcecat = existsSync(join(DATA_DIR, 'icecat-chorus', 'products.jsonl'));

const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Serves `/cranfield/<file>` from the local raw copy; `extra` maps more paths to bytes. */
function defaultHandler(extra: Map<string, Uint8Array> = new Map()): Handler {
  return async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const body = extra.get(path);
    if (body !== undefined) {
      res.writeHead(200, { 'content-length': body.byteLength });
      res.end(body);
      return;
    }
    const m = /^\/cranfield\/([A-Za-z0-9.]+)$/.exec(path);
    if (m?.[1] !== undefined && CRAN_FILES.includes(m[1])) {
      const bytes = await readFile(join(DATA_DIR, 'cranfield', 'raw', m[1]));
      res.writeHead(200, { 'content-length': bytes.byteLength });
      res.end(bytes);
      return;
    }
    res.writeHead(404).end('not found');
  };
}

let server: Running;
let base = '';
let handler: Handler = defaultHandler();
let requests: string[] = [];
const work = useTempDir('distilrank-dl-', { each: true });
let cacheDir = '';
let emptyDataDir = '';

beforeAll(async () => {
  server = await listen((req, res) => {
    requests.push(req.url ?? '');
    return handler(req, res);
  });
  base = server.url;
});

afterAll(async () => {
  await server.close();
});

beforeEach(async () => {
  handler = defaultHandler();
  requests = [];
  cacheDir = join(work.path, 'cache');
  emptyDataDir = join(work.path, 'data');
  await mkdir(emptyDataDir);
});

afterEach(() => {
  server.dropConnections();
});

/** Options pointing at the test server, an empty data dir and the temp cache. */
function opts(more: ResolveDatasetOptions = {}): ResolveDatasetOptions {
  return { dataDir: emptyDataDir, cacheDir, baseUrl: base, ...more };
}

/** Nothing in the cache that step 2 would accept, and no partial folder left. */
async function expectNothingCached(name: string): Promise<void> {
  expect(existsSync(join(cacheDir, name))).toBe(false);
  const left = existsSync(cacheDir) ? await readdir(cacheDir) : [];
  expect(left.filter((f) => f.includes(name))).toEqual([]);
  const e = await rejected(resolveDatasetDir(name, opts({ download: false })));
  expect(e.code).toBe('FILE_NOT_FOUND');
}

describe('the registry', () => {
  it('is frozen and pins every source to a commit', () => {
    expect(Object.isFrozen(DATASET_SOURCES)).toBe(true);
    const cran = DATASET_SOURCES.cranfield;
    expect(cran?.downloadable).toBe(true);
    expect(Object.isFrozen(cran?.files[0]?.sources[0]?.urls)).toBe(true);
    for (const entry of Object.values(DATASET_SOURCES)) {
      for (const f of entry.files) {
        expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
        for (const s of f.sources) for (const u of s.urls) expect(u).toMatch(/^https:\/\/.*\/[0-9a-f]{40}\//);
      }
    }
    expect(cran?.files.map((f) => f.target)).toEqual(CRAN_FILES.map((f) => `raw/${f}`));
    expect(cran?.files[0]?.sources[0]?.urls[0]).toBe(
      'https://raw.githubusercontent.com/noramtboraas/information-retrieval/4ea1b8e02da1db64b68b0364d50620b3c95528dc/cran.all.1400',
    );
    const ice = DATASET_SOURCES['icecat-chorus'];
    expect(ice?.manualFiles.map((f) => [f.target, f.optional])).toEqual([['haystack_rating_party.jsonl', true]]);
    expect(DATASET_SOURCES['home-depot']?.downloadable).toBe(false);
  });

  it.skipIf(!haveData)('holds the SHA-256 of the local reference copies', async () => {
    for (const entry of Object.values(DATASET_SOURCES)) {
      for (const f of entry.files) {
        const local = join(DATA_DIR, entry.name, f.target);
        if (!existsSync(local)) continue;
        const bytes = await readFile(local);
        expect(sha256(bytes), f.target).toBe(f.sha256);
        if (f.bytes !== undefined) expect(bytes.byteLength).toBe(f.bytes);
      }
    }
  });
});

describe.skipIf(!haveData)('resolveDatasetDir', () => {
  it('downloads cranfield byte-identical, then serves it from the cache without a request', async () => {
    const progress: [number, number | undefined][] = [];
    const dir = await resolveDatasetDir('cranfield', opts({ onProgress: (d, t) => progress.push([d, t]) }));
    expect(dir).toBe(join(cacheDir, 'cranfield'));
    for (const f of CRAN_FILES) {
      const got = await readFile(join(dir, 'raw', f));
      const want = await readFile(join(DATA_DIR, 'cranfield', 'raw', f));
      expect(got.equals(want), f).toBe(true);
    }
    expect(requests.sort()).toEqual(CRAN_FILES.map((f) => `/cranfield/${f}`).sort());
    expect(existsSync(join(dir, COMPLETION_MARKER))).toBe(true);
    expect((await readdir(cacheDir)).sort()).toEqual(['cranfield']);
    const total = DATASET_SOURCES.cranfield?.files.reduce((n, f) => n + (f.bytes ?? 0), 0);
    expect(progress.at(-1)).toEqual([total, total]);

    requests = [];
    expect(await resolveDatasetDir('cranfield', opts())).toBe(dir);
    expect(await resolveDatasetDir('cranfield', opts({ download: false }))).toBe(dir);
    expect(requests).toEqual([]);
  });

  it('reads cacheDir, dataDir and the mirror from the environment', async () => {
    const keys = ['DISTILRANK_DATA_DIR', 'DISTILRANK_CACHE_DIR', 'DISTILRANK_DOWNLOAD_MIRROR'] as const;
    const saved = keys.map((k) => process.env[k]);
    try {
      process.env.DISTILRANK_DATA_DIR = emptyDataDir;
      process.env.DISTILRANK_CACHE_DIR = cacheDir;
      process.env.DISTILRANK_DOWNLOAD_MIRROR = `${base}/`;
      expect(await resolveDatasetDir('cranfield')).toBe(join(cacheDir, 'cranfield'));
      expect(requests).toHaveLength(4);
      process.env.DISTILRANK_DATA_DIR = DATA_DIR;
      expect(await resolveDatasetDir('cranfield')).toBe(join(DATA_DIR, 'cranfield'));
    } finally {
      keys.forEach((k, i) => {
        const v = saved[i];
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      });
    }
  });

  it('rejects altered bytes with CHECKSUM_MISMATCH and caches nothing', async () => {
    const good = await readFile(join(DATA_DIR, 'cranfield', 'raw', 'cran.qry'));
    const bad = Buffer.from(good);
    bad[100] = (bad[100] ?? 0) ^ 0x20;
    handler = defaultHandler(new Map([['/cranfield/cran.qry', bad]]));
    const e = await rejected(resolveDatasetDir('cranfield', opts()));
    expect(e.code).toBe('CHECKSUM_MISMATCH');
    expect(e.message).toContain('raw/cran.qry');
    expect(e.message).toContain(sha256(good));
    expect(e.message).toContain(sha256(bad));
    expect(e.details.hint).toBeTruthy();
    await expectNothingCached('cranfield');
  });

  it.each([404, 500])('reports HTTP %i as DOWNLOAD_FAILED naming the URL', async (status) => {
    handler = (req, res) => {
      if (req.url === '/cranfield/cranqrel') res.writeHead(status).end('no');
      else return defaultHandler()(req, res);
    };
    const e = await rejected(resolveDatasetDir('cranfield', opts()));
    expect(e.code).toBe('DOWNLOAD_FAILED');
    expect(e.message).toContain(`${base}/cranfield/cranqrel`);
    expect(e.message).toContain(`HTTP ${status}`);
    expect(e.details.hint).toContain('--data-dir');
    await expectNothingCached('cranfield');
  });

  it('reports a refused connection as DOWNLOAD_FAILED', async () => {
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((ok) => closed.close(() => ok()));
    const e = await rejected(resolveDatasetDir('cranfield', opts({ baseUrl: `http://127.0.0.1:${port}` })));
    expect(e.code).toBe('DOWNLOAD_FAILED');
    expect(e.message).toContain(`http://127.0.0.1:${port}/cranfield/`);
    await expectNothingCached('cranfield');
  });

  it('times out on a server that never answers', async () => {
    handler = (req, res) => {
      if (req.url === '/cranfield/cran.qry') return; // hang: no status line, ever
      return defaultHandler()(req, res);
    };
    const t0 = Date.now();
    const e = await rejected(resolveDatasetDir('cranfield', opts({ timeoutMs: 300 })));
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(e.code).toBe('DOWNLOAD_FAILED');
    expect(e.message).toContain(`${base}/cranfield/cran.qry`);
    expect(e.message).toContain('timed out');
    await expectNothingCached('cranfield');
  });

  it('times out on a server that stalls in the middle of the body', async () => {
    handler = (req, res) => {
      if (req.url !== '/cranfield/cran.all.1400') return defaultHandler()(req, res);
      res.writeHead(200, { 'content-length': 1_684_117 });
      res.write(Buffer.alloc(1000, 0x41)); // then nothing more
    };
    const e = await rejected(resolveDatasetDir('cranfield', opts({ timeoutMs: 300 })));
    expect(e.code).toBe('DOWNLOAD_FAILED');
    expect(e.message).toContain('timed out');
    await expectNothingCached('cranfield');
  });

  it('refuses a response over maxBytes', async () => {
    const e = await rejected(resolveDatasetDir('cranfield', opts({ maxBytes: 10_000 })));
    expect(e.code).toBe('DOWNLOAD_FAILED');
    expect(e.message).toContain('limit');
    await expectNothingCached('cranfield');
  });

  it('replaces a cache folder without a completion marker', async () => {
    await mkdir(join(cacheDir, 'cranfield', 'raw'), { recursive: true });
    await writeFile(join(cacheDir, 'cranfield', 'raw', 'cran.qry'), 'half a file');
    const dir = await resolveDatasetDir('cranfield', opts());
    expect(requests).toHaveLength(4);
    const got = await readFile(join(dir, 'raw', 'cran.qry'));
    expect(got.equals(await readFile(join(DATA_DIR, 'cranfield', 'raw', 'cran.qry')))).toBe(true);
    expect((await readdir(cacheDir)).sort()).toEqual(['cranfield']);
  });

  it('ignores, then removes, the partial folder of an interrupted download', async () => {
    const orphan = join(cacheDir, '.cranfield.partial-999999999');
    await mkdir(join(orphan, 'raw'), { recursive: true });
    await writeFile(join(orphan, COMPLETION_MARKER), '{}');
    const dir = await resolveDatasetDir('cranfield', opts());
    expect(dir).toBe(join(cacheDir, 'cranfield'));
    expect(requests).toHaveLength(4);
    expect((await readdir(cacheDir)).sort()).toEqual(['cranfield']);
  });

  it('returns an existing data dir folder without any request', async () => {
    const noFetch = (() => {
      throw new Error('no request expected');
    }) as unknown as typeof fetch;
    expect(await resolveDatasetDir('cranfield', opts({ dataDir: DATA_DIR, fetch: noFetch }))).toBe(join(DATA_DIR, 'cranfield'));
    expect(await resolveDatasetDir('home-depot', opts({ dataDir: DATA_DIR, fetch: noFetch }))).toBe(join(DATA_DIR, 'home-depot'));
    expect(requests).toEqual([]);
    expect(existsSync(cacheDir)).toBe(false);
  });

  it('explains where to get home-depot (NOT_DOWNLOADABLE)', async () => {
    const e = await rejected(resolveDatasetDir('home-depot', opts()));
    expect(e.code).toBe('NOT_DOWNLOADABLE');
    const hint = e.details.hint ?? '';
    expect(hint).toContain('https://www.kaggle.com/c/home-depot-product-search-relevance/data');
    expect(hint).toContain('train.csv.zip');
    expect(hint).toContain('home-depot/train.csv');
    expect(hint).toContain('iconv -f latin1 -t utf-8');
    expect(requests).toEqual([]);
  });

  it('says FILE_NOT_FOUND for an unknown data set and rejects names that are paths', async () => {
    const e = await rejected(resolveDatasetDir('my-own-set', opts()));
    expect(e.code).toBe('FILE_NOT_FOUND');
    expect(e.details.hint).toContain('--data-dir');
    const bad = await rejected(resolveDatasetDir('../etc', opts()));
    expect(bad.code).toBe('UNKNOWN_NAME');
    expect(requests).toEqual([]);
  });

  it('refuses a non-http mirror', async () => {
    const e = await rejected(resolveDatasetDir('cranfield', opts({ baseUrl: 'file:///tmp' })));
    expect(e.code).toBe('BAD_OPTION');
  });
});

// --- icecat-chorus products.jsonl: derived from four zipped JSON arrays ---------------------------

/** JSON text as an upstream tool might have written it: indented, non-ASCII as \u escapes. */
function asUpstreamArray(lines: string[]): string {
  const ascii = (s: string): string => s.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `[\n  ${lines.map((l) => ascii(l).replace(/", "/g, '",\n    "')).join(',\n  ')}\n]`;
}

function zipOf(member: string, text: string): Uint8Array {
  return zipSync({ [member]: new TextEncoder().encode(text) }, { level: 6 });
}

const ZIP_PATH = (n: number): string => `/icecat-chorus/data-encoder/ecommerce/vectors/data/${n}.json.zip`;

describe('python-compatible JSON lines', () => {
  it('formats floats as Python repr', () => {
    expect([1, 1000, 1e-6, 1e-4, 1e16, 1e15, 0.1, -2.5, 1.5e16].map(pythonFloatRepr)).toEqual([
      '1.0',
      '1000.0',
      '1e-06',
      '0.0001',
      '1e+16',
      '1000000000000000.0',
      '0.1',
      '-2.5',
      '1.5e+16',
    ]);
  });

  it('re-serialises like json.dumps(ensure_ascii=False), keeping key order', () => {
    const text = '[ {"b":1,"2":1.50,"a":[1E5,-0,{}],"s":"\\u00e9\\/\\n"} ,[],"x"]';
    expect(pythonJsonLines(text)).toEqual(['{"b": 1, "2": 1.5, "a": [100000.0, 0, {}], "s": "é/\\n"}', '[]', '"x"']);
    expect(() => pythonJsonLines('{"a": 1}')).toThrow(/array/);
    expect(() => pythonJsonLines('[1] 2')).toThrow(/extra data/);
  });
});

describe.skipIf(!haveIcecat)('icecat-chorus products derivation', () => {
  it('derives products.jsonl from zipped JSON arrays and checks the derived SHA-256', async () => {
    const local = await readFile(join(DATA_DIR, 'icecat-chorus', 'products.jsonl'), 'utf8');
    const lines = local.split('\n').slice(0, 12);
    const expected = `${lines.join('\n')}\n`;
    const real = DATASET_SOURCES['icecat-chorus'];
    const products = real?.files.find((f) => f.target === 'products.jsonl');
    if (real === undefined || products === undefined) throw new Error('registry entry missing');
    const registry: Record<string, DatasetSource> = {
      'icecat-chorus': { ...real, files: [{ ...products, sha256: sha256(expected), bytes: undefined }] },
    };
    const extra = new Map<string, Uint8Array>();
    for (const n of [1, 2, 3, 4]) extra.set(ZIP_PATH(n), zipOf(`${n}.json`, asUpstreamArray(lines.slice((n - 1) * 3, n * 3))));
    handler = defaultHandler(extra);

    const dir = await resolveDatasetDir('icecat-chorus', opts({ registry }));
    expect(await readFile(join(dir, 'products.jsonl'), 'utf8')).toBe(expected);
    expect((await readdir(dir)).sort()).toEqual([COMPLETION_MARKER, 'products.jsonl'].sort());
    expect(requests.sort()).toEqual([1, 2, 3, 4].map(ZIP_PATH));

    // A product changed upstream: the derived checksum catches it, nothing is cached.
    await rm(cacheDir, { recursive: true });
    extra.set(ZIP_PATH(3), zipOf('3.json', asUpstreamArray(lines.slice(6, 8))));
    const e = await rejected(resolveDatasetDir('icecat-chorus', opts({ registry })));
    expect(e.code).toBe('CHECKSUM_MISMATCH');
    expect(e.message).toContain('products.jsonl');
    expect(e.message).toContain(sha256(expected));
    await expectNothingCached('icecat-chorus');

    // A Git LFS pointer instead of a zip.
    extra.set(ZIP_PATH(3), new TextEncoder().encode('version https://git-lfs.github.com/spec/v1\noid sha256:00\n'));
    const lfs = await rejected(resolveDatasetDir('icecat-chorus', opts({ registry })));
    expect(lfs.code).toBe('DOWNLOAD_FAILED');
    expect(lfs.message).toContain('Git LFS');
  });

  it('reproduces the published products.jsonl SHA-256 with the real registry entry', async () => {
    const local = await readFile(join(DATA_DIR, 'icecat-chorus', 'products.jsonl'), 'utf8');
    const lines = local.split('\n').slice(0, -1);
    const q = Math.ceil(lines.length / 4);
    const extra = new Map<string, Uint8Array>();
    for (const n of [1, 2, 3, 4]) extra.set(ZIP_PATH(n), zipOf(`${n}.json`, asUpstreamArray(lines.slice((n - 1) * q, n * q))));
    for (const [target, upstream] of [
      ['supahands_individual_ratings.csv', 'Broad_Query_Set_individual_ratings.csv'],
      ['broad_query_set_rated.csv', 'Broad_Query_Set_rated.csv'],
    ] as const) {
      extra.set(`/icecat-chorus/katas/${upstream}`, await readFile(join(DATA_DIR, 'icecat-chorus', target)));
    }
    handler = defaultHandler(extra);
    const dir = await resolveDatasetDir('icecat-chorus', opts());
    for (const f of ['products.jsonl', 'supahands_individual_ratings.csv', 'broad_query_set_rated.csv']) {
      const got = await readFile(join(dir, f));
      expect(got.equals(await readFile(join(DATA_DIR, 'icecat-chorus', f))), f).toBe(true);
    }
    expect(existsSync(join(dir, 'haystack_rating_party.jsonl'))).toBe(false);
    expect(existsSync(join(dir, '.sources'))).toBe(false);
  });
});

/**
 * Find a data set's folder, downloading public data sets into a checksum-verified cache.
 *
 * Resolution order (`resolveDatasetDir`):
 *  1. `<dataDir>/<name>` if it is a folder (dataDir: option, else env DISTILRANK_DATA_DIR);
 *  2. `<cacheDir>/<name>` if it holds a completion marker matching the registry's checksums
 *     (cacheDir: option, else env DISTILRANK_CACHE_DIR, else `~/.cache/distilrank/datasets`);
 *  3. a download, when the registry (sources.ts) says the data set is downloadable and `download`
 *     is not false: every file is streamed to a temp file inside `<cacheDir>/.<name>.partial-<pid>`,
 *     its SHA-256 checked, post-processed, and the completion marker written last; the folder is then
 *     renamed to `<cacheDir>/<name>` in one step. A failed or interrupted download never leaves a
 *     folder that step 2 accepts (the partial folder is removed on failure; orphans of killed
 *     processes are removed by the next download of the same data set);
 *  4. otherwise NOT_DOWNLOADABLE (no public source) or FILE_NOT_FOUND, with a hint.
 *
 * Mirror: `baseUrl` (or env DISTILRANK_DOWNLOAD_MIRROR) is a mirror root. Every source file is then
 * fetched from `${mirror}/${dataset}/${source.path}`, where `source.path` is the file's path in its
 * upstream repository (e.g. `http://127.0.0.1:8080/cranfield/cran.all.1400`), instead of its pinned
 * public URLs. Checksums are verified exactly as for the public source. Tests use it to serve files
 * from a local HTTP server.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { unzipSync } from 'fflate';
import { DistilrankError, unknownName } from '../../core/index.ts';
import { DATASET_SOURCES, type DatasetSource, type DownloadableFile, type SourceFile } from './sources.ts';

export interface ResolveDatasetOptions {
  /** Folder holding one subfolder per data set (default: env DISTILRANK_DATA_DIR). */
  dataDir?: string;
  /** Download cache (default: env DISTILRANK_CACHE_DIR, else ~/.cache/distilrank/datasets). */
  cacheDir?: string;
  /** Set false to never download (step 3 is skipped). */
  download?: boolean;
  /** fetch implementation (default: Node's global fetch). */
  fetch?: typeof fetch;
  /** Mirror root (default: env DISTILRANK_DOWNLOAD_MIRROR): see the module comment. */
  baseUrl?: string;
  /** Called as bytes arrive: bytes done so far for the data set, and the total when known. */
  onProgress?: (done: number, total?: number) => void;
  /** Time limit per fetched file, whole body included, in ms (default: env DISTILRANK_DOWNLOAD_TIMEOUT_MS, else 10 minutes). */
  timeoutMs?: number;
  /** Largest accepted size of one fetched file, and of one unzipped member, in bytes (default 512 MiB). */
  maxBytes?: number;
  /** The registry to use (default: DATASET_SOURCES). Tests inject entries with their own checksums. */
  registry?: Readonly<Record<string, DatasetSource>>;
}

/** Name of the completion marker inside a cached data set folder. */
export const COMPLETION_MARKER = '.distilrank-complete.json';

const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;
const DEFAULT_MAX_BYTES = 512 * 1024 * 1024;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function defaultCacheDir(): string {
  return join(homedir(), '.cache', 'distilrank', 'datasets');
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function nonEmpty(v: string | undefined): string | undefined {
  return v !== undefined && v.trim() !== '' ? v : undefined;
}

interface Marker {
  dataset: string;
  files: Record<string, string>;
  origin?: string;
  completedAt?: string;
}

/** True when `dir` holds a completion marker that matches the registry entry (if any). */
async function isComplete(dir: string, entry: DatasetSource | undefined): Promise<boolean> {
  let marker: Marker;
  try {
    marker = JSON.parse(await readFile(join(dir, COMPLETION_MARKER), 'utf8')) as Marker;
  } catch {
    return false;
  }
  if (entry === undefined) return true;
  if (marker === null || typeof marker !== 'object' || typeof marker.files !== 'object' || marker.files === null) {
    return false;
  }
  // A registry update (new checksum) invalidates the cached copy.
  return entry.files.every((f) => marker.files[f.target] === f.sha256);
}

/** Resolve a data set's folder: see the module comment for the order. */
export async function resolveDatasetDir(name: string, opts: ResolveDatasetOptions = {}): Promise<string> {
  const registry = opts.registry ?? DATASET_SOURCES;
  const known = Object.keys(registry);
  if (!NAME_RE.test(name)) throw unknownName('data set', name, known);
  const entry = Object.hasOwn(registry, name) ? registry[name] : undefined;

  const dataDir = nonEmpty(opts.dataDir) ?? nonEmpty(process.env.DISTILRANK_DATA_DIR);
  const looked: string[] = [];
  if (dataDir !== undefined) {
    const dir = join(dataDir, name);
    if (await isDirectory(dir)) return dir;
    looked.push(dir);
  }

  const cacheDir = nonEmpty(opts.cacheDir) ?? nonEmpty(process.env.DISTILRANK_CACHE_DIR) ?? defaultCacheDir();
  const cached = join(cacheDir, name);
  if (await isComplete(cached, entry)) return cached;
  looked.push(cached);
  const lookedText = looked.join(', ');

  if (entry === undefined) {
    throw new DistilrankError('FILE_NOT_FOUND', `data set folder "${name}" not found (looked in ${lookedText})`, {
      file: looked[0],
      hint:
        `put the data set in <data-dir>/${name} and pass --data-dir <data-dir> (or set DISTILRANK_DATA_DIR); ` +
        `distilrank can fetch these data sets itself: ${known.filter((n) => registry[n]?.downloadable).join(', ')}`,
    });
  }
  if (!entry.downloadable) {
    const required = entry.manualFiles.filter((f) => !f.optional);
    const why = required.map((f) => `${f.target}: ${f.reason}`).join('; ');
    throw new DistilrankError(
      'NOT_DOWNLOADABLE',
      `data set "${name}" is not present (looked in ${lookedText}) and has no public download` + (why ? ` (${why})` : ''),
      { file: dataDir !== undefined ? join(dataDir, name) : undefined, hint: entry.manualHint },
    );
  }
  if (opts.download === false) {
    throw new DistilrankError('FILE_NOT_FOUND', `data set "${name}" is not present (looked in ${lookedText}) and downloading is turned off`, {
      file: looked[0],
      hint: `allow the download (drop --no-download) to fetch it from ${entry.origin}, or ${entry.manualHint}`,
    });
  }
  return downloadDataset(entry, cacheDir, opts);
}

// ---------------------------------------------------------------------------------------------
// Download

interface DownloadContext {
  dataset: DatasetSource;
  fetchImpl: typeof fetch;
  mirror: string | undefined;
  timeoutMs: number;
  maxBytes: number;
  progress: (delta: number) => void;
}

function downloadFailed(ctx: DownloadContext, url: string, what: string): DistilrankError {
  return new DistilrankError('DOWNLOAD_FAILED', `could not download ${url}: ${what}`, {
    file: url,
    hint: `check the network (or the mirror), or download the data set by hand: ${ctx.dataset.manualHint}`,
  });
}

function resolveMirror(opt: string | undefined): string | undefined {
  const mirror = nonEmpty(opt) ?? nonEmpty(process.env.DISTILRANK_DOWNLOAD_MIRROR);
  if (mirror === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(mirror);
  } catch {
    url = new URL('invalid:');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DistilrankError('BAD_OPTION', `download mirror "${mirror}" is not an http(s) URL`, {
      field: 'DISTILRANK_DOWNLOAD_MIRROR',
      hint: 'give a mirror root such as https://example.org/distilrank-data (files are fetched from <root>/<data set>/<path>)',
    });
  }
  return mirror.replace(/\/+$/, '');
}

function sourceUrls(ctx: DownloadContext, source: SourceFile): readonly string[] {
  if (ctx.mirror === undefined) return source.urls;
  const path = source.path.split('/').map(encodeURIComponent).join('/');
  return [`${ctx.mirror}/${encodeURIComponent(ctx.dataset.name)}/${path}`];
}

/** A path inside the data set folder; rejects absolute paths and `..`. */
function safeJoin(root: string, relative: string): string {
  const norm = normalize(relative);
  if (isAbsolute(norm) || norm === '..' || norm.startsWith(`..${sep}`) || relative.includes('\\')) {
    throw new DistilrankError('BAD_INPUT', `registry path "${relative}" leaves the data set folder`, {
      field: 'target',
      hint: 'registry targets must be relative paths inside the data set folder',
    });
  }
  return join(root, norm);
}

interface Fetched {
  sha256: string;
  bytes: number;
}

/** Stream one URL into `dest`, hashing as it goes. Throws DOWNLOAD_FAILED. */
async function fetchToFile(ctx: DownloadContext, url: string, dest: string): Promise<Fetched> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw downloadFailed(ctx, url, 'not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw downloadFailed(ctx, url, `unsupported protocol ${parsed.protocol} (only http and https)`);
  }
  const signal = AbortSignal.timeout(ctx.timeoutMs);
  const failure = (e: unknown): DistilrankError =>
    signal.aborted
      ? downloadFailed(ctx, url, `timed out after ${ctx.timeoutMs} ms`)
      : downloadFailed(
          ctx,
          url,
          `network error: ${e instanceof Error ? (e.cause instanceof Error ? `${e.message} (${e.cause.message})` : e.message) : String(e)}`,
        );

  let res: Response;
  try {
    res = await ctx.fetchImpl(url, { signal, redirect: 'follow' });
  } catch (e) {
    throw failure(e);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw downloadFailed(ctx, url, `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > ctx.maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw downloadFailed(ctx, url, `size ${declared} bytes exceeds the limit of ${ctx.maxBytes} bytes`);
  }
  if (res.body === null) throw downloadFailed(ctx, url, 'empty response');

  const hash = createHash('sha256');
  let bytes = 0;
  await mkdir(dirname(dest), { recursive: true });
  const fh = await open(dest, 'w');
  const reader = res.body.getReader();
  let finished = false;
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw failure(e);
      }
      if (chunk.done) {
        finished = true;
        break;
      }
      bytes += chunk.value.byteLength;
      if (bytes > ctx.maxBytes) {
        throw downloadFailed(ctx, url, `more than the limit of ${ctx.maxBytes} bytes`);
      }
      hash.update(chunk.value);
      await fh.write(chunk.value);
      ctx.progress(chunk.value.byteLength);
    }
    await fh.sync();
  } finally {
    await fh.close();
    // On any failure, stop the transfer so the connection does not linger.
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Try a source's URLs in order; the first that answers wins. */
async function fetchSource(ctx: DownloadContext, source: SourceFile, dest: string): Promise<Fetched & { url: string }> {
  const urls = sourceUrls(ctx, source);
  let last: unknown = downloadFailed(ctx, source.path, 'no URL in the registry');
  for (const url of urls) {
    try {
      return { ...(await fetchToFile(ctx, url, dest)), url };
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

function checksumMismatch(file: DownloadableFile, from: string, actual: Fetched): DistilrankError {
  const size = file.bytes !== undefined && file.bytes !== actual.bytes ? ` (${actual.bytes} bytes, published ${file.bytes})` : '';
  return new DistilrankError('CHECKSUM_MISMATCH', `${file.target} (from ${from}) has SHA-256 ${actual.sha256}, expected ${file.sha256}${size}`, {
    file: file.target,
    hint:
      'the source or a proxy/mirror served different bytes: retry later, check the mirror, or download the ' +
      'file by hand from its pinned source and pass --data-dir; nothing was cached',
  });
}

async function downloadFile(ctx: DownloadContext, file: DownloadableFile, root: string): Promise<void> {
  const dest = safeJoin(root, file.target);
  const tmp = `${dest}.part`;
  if (file.postprocess === 'copy') {
    const [source] = file.sources;
    if (source === undefined || file.sources.length !== 1) {
      throw new DistilrankError('BAD_INPUT', `registry entry ${file.target}: "copy" needs exactly one source`);
    }
    const got = await fetchSource(ctx, source, tmp);
    if (got.sha256 !== file.sha256.toLowerCase()) throw checksumMismatch(file, got.url, got);
    await rename(tmp, dest);
    return;
  }
  // json-array-zips-to-jsonl: fetch every zip, then derive the file and check the derived bytes.
  const zips: string[] = [];
  const urls: string[] = [];
  for (const [i, source] of file.sources.entries()) {
    const zipPath = safeJoin(root, `.sources/${i}.zip`);
    const got = await fetchSource(ctx, source, zipPath);
    zips.push(zipPath);
    urls.push(got.url);
  }
  const hash = createHash('sha256');
  let bytes = 0;
  await mkdir(dirname(tmp), { recursive: true });
  const fh = await open(tmp, 'w');
  try {
    for (const [i, zipPath] of zips.entries()) {
      const url = urls[i] ?? zipPath;
      for (const text of unzipMembers(ctx, await readFile(zipPath), url)) {
        let lines: string[];
        try {
          lines = pythonJsonLines(text);
        } catch (e) {
          throw downloadFailed(ctx, url, `a member is not a JSON array of records: ${e instanceof Error ? e.message : String(e)}`);
        }
        for (let j = 0; j < lines.length; j += 1000) {
          const buf = Buffer.from(
            lines
              .slice(j, j + 1000)
              .map((l) => `${l}\n`)
              .join(''),
            'utf8',
          );
          hash.update(buf);
          bytes += buf.byteLength;
          await fh.write(buf);
        }
      }
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rm(join(root, '.sources'), { recursive: true, force: true });
  const got = { sha256: hash.digest('hex'), bytes };
  if (got.sha256 !== file.sha256.toLowerCase()) throw checksumMismatch(file, urls.join(' + '), got);
  await rename(tmp, dest);
}

/** The UTF-8 text of every file member of a ZIP archive, in archive order. */
function unzipMembers(ctx: DownloadContext, data: Uint8Array, url: string): string[] {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(data, {
      filter: (f) => {
        if (f.name.endsWith('/') || f.name.startsWith('__MACOSX/')) return false;
        if (f.originalSize > ctx.maxBytes) {
          throw new Error(`member ${f.name} unzips to ${f.originalSize} bytes, over the limit of ${ctx.maxBytes}`);
        }
        return true;
      },
    });
  } catch (e) {
    const head = Buffer.from(data.subarray(0, 40)).toString('latin1');
    const lfs = head.startsWith('version https://git-lfs') ? ' (got a Git LFS pointer, not the file)' : '';
    throw downloadFailed(ctx, url, `not a valid ZIP archive${lfs}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  return Object.entries(files).map(([member, bytes]) => {
    try {
      return decoder.decode(bytes);
    } catch {
      throw downloadFailed(ctx, url, `member ${member} is not valid UTF-8`);
    }
  });
}

/** Remove partial/stale folders of `name` left by processes that no longer run. */
async function removeOrphans(cacheDir: string, name: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(cacheDir);
  } catch {
    return;
  }
  const prefix = `.${name}.`;
  for (const entry of entries) {
    if (!entry.startsWith(prefix)) continue;
    const m = /^(?:partial|stale)-(\d+)(?:-|$)/.exec(entry.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid) continue;
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (e) {
      alive = (e as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) await rm(join(cacheDir, entry), { recursive: true, force: true }).catch(() => undefined);
  }
}

async function downloadDataset(entry: DatasetSource, cacheDir: string, opts: ResolveDatasetOptions): Promise<string> {
  const envTimeout = Number(process.env.DISTILRANK_DOWNLOAD_TIMEOUT_MS);
  const timeoutMs = opts.timeoutMs ?? (Number.isFinite(envTimeout) && envTimeout > 0 ? envTimeout : DEFAULT_TIMEOUT_MS);
  const files = entry.files;
  const total = files.every((f) => f.sources.every((s) => s.bytes !== undefined))
    ? files.reduce((n, f) => n + f.sources.reduce((m, s) => m + (s.bytes ?? 0), 0), 0)
    : undefined;
  let done = 0;
  const ctx: DownloadContext = {
    dataset: entry,
    fetchImpl: opts.fetch ?? globalThis.fetch,
    mirror: resolveMirror(opts.baseUrl),
    timeoutMs,
    maxBytes: opts.maxBytes ?? DEFAULT_MAX_BYTES,
    progress: (delta) => {
      done += delta;
      opts.onProgress?.(done, total);
    },
  };

  await mkdir(cacheDir, { recursive: true });
  await removeOrphans(cacheDir, entry.name);
  const final = join(cacheDir, entry.name);
  const partial = join(cacheDir, `.${entry.name}.partial-${process.pid}`);
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  try {
    for (const file of files) await downloadFile(ctx, file, partial);
    const marker: Marker = {
      dataset: entry.name,
      files: Object.fromEntries(files.map((f) => [f.target, f.sha256])),
      origin: ctx.mirror ?? entry.origin,
      completedAt: new Date().toISOString(),
    };
    // The marker is written last, then the whole folder appears at its final path in one rename.
    await writeFile(join(partial, COMPLETION_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
    try {
      await rename(partial, final);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY' && code !== 'EPERM' && code !== 'EISDIR') throw e;
      // Another process finished first: use its copy.
      if (await isComplete(final, entry)) {
        await rm(partial, { recursive: true, force: true });
        return final;
      }
      // An incomplete or outdated folder is in the way: move it aside, then put ours in place.
      const aside = join(cacheDir, `.${entry.name}.stale-${process.pid}-${Date.now()}`);
      await rename(final, aside);
      await rename(partial, final);
      await rm(aside, { recursive: true, force: true });
    }
    return final;
  } catch (e) {
    await rm(partial, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Python-compatible JSON re-serialisation (for the json-array-zips-to-jsonl post-processing)

/**
 * Parse `text` as one JSON array (as Python's `json.load` does) and return each element formatted
 * exactly as Python's `json.dumps(element, ensure_ascii=False)` writes it: `", "` / `": "`
 * separators, object keys in source order, strings with JSON's minimal escapes (non-ASCII raw),
 * integers as written, floats (any number with `.`, `e` or `E`) in Python's `repr`, NaN/Infinity
 * kept. Works on the tokens, so key order is preserved even for numeric-looking keys.
 * Not reproduced: duplicate keys in one object (Python keeps the last value), lone surrogates.
 */
export function pythonJsonLines(text: string): string[] {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const n = text.length;
  const fail = (what: string): never => {
    throw new Error(`${what} at character ${i}`);
  };
  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const numberRe = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
  const str = (): string => {
    let j = i + 1;
    for (;;) {
      if (j >= n) fail('unterminated string');
      const c = text.charCodeAt(j);
      if (c === 0x22) break;
      j += c === 0x5c ? 2 : 1;
    }
    const lexeme = text.slice(i, j + 1);
    let out: string;
    try {
      out = JSON.stringify(JSON.parse(lexeme) as string);
    } catch {
      return fail('invalid string');
    }
    i = j + 1;
    return out;
  };
  const value = (): string => {
    ws();
    const c = text[i];
    switch (c) {
      case '{': {
        i++;
        ws();
        if (text[i] === '}') {
          i++;
          return '{}';
        }
        const parts: string[] = [];
        for (;;) {
          ws();
          if (text[i] !== '"') fail('expected a string key');
          const key = str();
          ws();
          if (text[i] !== ':') fail('expected ":"');
          i++;
          parts.push(`${key}: ${value()}`);
          ws();
          if (text[i] === ',') i++;
          else if (text[i] === '}') {
            i++;
            return `{${parts.join(', ')}}`;
          } else fail('expected "," or "}"');
        }
      }
      case '[': {
        i++;
        ws();
        if (text[i] === ']') {
          i++;
          return '[]';
        }
        const parts: string[] = [];
        for (;;) {
          parts.push(value());
          ws();
          if (text[i] === ',') i++;
          else if (text[i] === ']') {
            i++;
            return `[${parts.join(', ')}]`;
          } else fail('expected "," or "]"');
        }
      }
      case '"':
        return str();
      default:
        break;
    }
    for (const lit of ['true', 'false', 'null', 'NaN', 'Infinity', '-Infinity']) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return lit;
      }
    }
    numberRe.lastIndex = i;
    const m = numberRe.exec(text);
    if (!m) return fail('unexpected character');
    i += m[0].length;
    if (m[1] === undefined && m[2] === undefined) return m[0] === '-0' ? '0' : m[0];
    return pythonFloatRepr(Number(m[0]));
  };

  ws();
  if (text[i] !== '[') fail('expected a JSON array');
  i++;
  const lines: string[] = [];
  ws();
  if (text[i] === ']') i++;
  else {
    for (;;) {
      lines.push(value());
      ws();
      if (text[i] === ',') i++;
      else if (text[i] === ']') {
        i++;
        break;
      } else fail('expected "," or "]"');
    }
  }
  ws();
  if (i < n) fail('extra data after the array');
  return lines;
}

/** Python's `repr(float)` (what `json.dumps` writes for a float). */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mantissa = '', exp = '0'] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const decpt = Number(exp) + 1; // value = 0.<digits> * 10^decpt
  let body: string;
  if (decpt <= -4 || decpt > 16) {
    const e = decpt - 1;
    const frac = digits.length > 1 ? `.${digits.slice(1)}` : '';
    body = `${digits[0] ?? '0'}${frac}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  } else if (decpt <= 0) {
    body = `0.${'0'.repeat(-decpt)}${digits}`;
  } else if (decpt >= digits.length) {
    body = `${digits}${'0'.repeat(decpt - digits.length)}.0`;
  } else {
    body = `${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  }
  return sign + body;
}

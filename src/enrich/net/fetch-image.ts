/**
 * Fetching an untrusted image URL (a catalogue's image field) without letting it reach what it
 * should not (SSRF):
 * - http: and https: only;
 * - the host name is resolved once, and every address it resolves to must be public: private,
 *   loopback, link-local (cloud metadata at 169.254.169.254), CGNAT, multicast, unspecified,
 *   reserved/documentation ranges, IPv6 ULA, IPv4-mapped and NAT64 addresses are refused unless
 *   `allowPrivate` is set;
 * - the connection goes to the address that was checked (a pinned `lookup`), so a DNS answer that
 *   changes between the check and the connect (rebinding) cannot redirect it; TLS still verifies
 *   the certificate against the host name;
 * - redirects are followed by hand, at most `maxRedirects`, each target checked as above;
 * - one deadline covers DNS, connect, headers and body of every hop; the body is streamed and
 *   aborted once it passes `maxBytes` (a Content-Length above it is refused before reading);
 * - the Content-Type must be image/*.
 */
import { createHash } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

export const DEFAULT_MAX_IMAGE_BYTES = 5 * 1024 * 1024;
export const DEFAULT_IMAGE_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_REDIRECTS = 3;

export type ImageFetchFailure =
  | 'bad_url' // not a URL, or not http(s)
  | 'blocked_address' // resolves to a private / loopback / link-local / … address
  | 'dns' // the name does not resolve
  | 'network' // connect or transfer failed
  | 'timeout'
  | 'http_status' // a status other than 200 (after redirects)
  | 'too_many_redirects'
  | 'too_large'
  | 'not_image'; // Content-Type is not image/*

/** Failures a later try may not repeat (the server or network may recover); the rest are policy refusals. */
export const TRANSIENT_FETCH_FAILURES: ReadonlySet<ImageFetchFailure> = new Set(['dns', 'network', 'timeout', 'http_status']);

export class ImageFetchError extends Error {
  constructor(
    readonly reason: ImageFetchFailure,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ImageFetchError';
  }
}

export interface FetchImageOptions {
  /** Allow private, loopback and link-local targets (tests, intranet catalogues). Default false. */
  allowPrivate?: boolean;
  /** Single addresses let through although they are private (e.g. one intranet image host). */
  allowAddress?: (address: string) => boolean;
  maxBytes?: number;
  timeoutMs?: number;
  maxRedirects?: number;
  signal?: AbortSignal;
  /** Name resolution (tests may inject one); default: the system resolver, every address. */
  resolve?: (host: string) => Promise<Array<{ address: string; family: number }>>;
}

export interface FetchedImage {
  bytes: Buffer;
  /** The media type, lower-cased, parameters removed ("image/png"). */
  contentType: string;
  /** SHA-256 hex of the bytes. */
  sha256: string;
  /** The URL the bytes came from (after redirects). */
  finalUrl: string;
}

/** Addresses no untrusted URL may reach (two lists: a BlockList matches IPv4 against IPv4-mapped IPv6 rules). */
const BLOCKED_V4 = new BlockList();
const BLOCKED_V6 = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  BLOCKED_V4.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['::ffff:0:0', 96], // IPv4-mapped: would reach an IPv4 address past the IPv4 rules
  ['64:ff9b::', 96], // NAT64
  ['64:ff9b:1::', 48],
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local (ULA)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  BLOCKED_V6.addSubnet(net, prefix, 'ipv6');
}

/** True when `address` (an IP literal) is in a private, loopback, link-local or otherwise non-public range. */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return BLOCKED_V4.check(address, 'ipv4');
  if (family === 6) {
    // ::a.b.c.d (IPv4-compatible, deprecated) also reaches IPv4 space.
    if (/^::(ffff:)?(\d+\.){3}\d+$/i.test(address)) return true;
    return BLOCKED_V6.check(address, 'ipv6');
  }
  return true; // not an address at all
}

const defaultResolve = async (host: string) => dnsLookup(host, { all: true, verbatim: true });

/** Parse and check the scheme; the host as an address-or-name (IPv6 brackets removed). */
function parseTarget(raw: string): { url: URL; host: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ImageFetchError('bad_url', `not a URL: ${JSON.stringify(raw.slice(0, 200))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ImageFetchError('bad_url', `only http and https image URLs are fetched, not ${url.protocol}`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new ImageFetchError('bad_url', `no host in ${url.href}`);
  return { url, host };
}

/** Resolve the host and check every address; the address to connect to. */
async function checkedAddress(host: string, o: FetchImageOptions): Promise<{ address: string; family: number }> {
  let addresses: Array<{ address: string; family: number }>;
  const literal = isIP(host);
  if (literal) addresses = [{ address: host, family: literal }];
  else {
    try {
      addresses = await (o.resolve ?? defaultResolve)(host);
    } catch (e) {
      throw new ImageFetchError('dns', `cannot resolve ${host}: ${(e as Error).message}`);
    }
    if (!addresses.length) throw new ImageFetchError('dns', `${host} resolves to no address`);
  }
  if (!o.allowPrivate) {
    // Every address must be public: a name that also resolves to an internal address is refused.
    const bad = addresses.find((a) => isBlockedAddress(a.address) && !o.allowAddress?.(a.address));
    if (bad) {
      throw new ImageFetchError(
        'blocked_address',
        `${host} resolves to ${bad.address}, a private, loopback, link-local or reserved address (allow with --allow-private-urls)`,
      );
    }
  }
  return addresses[0]!;
}

interface Hop {
  status: number;
  location?: string;
  contentType?: string;
  bytes?: Buffer;
}

/** One request to a checked, pinned address; reads the body only for a 200 with an image type. */
function request(
  url: URL,
  host: string,
  pinned: { address: string; family: number },
  o: Required<Pick<FetchImageOptions, 'maxBytes'>>,
  signal: AbortSignal,
): Promise<Hop> {
  return new Promise<Hop>((resolve, reject) => {
    const lookup: LookupFunction = (_hostname, options, callback) => {
      if (options.all) callback(null, [{ address: pinned.address, family: pinned.family }]);
      else callback(null, pinned.address, pinned.family);
    };
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(
      url,
      {
        method: 'GET',
        lookup,
        signal,
        headers: { accept: 'image/*', 'user-agent': 'distilrank-captions' },
        ...(url.protocol === 'https:' && !isIP(host) ? { servername: host } : {}),
        agent: false,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const contentType = (res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        const hop: Hop = { status, contentType };
        if (status >= 300 && status < 400) {
          const loc = res.headers.location;
          if (loc !== undefined) hop.location = loc;
          res.resume();
          res.destroy();
          resolve(hop);
          return;
        }
        if (status !== 200 || !contentType.startsWith('image/')) {
          res.destroy();
          resolve(hop);
          return;
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > o.maxBytes) {
          reject(new ImageFetchError('too_large', `${url.href}: Content-Length ${declared} is over the limit of ${o.maxBytes} bytes`));
          res.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > o.maxBytes) {
            reject(new ImageFetchError('too_large', `${url.href}: the body passed the limit of ${o.maxBytes} bytes`));
            res.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => resolve({ ...hop, bytes: Buffer.concat(chunks) }));
        res.on('error', (e) => reject(e));
        res.on('aborted', () => reject(new ImageFetchError('network', `${url.href}: the connection closed mid-body`)));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * Fetch an image from an untrusted URL under the rules of the module comment. Fails with an
 * ImageFetchError whose `reason` says why.
 */
export async function fetchImage(rawUrl: string, opts: FetchImageOptions = {}): Promise<FetchedImage> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_IMAGE_BYTES;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_IMAGE_TIMEOUT_MS;
  const maxRedirects = opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const deadline = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    deadline.abort();
  }, timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline.signal]) : deadline.signal;
  let current = rawUrl;
  try {
    for (let hop = 0; ; hop++) {
      const { url, host } = parseTarget(current);
      const pinned = await checkedAddress(host, opts);
      signal.throwIfAborted();
      const res = await request(url, host, pinned, { maxBytes }, signal);
      if (res.status >= 300 && res.status < 400 && res.location !== undefined) {
        if (hop >= maxRedirects) throw new ImageFetchError('too_many_redirects', `${rawUrl}: more than ${maxRedirects} redirects`);
        current = new URL(res.location, url).href;
        continue;
      }
      if (res.status !== 200) throw new ImageFetchError('http_status', `${url.href} answered HTTP ${res.status}`, res.status);
      if (!res.contentType?.startsWith('image/') || !res.bytes) {
        throw new ImageFetchError('not_image', `${url.href} is ${res.contentType ? `"${res.contentType}"` : 'of no declared type'}, not an image`);
      }
      return { bytes: res.bytes, contentType: res.contentType, sha256: createHash('sha256').update(res.bytes).digest('hex'), finalUrl: url.href };
    }
  } catch (e) {
    if (e instanceof ImageFetchError) throw e;
    if (timedOut) throw new ImageFetchError('timeout', `${current}: no complete answer within ${timeoutMs} ms`);
    if (opts.signal?.aborted) throw e;
    throw new ImageFetchError('network', `${current}: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

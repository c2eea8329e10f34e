/**
 * Untrusted image URLs: a real HTTP server on 127.0.0.1 serves PNGs the test builds and the hostile
 * cases; fetchImage must refuse what it should and fetch what it should (loopback allowed only with
 * allowPrivate, as the tests' own server lives there).
 */
import { describe, expect, it } from 'vitest';
import { ImageFetchError, fetchImage, isBlockedAddress, type ImageFetchFailure } from '../src/enrich/net/index.ts';
import { sha256hex, tinyPng } from './fake-vlm.ts';
import { rejectedWith, useImageServer } from './helpers.ts';

const images = useImageServer();

async function reason(p: Promise<unknown>): Promise<ImageFetchFailure> {
  return (await rejectedWith(ImageFetchError, p)).reason;
}

describe('isBlockedAddress', () => {
  it('refuses private, loopback, link-local, CGNAT, multicast, unspecified, ULA and mapped addresses', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fd00::1',
      'fe80::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:8.8.8.8',
      '64:ff9b::a00:1',
      '::127.0.0.1',
    ]) {
      expect(isBlockedAddress(a), a).toBe(true);
    }
  });
  it('lets public addresses through', () => {
    for (const a of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001::200e']) {
      expect(isBlockedAddress(a), a).toBe(false);
    }
  });
});

describe('fetchImage', () => {
  it('fetches a PNG from loopback when private addresses are allowed, with its hash and type', async () => {
    const img = await fetchImage(images.imageUrl('chair'), { allowPrivate: true });
    expect(img.contentType).toBe('image/png');
    expect(img.bytes.equals(tinyPng('chair'))).toBe(true);
    expect(img.sha256).toBe(sha256hex(tinyPng('chair')));
  });

  it('refuses loopback, link-local metadata and private addresses without the flag, before connecting', async () => {
    const before = images.hits.length;
    expect(await reason(fetchImage(images.imageUrl('chair')))).toBe('blocked_address');
    expect(await reason(fetchImage('http://169.254.169.254/latest/meta-data/'))).toBe('blocked_address');
    expect(await reason(fetchImage('http://10.0.0.7/a.png'))).toBe('blocked_address');
    expect(await reason(fetchImage('http://[::1]:9/a.png'))).toBe('blocked_address');
    expect(await reason(fetchImage('http://[::ffff:127.0.0.1]:9/a.png'))).toBe('blocked_address');
    expect(images.hits.length).toBe(before); // nothing reached the server
  });

  it('refuses a host name that resolves to a private address (and one that resolves to both)', async () => {
    const resolve = async (host: string) =>
      host === 'evil.example'
        ? [{ address: '127.0.0.1', family: 4 }]
        : [
            { address: '93.184.216.34', family: 4 },
            { address: '10.0.0.1', family: 4 },
          ];
    expect(await reason(fetchImage('http://evil.example/a.png', { resolve }))).toBe('blocked_address');
    expect(await reason(fetchImage('http://mixed.example/a.png', { resolve }))).toBe('blocked_address');
  });

  it('connects to the checked address, not to a second DNS answer (no rebinding)', async () => {
    // The name resolves once, to the test server; were the client to resolve again it would get a
    // dead address. The fetch works, so the connection used the pinned, checked address.
    const port = new URL(images.url).port;
    let calls = 0;
    const resolve = async () => {
      calls += 1;
      return calls === 1 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '192.0.2.1', family: 4 }];
    };
    const img = await fetchImage(`http://images.test:${port}/img/pinned.png`, { allowPrivate: true, resolve });
    expect(img.bytes.equals(tinyPng('pinned'))).toBe(true);
    expect(calls).toBe(1);
  });

  it('refuses schemes other than http(s)', async () => {
    expect(await reason(fetchImage('ftp://127.0.0.1/a.png', { allowPrivate: true }))).toBe('bad_url');
    expect(await reason(fetchImage('file:///etc/passwd', { allowPrivate: true }))).toBe('bad_url');
    expect(await reason(fetchImage('data:image/png;base64,AAAA', { allowPrivate: true }))).toBe('bad_url');
    expect(await reason(fetchImage('not a url', { allowPrivate: true }))).toBe('bad_url');
  });

  it('follows redirects with the same checks: a redirect to a private address is refused', async () => {
    const ok = await fetchImage(`${images.url}/redirect?to=${encodeURIComponent(images.imageUrl('moved'))}`, { allowPrivate: true });
    expect(ok.bytes.equals(tinyPng('moved'))).toBe(true);
    expect(ok.finalUrl).toBe(images.imageUrl('moved'));
    // Only the test server's own address is let through: the redirect targets are checked on their own.
    const onlyServer = { allowAddress: (a: string) => a === '127.0.0.1' };
    const via = (to: string) => `${images.url}/redirect?to=${encodeURIComponent(to)}`;
    const moved = await fetchImage(via(images.imageUrl('moved')), onlyServer);
    expect(moved.sha256).toBe(sha256hex(tinyPng('moved')));
    const before = images.hits.length;
    expect(await reason(fetchImage(via('http://169.254.169.254/latest/meta-data/'), onlyServer))).toBe('blocked_address');
    expect(await reason(fetchImage(via('http://10.0.0.1/x.png'), onlyServer))).toBe('blocked_address');
    expect(await reason(fetchImage(via('http://[fd00::1]/x.png'), onlyServer))).toBe('blocked_address');
    expect(await reason(fetchImage(via('file:///etc/passwd'), onlyServer))).toBe('bad_url');
    expect(images.hits.length - before).toBe(4); // each first hop reached the server, no second hop did
  });

  it('stops after 3 redirects', async () => {
    const ok = await fetchImage(`${images.url}/hops/2`, { allowPrivate: true });
    expect(ok.bytes.equals(tinyPng('after-hops'))).toBe(true);
    expect(await reason(fetchImage(`${images.url}/hops/3`, { allowPrivate: true }))).toBe('too_many_redirects');
  });

  it('aborts an oversize image, declared or streamed', async () => {
    expect(await reason(fetchImage(`${images.url}/big-declared`, { allowPrivate: true }))).toBe('too_large');
    expect(await reason(fetchImage(`${images.url}/big`, { allowPrivate: true }))).toBe('too_large');
    const small = await fetchImage(`${images.url}/big`, { allowPrivate: true, maxBytes: 7 * 1024 * 1024 });
    expect(small.bytes.length).toBe(6 * 1024 * 1024);
  });

  it('times out a body that never ends', async () => {
    const t0 = Date.now();
    expect(await reason(fetchImage(`${images.url}/slow`, { allowPrivate: true, timeoutMs: 300 }))).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('refuses a non-image content type and reports HTTP errors', async () => {
    expect(await reason(fetchImage(`${images.url}/html`, { allowPrivate: true }))).toBe('not_image');
    expect(await reason(fetchImage(`${images.url}/missing`, { allowPrivate: true }))).toBe('http_status');
  });
});

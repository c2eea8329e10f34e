/**
 * Listening: `startServer` builds the app, listens (127.0.0.1 by default) and returns the URL and a
 * `close` that stops accepting, drains in-flight requests (up to a time limit), then closes the
 * artifacts. With `handleSignals`, SIGTERM and SIGINT run that close once.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { DistilrankError } from '../core/index.ts';
import { buildApp, type AppOptions, type ServeApp } from './app.ts';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8787;
/** How long shutdown waits for in-flight requests before cutting connections. */
export const DRAIN_TIMEOUT_MS = 10_000;

export interface StartServerOptions extends Omit<AppOptions, 'adminToken'> {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Default: DISTILRANK_ADMIN_TOKEN, else a random token (reported in `generatedToken`). */
  adminToken?: string;
  /** Close on SIGTERM / SIGINT (what `distilrank serve` does). */
  handleSignals?: boolean;
  drainTimeoutMs?: number;
}

export interface RunningServer {
  url: string;
  app: ServeApp;
  adminToken: string;
  /** True when no token was configured and one was generated for this process. */
  generatedToken: boolean;
  /** Stop accepting, drain, close the artifacts. Idempotent. */
  close(): Promise<void>;
  /** Settles when the server has closed (by close() or a signal). */
  closed: Promise<void>;
}

export function generateAdminToken(): string {
  return randomBytes(24).toString('base64url');
}

export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const configured = options.adminToken ?? process.env.DISTILRANK_ADMIN_TOKEN;
  const adminToken = configured && configured.trim() ? configured.trim() : generateAdminToken();
  const app = await buildApp({ ...options, adminToken });
  const host = options.host ?? DEFAULT_HOST;
  try {
    await app.listen({ host, port: options.port ?? DEFAULT_PORT });
  } catch (e) {
    await app.close();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new DistilrankError('BAD_OPTION', `cannot listen on ${host}:${options.port ?? DEFAULT_PORT} (${code})`, {
        field: code === 'EADDRNOTAVAIL' ? 'host' : 'port',
        hint:
          code === 'EADDRNOTAVAIL'
            ? 'pass an address of this machine, e.g. --host 127.0.0.1'
            : 'pick another port with --port N (or --port 0 for any free one)',
      });
    }
    throw e;
  }
  const addr = app.server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;

  let closing: Promise<void> | null = null;
  let markClosed!: () => void;
  const closed = new Promise<void>((res) => (markClosed = res));
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const cut = setTimeout(() => app.server.closeAllConnections(), options.drainTimeoutMs ?? DRAIN_TIMEOUT_MS);
      try {
        await app.close();
      } finally {
        clearTimeout(cut);
        markClosed();
      }
    })();
    return closing;
  };
  if (options.handleSignals) {
    const onSignal = () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      void close();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  return { url, app, adminToken, generatedToken: !configured?.trim(), close, closed };
}

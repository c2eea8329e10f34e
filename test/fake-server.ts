/**
 * The plumbing every fake HTTP server of the tests shares (test/fake-openai.ts, test/fake-vlm.ts): a
 * real node:http server on 127.0.0.1 (port 0) whose `close()` also drops the connections still open,
 * so a test never waits on a hung request. No vitest here: bench/ uses the fakes too.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Running {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Destroy the connections open now (the server keeps listening). */
  dropConnections(): void;
  close(): Promise<void>;
}

/** Serve `handler` on a free loopback port; a handler that throws or rejects has its connection destroyed. */
export async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): Promise<Running> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch(() => res.destroy());
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    dropConnections: () => {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// A free TCP port on 127.0.0.1 for a local server the tests, the demo or the harness start.
// (Free when asked: another process could take it before it is bound; on one machine with
// ports handed out by the kernel that race has not been seen.)
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A free port whose Cluster bus port (port + 10000) is free too: a Cluster node binds both,
 * and a bus port some other process holds makes redis-server abort ("Failed listening on
 * port … (cluster)"), as seen once in CI.
 */
export async function freeClusterPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = await freePort();
    if (port + 10_000 <= 65_535 && (await canBind(port + 10_000))) return port;
  }
  throw new Error('no free port with a free Cluster bus port (port + 10000) after 50 tries');
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

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

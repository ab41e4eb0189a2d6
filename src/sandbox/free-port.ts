/**
 * Free loopback ports for sandboxes. The kernel picks (bind to port 0), so the port was free a
 * moment ago; between our close and the app's bind another process may take it, and then the
 * app fails to bind and exits, which `start` reports. Ports the caller already handed out are
 * skipped, because the kernel can give the same port twice in a row once it is closed.
 */
import { createServer } from 'node:net';

const HOST = '127.0.0.1';
const ATTEMPTS = 20;

/** A loopback port nothing listened on a moment ago, not in `exclude`. */
export async function freeLoopbackPort(exclude: ReadonlySet<number> = new Set()): Promise<number> {
  for (let i = 0; i < ATTEMPTS; i++) {
    const port = await kernelPort();
    if (!exclude.has(port)) return port;
  }
  throw new Error(`no free loopback port outside the ${exclude.size} in use after ${ATTEMPTS} tries`);
}

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('the kernel gave no port'))));
    });
  });
}

/**
 * `jetsaga serve --metrics <port>`: the Prometheus text on `http://127.0.0.1:<port>/metrics`.
 * Bound to loopback only: the figures name machines and coordinators, and a scraper on
 * another host reaches them through its own tunnel or a sidecar, never an open port.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PROMETHEUS_CONTENT_TYPE } from './exposition.js';

export interface MetricsServerHandle {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export const METRICS_HOST = '127.0.0.1';

/** Serves `render()` on GET /metrics (port 0: any free port). */
export async function startMetricsServer(options: { port: number; render: () => Promise<string> }): Promise<MetricsServerHandle> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    options.render().then(
      (text) => res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : text),
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics unavailable: ${(e as Error).message}\n`),
    );
  });
  // A scraper that keeps its connection open must not hold up the coordinator's stop.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, METRICS_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${METRICS_HOST}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

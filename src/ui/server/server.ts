/**
 * The visualizer's HTTP server: the page, its JSON API (api-types.ts) and its event stream,
 * on 127.0.0.1 unless told otherwise, every request checked against a random token. Live, it
 * is a client of the coordinators' service API over a NATS connection (like the CLI); offline
 * (no connection) it serves only bundles opened in the page, with the machines jetsaga ships.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';
import { knownDefinitions } from '../../cli/known-machines.js';
import { silentLogger, type Logger } from '../../log.js';
import type { SagaDefinition } from '../../runtime/types.js';
import { JetsagaClient } from '../../service/client.js';
import { packageVersion } from '../../service/service.js';
import type { UiInfo } from '../api-types.js';
import { buildAssets } from '../assets.js';
import { BundleStore, DEFAULT_MAX_BUNDLES } from './bundles.js';
import { ChartCache } from './charts.js';
import { GraphSource } from './graphs.js';
import { httpError, send, sendError, sendJson, UiErrorCode } from './http-kit.js';
import { LiveBackend } from './live-backend.js';
import { routes, type RouteContext } from './routes.js';
import { StreamHub } from './stream.js';
import { newToken, tokenMatches, tokenOf } from './token.js';

export interface UiServerOptions {
  /** Live mode: the connection to the coordinators' NATS. Without it the server runs offline (bundles only). */
  readonly nc?: NatsConnection;
  /** The coordinators' namespace (default `jetsaga`). */
  readonly namespace?: string;
  /** Shown in the page (`UiInfo.natsUrl`). */
  readonly natsUrl?: string;
  /** Default 127.0.0.1: only this machine. */
  readonly host?: string;
  /** Default 0: any free port. */
  readonly port?: number;
  /** Default: 24 random bytes, base64url. */
  readonly token?: string;
  readonly logger?: Logger;
  /** Bundles kept open in memory (default 8). */
  readonly maxBundles?: number;
  /** Machine definitions for bundles and offline charts (default: the ones jetsaga ships). */
  readonly definitions?: () => Promise<readonly SagaDefinition[]>;
  /** Per service request (default 10 s). */
  readonly requestTimeoutMs?: number;
  /** Event stream periods (defaults: heartbeat 15 s, saga list 1 s, boot view 2 s). */
  readonly stream?: { readonly heartbeatMs?: number; readonly sagasMs?: number; readonly bootMs?: number };
}

export interface UiServerHandle {
  readonly mode: UiInfo['mode'];
  readonly host: string;
  readonly port: number;
  readonly token: string;
  /** The page, with its token: what to open. */
  readonly url: string;
  /** Event streams open now (a metric, and how tests see a page's stream released). */
  streams(): number;
  /** Ends every event stream, stops polling and closes the server and its connections. Idempotent. */
  close(): Promise<void>;
}

const ASSET_TYPES = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' } as const;

/**
 * The page and its assets hold no data: they load without the token (the page then shows what
 * is wrong when its URL has none). Everything under /api/ needs it.
 */
const PUBLIC_PATHS = new Set(['/', '/assets/app.js', '/assets/app.css', '/favicon.ico']);

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export async function startUiServer(options: UiServerOptions = {}): Promise<UiServerHandle> {
  const logger = (options.logger ?? silentLogger).child({ part: 'ui' });
  const host = options.host ?? '127.0.0.1';
  const token = options.token ?? newToken();
  const namespace = options.namespace ?? 'jetsaga';
  let definitionsLoading: Promise<readonly SagaDefinition[]> | undefined;
  const definitions = options.definitions ?? (() => (definitionsLoading ??= knownDefinitions()));
  const live = options.nc
    ? new LiveBackend(JetsagaClient.connect(options.nc, { namespace, timeoutMs: options.requestTimeoutMs ?? 10_000 }), options.nc, namespace, definitions, logger)
    : null;
  const version = packageVersion();
  const info = (): UiInfo => ({
    mode: live ? 'live' : 'offline',
    namespace,
    natsUrl: live ? (options.natsUrl ?? null) : null,
    coordinatorReachable: live?.reachable ?? false,
    version,
  });
  const hub = new StreamHub({ info, live, logger, ...options.stream });
  let assets: Promise<{ html: string; js: string; css: string }> | undefined;
  const asset = async (name: 'html' | 'js' | 'css', ctx: RouteContext): Promise<void> => {
    assets ??= buildAssets().catch((e: unknown) => {
      assets = undefined;
      throw e;
    });
    const built = await assets;
    send(ctx.res, 200, ASSET_TYPES[name], built[name]);
  };
  const table = routes({
    live,
    graphs: live?.graphs ?? new GraphSource(null, definitions),
    charts: new ChartCache(),
    bundles: new BundleStore(definitions, options.maxBundles ?? DEFAULT_MAX_BUNDLES),
    hub,
    info,
    asset,
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://visualizer.invalid');
    } catch {
      sendError(res, httpError(UiErrorCode.BadRequest, 400, 'unreadable request URL'));
      return;
    }
    // Before anything else, so that no data (not even which routes exist) is told without it.
    const isPublic = (req.method === 'GET' || req.method === 'HEAD') && PUBLIC_PATHS.has(url.pathname);
    if (!isPublic && !tokenMatches(tokenOf(req, url), token)) {
      sendError(res, httpError(UiErrorCode.Unauthorized, 401, 'missing or wrong token: open the URL jetsaga printed (it holds ?token=…), or send the X-Jetsaga-Token header'));
      req.resume();
      return;
    }
    const matching = table.filter((r) => r.path.test(url.pathname));
    const route = matching.find((r) => r.method === req.method);
    if (!route) {
      req.resume();
      if (matching.length === 0) sendError(res, httpError(UiErrorCode.NotFound, 404, `no route ${url.pathname}`));
      else {
        res.setHeader('Allow', [...new Set(matching.map((r) => r.method))].join(', '));
        sendError(res, httpError(UiErrorCode.MethodNotAllowed, 405, `${req.method} is not allowed on ${url.pathname}`));
      }
      return;
    }
    const params = route.path.exec(url.pathname)!.slice(1);
    try {
      const value = await route.handler({ req, res, url, params });
      if (value !== undefined) sendJson(res, value);
    } catch (e) {
      const status = (e as { status?: number }).status ?? 500;
      // 503s and 504s are a coordinator away (the page shows it); a 500 is a fault of ours.
      if (status === 500) logger.warn({ path: url.pathname, err: (e as Error).message }, 'visualizer request failed');
      sendError(res, e);
    }
  };

  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  if (live) void live.ping();
  logger.info({ host, port, mode: info().mode }, 'visualizer listening');

  let closing: Promise<void> | undefined;
  return {
    mode: info().mode,
    host,
    port,
    token,
    url: `http://${urlHost(host)}:${port}/?token=${token}`,
    streams: () => hub.clients,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await hub.close();
        // Idle keep-alive sockets (and any request still open) would hold close() up.
        server.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}

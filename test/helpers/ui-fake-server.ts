/**
 * A stand-in for the visualizer's server, for developing and testing the page before (and
 * beside) the real one: node:http on 127.0.0.1 serving `buildAssets()` and answering every
 * route of src/ui/api-types.ts from canned sagas (ui-fake-data.ts) — real build-machine
 * charts (machineGraph → layoutGraph → renderSvg), views replayed from real journals — with a
 * live event stream. The test drives it (`advance`, `setReachable`, `dropStreams`) through
 * the UiWorld it returns.
 */
import { randomBytes } from 'node:crypto';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SagaEventType } from '../../machines/kit/tags.js';
import { buildAssets } from '../../src/ui/assets.js';
import type { ActionReply, BootView, ChildView, BundleOpened, ForkReply, MachineChart, MachineList, SagaList, StreamEvent, UiInfo } from '../../src/ui/api-types.js';
import { knownDefinitions } from '../../src/cli/known-machines.js';
import { definitionFor, parseBundle } from '../../src/runtime/replay.js';
import type { SagaDefinition } from '../../src/runtime/types.js';
import { layoutGraph } from '../../src/viz/layout.js';
import { machineGraph } from '../../src/viz/machine-graph.js';
import type { MachineGraph } from '../../src/viz/graph-types.js';
import { renderSvg } from '../../src/viz/svg.js';
import { ADDONS_STATE, ADDONS_STEP, BLOCKED, BUNDLED, cannedBoot, cannedSagas, RUNNING, RUNNING_ADDONS } from './ui-fake-data.js';
import { JournalBuilder } from './ui-journal-builder.js';
import { SagaViews } from './ui-fake-views.js';
import type { UiWorld } from './ui-world.js';

const HOST = '127.0.0.1';
const MAX_BODY = 16 * 1024 * 1024;
const HEARTBEAT_MS = 10_000;

/** Laid out once per test process: ELK takes a second or two for the build machine. */
const charts = new Map<string, Promise<MachineChart>>();

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Client {
  readonly res: ServerResponse;
  readonly saga: string | null;
}

export interface FakeUiServer extends UiWorld {
  readonly baseUrl: string;
  readonly token: string;
  /** Requests the server answered, `METHOD path` (no query), for tests of what the page asked. */
  readonly requests: readonly string[];
}

export interface FakeUiOptions {
  /** Answer as `jetsaga ui` with no NATS: charts and bundles only, no sagas, no boot. */
  readonly offline?: boolean;
}

export async function startFakeUiServer(options: FakeUiOptions = {}): Promise<FakeUiServer> {
  const offline = options.offline ?? false;
  const token = randomBytes(16).toString('hex');
  const now = Date.now();
  const [assets, definitions] = await Promise.all([buildAssets(), knownDefinitions()]);
  const newest = (id: string): SagaDefinition => definitions.filter((d) => d.id === id).sort((a, b) => b.version - a.version)[0]!;
  // Each machine's newest version (build 3, not build 2 listed after it): the one canned sagas run.
  const graphs = new Map<string, MachineGraph>([...new Set(definitions.map((d) => d.id))].map((id) => [id, machineGraph(newest(id).machine)]));

  const canned = cannedSagas(now);
  const sagas = new Map<string, { builder: JournalBuilder; views: SagaViews }>();
  // A parent's children: the sagas whose init entry names it (a child's own journal says whose it is).
  const childrenOf = (id: string): ChildView[] =>
    [...sagas.values()].flatMap(({ views }) => {
      const p = views.parent();
      return p?.sagaId === id ? [{ sagaId: views.id, step: p.step, machine: views.definition.id, status: views.row().status }] : [];
    });
  const viewsOf = (b: JournalBuilder): SagaViews => new SagaViews(b.sagaId, b.definition, graphs.get(b.definition.id)!, b.journal, 'c1', () => childrenOf(b.sagaId));
  for (const b of canned.builders) sagas.set(b.sagaId, { builder: b, views: viewsOf(b) });
  const bundles = new Map<string, SagaViews>();
  let reachable = true;
  const clients = new Set<Client>();
  const requests: string[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'jetsaga-ui-fake-'));
  const bundleFile = join(dir, `${BUNDLED}.json`);
  await writeFile(bundleFile, JSON.stringify(canned.bundle, null, 2));

  const info = (): UiInfo =>
    offline
      ? { mode: 'offline', namespace: 'jetsaga', natsUrl: null, coordinatorReachable: false, version: '0.1.0' }
      : { mode: 'live', namespace: 'jetsaga', natsUrl: 'nats://127.0.0.1:4222', coordinatorReachable: reachable, version: '0.1.0' };
  const list = (): SagaList => ({ sagas: [...sagas.values()].map((s) => s.views.row()) });
  const boot = (): BootView =>
    cannedBoot(
      now,
      [...sagas.values()].flatMap(({ views }) => {
        const d = views.detail();
        return d.waiting.map((w) => ({ sagaId: d.id, machine: d.machine, dependency: w.dependency, since: w.since }));
      }),
    );
  const saga = (id: string): SagaViews => {
    const s = sagas.get(id);
    if (!s) throw new HttpError(404, 'UNKNOWN_SAGA', `no saga ${id}`);
    return s.views;
  };
  const bundleViews = (id: string): SagaViews => {
    const b = bundles.get(id);
    if (!b) throw new HttpError(404, 'UNKNOWN_BUNDLE', `no bundle ${id}`);
    return b;
  };
  const needCoordinator = (): void => {
    if (!reachable) throw new HttpError(503, 'NO_COORDINATOR', 'no coordinator answered');
  };

  const chart = (id: string): Promise<MachineChart> => {
    let p = charts.get(id);
    if (!p) {
      const graph = graphs.get(id);
      if (!graph) throw new HttpError(404, 'UNKNOWN_MACHINE', `no machine ${id}`);
      const def = newest(id);
      p = layoutGraph(graph).then((layout) => ({ id, version: def.version, description: graph.description, graph, layout, svg: renderSvg(layout) }));
      charts.set(id, p);
    }
    return p;
  };

  const send = (c: Client, event: StreamEvent): void => {
    c.res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
  };
  const broadcast = (changed: string | null): void => {
    for (const c of clients) {
      send(c, { type: 'info', info: info() });
      send(c, { type: 'sagas', sagas: list().sagas });
      send(c, { type: 'boot', boot: boot() });
      if (c.saga !== null && c.saga === changed) send(c, { type: 'saga', saga: saga(c.saga).detail() });
    }
  };
  const change = (id: string, move: (b: JournalBuilder) => void): void => {
    const s = sagas.get(id)!;
    move(s.builder);
    s.views = viewsOf(s.builder);
    broadcast(id);
  };
  const heartbeat = setInterval(() => {
    for (const c of clients) send(c, { type: 'heartbeat', at: Date.now() });
  }, HEARTBEAT_MS);
  heartbeat.unref();

  const routes: Array<[string, RegExp, (m: string[], req: IncomingMessage, url: URL) => unknown]> = [
    ['GET', /^\/api\/info$/, () => info()],
    ['GET', /^\/api\/machines$/, (): MachineList => ({ machines: [...graphs.values()].map((g) => ({ id: g.id, version: newest(g.id).version, description: g.description })) })],
    ['GET', /^\/api\/machines\/([^/]+)$/, ([id]) => chart(id!)],
    [
      'GET',
      /^\/api\/sagas$/,
      (_m, _r, url): SagaList => {
        needCoordinator();
        const status = url.searchParams.get('status');
        const machine = url.searchParams.get('machine');
        return { sagas: list().sagas.filter((s) => (!status || s.status === status) && (!machine || s.machine === machine)) };
      },
    ],
    ['GET', /^\/api\/sagas\/([^/]+)$/, ([id]) => saga(id!).detail()],
    ['GET', /^\/api\/sagas\/([^/]+)\/timeline$/, ([id]) => saga(id!).timeline()],
    ['GET', /^\/api\/sagas\/([^/]+)\/at\/(\d+)$/, ([id, no]) => saga(id!).at(Number(no))],
    ['POST', /^\/api\/sagas\/([^/]+)\/actions\/(cancel|retry|skip|abandon)$/, ([id, action]) => act(id!, action!)],
    ['POST', /^\/api\/sagas\/([^/]+)\/fork$/, async ([id], req) => fork(id!, JSON.parse(await body(req)) as { from: number; dryRun: boolean })],
    ['GET', /^\/api\/boot$/, () => boot()],
    ['POST', /^\/api\/bundles$/, async (_m, req) => openBundle(await body(req))],
    ['GET', /^\/api\/bundles\/([^/]+)$/, ([id]) => bundleViews(id!).detail()],
    ['GET', /^\/api\/bundles\/([^/]+)\/timeline$/, ([id]) => bundleViews(id!).timeline()],
    ['GET', /^\/api\/bundles\/([^/]+)\/at\/(\d+)$/, ([id, no]) => bundleViews(id!).at(Number(no))],
  ];

  const act = (id: string, action: string): ActionReply => {
    needCoordinator();
    const views = saga(id);
    const status = views.detail().status;
    const allowed = action === 'cancel' ? status === 'running' : status === 'blocked';
    if (!allowed) throw new HttpError(409, action === 'cancel' ? 'NOT_RUNNING' : 'NOT_BLOCKED', `saga ${id} is ${status}`);
    const type = { cancel: SagaEventType.Cancel, retry: SagaEventType.Retry, skip: SagaEventType.Skip, abandon: SagaEventType.Abandon }[action]!;
    change(id, (b) => b.send({ type }));
    return { id, accepted: true, status: saga(id).detail().status };
  };

  const fork = (id: string, request: { from: number; dryRun: boolean }): ForkReply => {
    needCoordinator();
    const views = saga(id);
    const at = views.at(request.from);
    const pending = views.detail(request.from).pending;
    const newId = `${id}-f${request.from}`;
    const reply = {
      source: id,
      from: request.from,
      dryRun: request.dryRun,
      id: request.dryRun ? null : newId,
      created: !request.dryRun,
      machine: views.definition.id,
      version: views.definition.version,
      entries: request.from,
      status: at.status,
      willRun: pending.map((p) => ({ id: p.id, src: p.src })),
      undosRun: [],
      stepsAfter: [],
      saga: request.dryRun ? null : { id: newId, status: at.status },
    };
    if (!request.dryRun) {
      const source = sagas.get(id)!.builder;
      const init = source.journal[0]!.init as { input: unknown };
      const copy = new JournalBuilder(source.definition, newId, init.input, { at: Date.now(), streamSeq: 1000, forkedFrom: { sagaId: id, entry: request.from, entries: request.from } });
      for (const v of source.journal.slice(1, request.from)) if (v.event) copy.send(v.event, 1);
      sagas.set(newId, { builder: copy, views: viewsOf(copy) });
      broadcast(null);
    }
    return reply;
  };

  const openBundle = (text: string): BundleOpened => {
    let bundle;
    try {
      bundle = parseBundle(text);
    } catch (e) {
      throw new HttpError(400, 'BAD_REQUEST', (e as Error).message);
    }
    const { id, machine, version } = bundle.saga;
    const def = definitionFor(definitions, id, machine, version);
    const views = new SagaViews(id, def, graphs.get(def.id)!, bundle.journal, 'bundle');
    const bundleId = randomBytes(6).toString('hex');
    bundles.set(bundleId, views);
    return { bundleId, saga: views.detail() };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', `http://${HOST}`);
    requests.push(`${req.method} ${url.pathname}`);
    // The shell and its assets hold no data: served without the token, so that a page opened
    // without one can say what is missing.
    if (req.method === 'GET' && url.pathname === '/') return staticAsset(res, 'text/html; charset=utf-8', assets.html);
    if (req.method === 'GET' && url.pathname === '/assets/app.js') return staticAsset(res, 'text/javascript; charset=utf-8', assets.js);
    if (req.method === 'GET' && url.pathname === '/assets/app.css') return staticAsset(res, 'text/css; charset=utf-8', assets.css);
    if (url.pathname === '/favicon.ico') return void res.writeHead(204).end();
    const given = req.headers['x-jetsaga-token'] ?? url.searchParams.get('token');
    if (given !== token) return json(res, 401, { error: { code: 'UNAUTHORIZED', message: 'a valid token is required', status: 401 } });
    if (req.method === 'GET' && url.pathname === '/api/stream') return stream(res, url.searchParams.get('saga'));
    if (offline && /^\/api\/(sagas|boot)/.test(url.pathname)) return json(res, 503, { error: { code: 'NO_COORDINATOR', message: 'offline: no NATS', status: 503 } });
    for (const [method, pattern, fn] of routes) {
      const m = pattern.exec(url.pathname);
      if (!m || req.method !== method) continue;
      try {
        return json(res, 200, await fn(m.slice(1).map(decodeURIComponent), req, url));
      } catch (e) {
        const err = e instanceof HttpError ? e : new HttpError((e as { status?: number }).status ?? 500, (e as { code?: string }).code ?? 'INTERNAL', (e as Error).message);
        return json(res, err.status, { error: { code: err.code, message: err.message, status: err.status } });
      }
    }
    return json(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${req.method} ${url.pathname}`, status: 404 } });
  };

  const stream = (res: ServerResponse, sagaId: string | null): void => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    const client: Client = { res, saga: sagaId };
    clients.add(client);
    res.on('close', () => clients.delete(client));
    send(client, { type: 'info', info: info() });
    send(client, { type: 'sagas', sagas: list().sagas });
    send(client, { type: 'boot', boot: boot() });
    if (sagaId !== null && sagas.has(sagaId)) send(client, { type: 'saga', saga: saga(sagaId).detail() });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) json(res, 500, { error: { code: 'INTERNAL', message: String(e), status: 500 } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const baseUrl = `http://${HOST}:${(server.address() as AddressInfo).port}`;

  return {
    baseUrl,
    token,
    requests,
    pageUrl: `${baseUrl}/?token=${token}`,
    pageUrlWithoutToken: `${baseUrl}/`,
    runningSaga: RUNNING,
    blockedSaga: BLOCKED,
    forkable: { saga: RUNNING, from: 2 },
    nested: { parent: RUNNING, child: RUNNING_ADDONS, step: ADDONS_STEP, state: ADDONS_STATE },
    bundleFile,
    bundleSaga: BUNDLED,
    advance: async () => change(RUNNING, (b) => (b.awaiting() !== null ? b.ready(b.awaiting()!) : b.succeed(b.pending()[0]!.id, { step: b.pending()[0]!.id }))),
    coordinatorDown: async () => {
      reachable = false;
      broadcast(null);
    },
    coordinatorUp: async () => {
      reachable = true;
      broadcast(null);
    },
    dropStreams: async () => {
      for (const c of clients) c.res.destroy();
      clients.clear();
    },
    close: async () => {
      clearInterval(heartbeat);
      for (const c of clients) c.res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function staticAsset(res: ServerResponse, type: string, body: string): void {
  // What the real server must send too: the page loads nothing but its own assets.
  res.writeHead(200, { 'Content-Type': type, 'Content-Security-Policy': "default-src 'self'", 'Cache-Control': 'no-store' });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(value));
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, 'BAD_REQUEST', 'the body is over 16 MiB'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * The visualizer's routes (api-types.ts lists them with their JSON shapes): path patterns,
 * parameter checks, and which backend answers — the coordinators' service API (live), the open
 * bundles (both modes), the chart cache.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { SagaStatus } from '../../journal/index-store.js';
import { SAGA_ID_PATTERN } from '../../journal/saga-id.js';
import type { ForkRequest, MachineList, UiInfo } from '../api-types.js';
import type { BundleStore } from './bundles.js';
import type { ChartCache } from './charts.js';
import { summaryOf, type GraphSource } from './graphs.js';
import { badRequest, httpError, readBody, readJson, UiErrorCode } from './http-kit.js';
import { SagaAction, type LiveBackend } from './live-backend.js';
import type { StreamHub } from './stream.js';

/** A bundle (`jetsaga sagas export`) may be this large. */
export const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;
/** Any other request body. */
const MAX_BODY_BYTES = 64 * 1024;

export interface RouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly params: readonly string[];
}

export interface RouteDeps {
  readonly live: LiveBackend | null;
  readonly graphs: GraphSource;
  readonly charts: ChartCache;
  readonly bundles: BundleStore;
  readonly hub: StreamHub;
  info(): UiInfo;
  /** The page and its assets: answered by the server itself. */
  asset(name: 'html' | 'js' | 'css', ctx: RouteContext): Promise<void>;
}

/** A handler answers with JSON data, or undefined when it wrote the response itself. */
export type RouteHandler = (ctx: RouteContext) => Promise<unknown>;

export interface Route {
  readonly method: 'GET' | 'POST';
  readonly path: RegExp;
  readonly handler: RouteHandler;
}

const SAGA = '([^/]+)';
const MACHINE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const BUNDLE_ID = /^b[0-9a-f]{20}$/;
const STATUSES = new Set<string>(Object.values(SagaStatus));

const ForkBody = z.strictObject({ from: z.int().min(1), dryRun: z.boolean() });

function sagaId(raw: string | undefined): string {
  const id = decodeURIComponent(raw ?? '');
  if (!SAGA_ID_PATTERN.test(id)) throw badRequest(`"${id}" is not a saga id (1–128 of [A-Za-z0-9_-])`);
  return id;
}

function entryNo(raw: string | undefined): number {
  const no = Number(raw);
  if (!/^\d{1,9}$/.test(raw ?? '') || no < 1) throw badRequest(`"${raw}" is not an entry number (1 = the init entry)`);
  return no;
}

function bundleId(raw: string | undefined): string {
  if (!BUNDLE_ID.test(raw ?? '')) throw httpError(UiErrorCode.UnknownBundle, 404, `no bundle "${raw}" is open here`);
  return raw!;
}

function optionalInt(url: URL, name: string, min: number, max: number): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw badRequest(`?${name}= must be an integer from ${min} to ${max}`);
  return n;
}

function needLive(deps: RouteDeps): LiveBackend {
  if (!deps.live) throw httpError(UiErrorCode.NoCoordinator, 503, 'this visualizer runs offline (no NATS): it shows bundles opened in the page only');
  return deps.live;
}

export function routes(deps: RouteDeps): Route[] {
  const get = (path: string, handler: RouteHandler): Route => ({ method: 'GET', path: new RegExp(`^${path}$`), handler });
  const post = (path: string, handler: RouteHandler): Route => ({ method: 'POST', path: new RegExp(`^${path}$`), handler });
  return [
    get('/', (ctx) => deps.asset('html', ctx).then(() => undefined)),
    get('/assets/app\\.js', (ctx) => deps.asset('js', ctx).then(() => undefined)),
    get('/assets/app\\.css', (ctx) => deps.asset('css', ctx).then(() => undefined)),
    // Browsers ask for it unbidden: an empty answer, not a 404 in the console.
    get('/favicon\\.ico', (ctx) => {
      ctx.res.writeHead(204).end();
      return Promise.resolve(undefined);
    }),
    get('/api/info', async () => {
      await deps.live?.ping();
      return deps.info();
    }),
    get('/api/machines', async (): Promise<MachineList> => {
      if (deps.live) return deps.live.machines();
      const newest = new Map<string, ReturnType<typeof summaryOf>>();
      for (const d of await deps.graphs.definitions()) if ((newest.get(d.id)?.version ?? 0) < d.version) newest.set(d.id, summaryOf(d));
      return { machines: [...newest.values()].sort((a, b) => a.id.localeCompare(b.id)) };
    }),
    get(`/api/machines/${SAGA}`, async ({ params, url }) => {
      const id = decodeURIComponent(params[0]!);
      if (!MACHINE_ID.test(id)) throw badRequest(`"${id}" is not a machine id (1–64 of [A-Za-z0-9_-])`);
      const found = await deps.graphs.graph(id, optionalInt(url, 'version', 1, 1_000_000));
      return deps.charts.chart(found.summary, found.graph);
    }),
    get('/api/sagas', async ({ url }) => {
      const status = url.searchParams.getAll('status').flatMap((s) => s.split(',')).filter((s) => s !== '');
      const unknown = status.filter((s) => !STATUSES.has(s));
      if (unknown.length > 0) throw badRequest(`unknown status ${unknown.map((s) => `"${s}"`).join(', ')} (one of ${[...STATUSES].join(', ')})`);
      const machine = url.searchParams.get('machine') || undefined;
      return needLive(deps).sagas({ status, ...(machine ? { machine } : {}), limit: optionalInt(url, 'limit', 1, 1000) });
    }),
    get(`/api/sagas/${SAGA}`, ({ params }) => needLive(deps).detail(sagaId(params[0]))),
    get(`/api/sagas/${SAGA}/timeline`, ({ params }) => needLive(deps).timeline(sagaId(params[0]))),
    get(`/api/sagas/${SAGA}/at/([^/]+)`, ({ params }) => needLive(deps).at(sagaId(params[0]), entryNo(params[1]))),
    post(`/api/sagas/${SAGA}/actions/([^/]+)`, async ({ params, req }) => {
      const id = sagaId(params[0]);
      const action = params[1] as SagaAction;
      if (!SagaAction.includes(action)) throw badRequest(`unknown action "${params[1]}" (one of ${SagaAction.join(', ')})`);
      await readBody(req, MAX_BODY_BYTES);
      return needLive(deps).action(id, action);
    }),
    post(`/api/sagas/${SAGA}/fork`, async ({ params, req }) => {
      const id = sagaId(params[0]);
      const parsed = ForkBody.safeParse(await readJson(req, MAX_BODY_BYTES));
      if (!parsed.success) throw badRequest(`a fork request is {"from": <entry number>, "dryRun": <boolean>}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`);
      const request: ForkRequest = parsed.data;
      return needLive(deps).fork(id, request);
    }),
    get('/api/boot', () => needLive(deps).boot()),
    post('/api/bundles', async ({ req }) => deps.bundles.open(await readBody(req, MAX_BUNDLE_BYTES))),
    get(`/api/bundles/${SAGA}`, async ({ params }) => deps.bundles.detail(bundleId(params[0]))),
    get(`/api/bundles/${SAGA}/timeline`, async ({ params }) => deps.bundles.timeline(bundleId(params[0]))),
    get(`/api/bundles/${SAGA}/at/([^/]+)`, async ({ params }) => deps.bundles.at(bundleId(params[0]), entryNo(params[1]))),
    get('/api/stream', async ({ req, res, url }) => {
      const saga = url.searchParams.get('saga');
      deps.hub.attach(req, res, saga ? sagaId(saga) : undefined);
      return undefined;
    }),
  ];
}

/**
 * The visualizer's HTTP server as the int tests run it: a real nats-server, an in-process
 * Coordinator running the machines a test file gives (no registry answers: a dependency on it
 * stays unready), and `startUiServer` bridged to it — with JSON requests that carry the token,
 * and the event stream. One per test file; `close` stops all of it, also after a failed start.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { loadConfig } from '../../src/config.js';
import { Coordinator } from '../../src/coordinator.js';
import type { SagaBinding } from '../../src/runtime/types.js';
import { JetsagaClient } from '../../src/service/client.js';
import { startUiServer, type UiServerHandle } from '../../src/ui/server/server.js';
import { freePort, startNatsServer, type NatsServerHandle } from './nats-server.js';
import { openUiStream, type UiStream } from './ui-http.js';

export interface Answer<T> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

/** The body of every error answer. */
export type ErrorBody = { error: { code: string; message: string; status: number } };

/** A POST, with a JSON body when one is given. */
export const post = (body?: unknown): RequestInit => ({ method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }) });

export interface UiLiveOptions {
  readonly namespace: string;
  readonly machines: readonly SagaBinding[];
  /** The first coordinator's owner name. */
  readonly owner: string;
}

export interface UiLive {
  readonly server: NatsServerHandle;
  /** A temp dir, removed by `close`. */
  readonly tmp: string;
  readonly namespace: string;
  readonly client: JetsagaClient;
  readonly ui: UiServerHandle;
  /** `http://127.0.0.1:<port>` of the visualizer. */
  readonly base: string;
  /** The coordinator now running (`bootCoordinator` replaces it). */
  readonly coordinator: Coordinator;
  /** Starts another coordinator on the same namespace (after the test stopped this one). */
  bootCoordinator(owner: string): Promise<Coordinator>;
  /** A request with the token (`token: null`: without; a string: that one instead). */
  api<T>(path: string, init?: RequestInit & { token?: string | null }): Promise<Answer<T>>;
  /** A request that must answer 200: its body. */
  ok<T>(path: string, init?: RequestInit): Promise<T>;
  /** A page's event stream (`query` appended: `&saga=<id>`), read as it arrives. */
  openStream(query?: string): Promise<UiStream>;
  close(): Promise<void>;
}

export async function startUiLive(options: UiLiveOptions): Promise<UiLive> {
  const { namespace, machines } = options;
  const closers: Array<() => Promise<unknown>> = [];
  const close = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    const server = await startNatsServer();
    closers.push(() => server.stop());
    const tmp = await mkdtemp(join(tmpdir(), 'jetsaga-ui-'));
    closers.push(() => rm(tmp, { recursive: true, force: true }));
    // Nothing listens there: the registry dependency stays unready, and sagas that need it wait.
    const registry = `127.0.0.1:${await freePort()}`;
    let coordinator: Coordinator | undefined;
    closers.push(async () => coordinator?.stop());
    const bootCoordinator = async (owner: string): Promise<Coordinator> => {
      const config = loadConfig({ nats: server.url, registry, namespace, owner, dataDir: join(tmp, owner) }, {});
      const c = new Coordinator({ config, machines: [...machines], service: true, healthIntervalMs: 300, recoverIntervalMs: 0 });
      coordinator = c;
      await c.start();
      return c;
    };
    await bootCoordinator(options.owner);
    const nc: NatsConnection = await connect({ servers: server.url });
    closers.push(() => nc.close());
    const ui = await startUiServer({ nc, namespace, natsUrl: server.url, stream: { heartbeatMs: 500, sagasMs: 100, bootMs: 200 } });
    closers.push(() => ui.close());
    const base = `http://127.0.0.1:${ui.port}`;
    const api = async <T>(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Answer<T>> => {
      const { token = ui.token, ...rest } = init;
      const res = await fetch(`${base}${path}`, { ...rest, headers: { ...(token === null ? {} : { 'X-Jetsaga-Token': token }), ...(rest.headers as Record<string, string>) } });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: (res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text) as T };
    };
    return {
      server,
      tmp,
      namespace,
      client: JetsagaClient.connect(nc, { namespace }),
      ui,
      base,
      get coordinator() {
        return coordinator!;
      },
      bootCoordinator,
      api,
      ok: async <T>(path: string, init: RequestInit = {}): Promise<T> => {
        const r = await api<T>(path, init);
        if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body;
      },
      openStream: (query = '') => openUiStream(new URL(`${base}/?token=${encodeURIComponent(ui.token)}`), query),
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

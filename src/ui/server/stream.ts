/**
 * The page's event stream (`GET /api/stream`, server-sent events): `info` first, then `sagas`
 * and `boot` snapshots whenever they change, `saga` updates of the saga the page selected, and
 * a `heartbeat` every 15 s. One poller of the saga list (~1 s) and of the boot view (~2 s)
 * serves every connected page and runs only while one is connected; a selected saga is followed
 * through its journal (`sagas.follow`, which survives a coordinator restart) by one watcher per
 * saga, shared likewise, and read again when its list row or a child's moves. A page that goes away releases all of it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../log.js';
import type { UiInfo } from '../api-types.js';
import { SECURITY_HEADERS } from './http-kit.js';
import type { LiveBackend } from './live-backend.js';
import { SagaWatcher } from './saga-watcher.js';
import { frame } from './sse-frame.js';

export interface StreamHubOptions {
  readonly info: () => UiInfo;
  readonly live: LiveBackend | null;
  readonly logger: Logger;
  readonly heartbeatMs?: number;
  readonly sagasMs?: number;
  readonly bootMs?: number;
}

export interface StreamClient {
  readonly res: ServerResponse;
  readonly saga: string | undefined;
}

/** A page that reads this far behind is dropped (it reconnects and starts from fresh snapshots). */
const MAX_BUFFERED = 8 * 1024 * 1024;

export class StreamHub {
  readonly #clients = new Set<StreamClient>();
  readonly #watchers = new Map<string, SagaWatcher>();
  #polling: { abort: AbortController; loops: Promise<unknown>; heartbeat: NodeJS.Timeout } | undefined;
  #lastSagas: string | undefined;
  #lastBoot: string | undefined;
  /** The list rows last seen, by saga id: a watched saga whose row changed is refreshed. */
  #rows = new Map<string, string>();
  #closed = false;
  readonly #off: () => void;

  constructor(private readonly options: StreamHubOptions) {
    this.#off = options.live?.onReachability(() => this.#broadcast(frame({ type: 'info', info: options.info() }))) ?? (() => undefined);
  }

  get clients(): number {
    return this.#clients.size;
  }

  /** Serves one page's stream until it goes away (or the hub closes). */
  attach(req: IncomingMessage, res: ServerResponse, saga: string | undefined): void {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': 'text/event-stream; charset=utf-8',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    // EventSource reconnects by itself; 2 s is soon enough after a restart of this server.
    res.write('retry: 2000\n\n');
    const client: StreamClient = { res, saga };
    this.#clients.add(client);
    const gone = (): void => this.#detach(client);
    req.on('close', gone);
    res.on('close', gone);
    res.on('error', gone);
    this.#write(client, frame({ type: 'info', info: this.options.info() }));
    if (this.#lastSagas) this.#write(client, this.#lastSagas);
    if (this.#lastBoot) this.#write(client, this.#lastBoot);
    const live = this.options.live;
    if (live && saga !== undefined) {
      let watcher = this.#watchers.get(saga);
      if (!watcher) {
        watcher = new SagaWatcher(saga, live, (text) => this.#toWatchers(saga, text), this.options.logger);
        this.#watchers.set(saga, watcher);
        watcher.start();
      } else {
        watcher.greet((text) => this.#write(client, text));
      }
    }
    this.#startPolling();
  }

  /** Ends every stream and stops polling and following. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#off();
    const polling = this.#stopPolling();
    const watchers = [...this.#watchers.values()].map((w) => w.stop());
    this.#watchers.clear();
    for (const c of this.#clients) c.res.end();
    this.#clients.clear();
    // Requests in flight end with their own timeout (or when the NATS connection closes): not waited for here.
    await Promise.race([Promise.allSettled([polling, ...watchers]), sleep(2_000, undefined, { ref: false })]);
  }

  #detach(client: StreamClient): void {
    if (!this.#clients.delete(client)) return;
    if (client.saga !== undefined && ![...this.#clients].some((c) => c.saga === client.saga)) {
      void this.#watchers.get(client.saga)?.stop();
      this.#watchers.delete(client.saga);
    }
    if (this.#clients.size === 0) void this.#stopPolling();
  }

  #write(client: StreamClient, text: string): void {
    const { res } = client;
    if (res.writableEnded || res.destroyed) return;
    if (res.writableLength > MAX_BUFFERED) {
      res.destroy();
      return;
    }
    res.write(text);
  }

  #broadcast(text: string): void {
    for (const c of this.#clients) this.#write(c, text);
  }

  #toWatchers(saga: string, text: string): void {
    for (const c of this.#clients) if (c.saga === saga) this.#write(c, text);
  }

  #startPolling(): void {
    if (this.#polling || this.#closed) return;
    const abort = new AbortController();
    const heartbeat = setInterval(() => this.#broadcast(frame({ type: 'heartbeat', at: Date.now() })), this.options.heartbeatMs ?? 15_000);
    heartbeat.unref();
    const live = this.options.live;
    const loops = live
      ? Promise.all([this.#loop(this.options.sagasMs ?? 1_000, () => this.#pollSagas(live), abort.signal), this.#loop(this.options.bootMs ?? 2_000, () => this.#pollBoot(live), abort.signal)])
      : Promise.resolve();
    this.#polling = { abort, loops, heartbeat };
  }

  async #stopPolling(): Promise<void> {
    const p = this.#polling;
    if (!p) return;
    this.#polling = undefined;
    p.abort.abort();
    clearInterval(p.heartbeat);
    // A page that connects later gets fresh snapshots, not ones from before it came.
    this.#lastSagas = undefined;
    this.#lastBoot = undefined;
    this.#rows.clear();
    await p.loops;
  }

  async #loop(everyMs: number, tick: () => Promise<void>, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await tick();
      } catch (e) {
        // Reachability is reported by the backend (an `info` event); the next tick tries again.
        this.options.logger.debug({ err: (e as Error).message }, 'visualizer poll failed');
      }
      await sleep(everyMs, undefined, { signal }).catch(() => undefined);
    }
  }

  async #pollSagas(live: LiveBackend): Promise<void> {
    const { sagas } = await live.sagas({});
    if (!this.#polling) return;
    const text = frame({ type: 'sagas', sagas });
    if (text !== this.#lastSagas) {
      this.#lastSagas = text;
      this.#broadcast(text);
    }
    // A watched saga whose row moved is refreshed even if its journal stream missed it; so is
    // one whose child's row moved: its detail lists its children's statuses, which its own
    // journal does not see change (a child released after its parent ended).
    const rows = new Map(sagas.map((s) => [s.id, JSON.stringify(s)]));
    const parents = new Set(sagas.flatMap((s) => (s.parentId !== null && rows.get(s.id) !== this.#rows.get(s.id) ? [s.parentId] : [])));
    for (const [id, watcher] of this.#watchers) if (rows.get(id) !== this.#rows.get(id) || parents.has(id)) watcher.poke();
    this.#rows = rows;
  }

  async #pollBoot(live: LiveBackend): Promise<void> {
    const boot = await live.boot();
    if (!this.#polling) return;
    const text = frame({ type: 'boot', boot });
    if (text !== this.#lastBoot) {
      this.#lastBoot = text;
      this.#broadcast(text);
    }
  }
}

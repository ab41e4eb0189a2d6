/**
 * Is a sandbox ready? With a health path: `GET http://127.0.0.1:<port><path>` answers 2xx or
 * 3xx (redirects are not followed: a login redirect still means the app is up). Without one:
 * the port accepts TCP connections. Each probe uses its own connection and closes it, so a
 * failed start leaves no socket behind.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const HOST = '127.0.0.1';
/** Longest one probe may take, so that an exit or the deadline is noticed promptly. */
const PROBE_TIMEOUT_MS = 2_000;
const INTERVAL_MS = 100;

/** What one probe saw: `ok`, and a short description for error messages (`HTTP 503`, `ECONNREFUSED`). */
export interface ProbeResult {
  ok: boolean;
  seen: string;
}

/** One HTTP GET of `path` on loopback `port`. Never rejects; `signal` ends it (not ok). */
export function probeHttp(port: number, path: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      req.destroy();
      resolve(result);
    };
    const onAbort = (): void => done({ ok: false, seen: 'stopped waiting' });
    const req = request({ host: HOST, port, path, method: 'GET', agent: false, headers: { connection: 'close', 'user-agent': 'jetsaga-health-check' } }, (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      done({ ok: status >= 200 && status < 400, seen: `HTTP ${status}` });
    });
    const timer = setTimeout(() => done({ ok: false, seen: `no answer within ${timeoutMs} ms` }), timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, seen: err.code ?? err.message }));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    req.end();
  });
}

/** One TCP connect to loopback `port`. Never rejects; `signal` ends it (not ok). */
export function probeTcp(port: number, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    const done = (result: ProbeResult): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = (): void => done({ ok: false, seen: 'stopped waiting' });
    const timer = setTimeout(() => done({ ok: false, seen: `no connection within ${timeoutMs} ms` }), timeoutMs);
    socket.once('connect', () => done({ ok: true, seen: 'port open' }));
    socket.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, seen: err.code ?? err.message }));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface WaitHealthyOptions {
  port: number;
  /** HTTP path to GET; TCP connect when absent. */
  path?: string;
  timeoutMs: number;
  /** Settles when the process has exited: the wait ends at once. */
  exited: Promise<unknown>;
  signal?: AbortSignal;
}

/** How the wait ended; an abort rejects with the signal's reason instead. */
export type HealthOutcome = { kind: 'healthy' } | { kind: 'exited' } | { kind: 'timeout'; lastProbe: string };

/** Probes every 100 ms until healthy, the process exits, the deadline passes, or `signal` aborts. */
export async function waitHealthy(options: WaitHealthyOptions): Promise<HealthOutcome> {
  const { port, path, timeoutMs, signal } = options;
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void options.exited.then(() => (exited = true));
  const ac = new AbortController();
  const onAbort = (): void => ac.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  // An exit cuts a probe or a pause short: a dead process is reported without waiting them out.
  void options.exited.then(() => ac.abort());
  let lastProbe = 'not checked yet';
  try {
    for (;;) {
      signal?.throwIfAborted();
      if (exited) return { kind: 'exited' };
      const remaining = deadline - Date.now();
      if (remaining <= 0) return { kind: 'timeout', lastProbe };
      const probeMs = Math.min(remaining, PROBE_TIMEOUT_MS);
      const result = await (path === undefined ? probeTcp(port, probeMs, ac.signal) : probeHttp(port, path, probeMs, ac.signal));
      signal?.throwIfAborted();
      if (exited) return { kind: 'exited' };
      if (result.ok) return { kind: 'healthy' };
      lastProbe = result.seen;
      await sleep(Math.max(0, Math.min(INTERVAL_MS, deadline - Date.now())), undefined, { signal: ac.signal }).catch(() => undefined);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    ac.abort();
  }
}

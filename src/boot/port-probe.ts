/**
 * Readiness probes for the embedded servers: a TCP connect probe and a polling loop that gives
 * up early, with the process's own last words, when the process it waits for has died.
 */
import { connect } from 'node:net';
import { ErrorCode, SagaError } from '../errors.js';
import { exitedError, type ManagedProcess } from './managed-process.js';

export interface WaitReadyOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** The process expected to start listening; its exit fails the wait at once. */
  process?: ManagedProcess;
  /** Pause between failed probes (default 50 ms). */
  intervalMs?: number;
}

export const PORT_IN_USE = 'PORT_IN_USE';

/** Something already listens where an embedded server was to be started. */
export class PortInUseError extends SagaError {
  override name = 'PortInUseError';

  constructor(host: string, port: number, wanted: string) {
    super(PORT_IN_USE, `cannot start ${wanted}: ${host}:${port} is already in use`, {
      status: 409,
      retryable: false,
      details: { host, port },
    });
  }
}

/** Whether a TCP connection to host:port succeeds within `timeoutMs`. Never rejects. */
export function isListening(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Waits until something accepts TCP connections on host:port. */
export function waitListening(host: string, port: number, options: WaitReadyOptions): Promise<void> {
  return waitReady(`${host}:${port}`, (ms) => isListening(host, port, ms), options);
}

/** Longest a single probe may take, so that the deadline and an exit are noticed promptly. */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Polls `probe` until it resolves true. Rejects with the ProcessExitedError of
 * `options.process` if it exits first, with the signal's reason on abort, and with a TIMEOUT
 * SagaError (carrying the process's last output) at the deadline. A probe that throws counts
 * as not ready.
 */
export async function waitReady(
  what: string,
  probe: (timeoutMs: number) => Promise<boolean>,
  options: WaitReadyOptions,
): Promise<void> {
  const { timeoutMs, signal, process: proc, intervalMs = 50 } = options;
  const deadline = Date.now() + timeoutMs;
  const cleanups: (() => void)[] = [];
  // Both race every probe and every pause, so neither waits out a slow probe.
  const interrupted = new Promise<never>((_, reject) => {
    if (signal) {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      cleanups.push(() => signal.removeEventListener('abort', onAbort));
      if (signal.aborted) onAbort();
    }
    if (proc) void proc.exited.then(async () => reject(await exitedError(proc)));
  });
  interrupted.catch(() => undefined);
  try {
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw notReady(what, timeoutMs, proc);
      const ok = await Promise.race([probe(Math.min(remaining, PROBE_TIMEOUT_MS)).catch(() => false), interrupted]);
      if (ok) return;
      let timer: NodeJS.Timeout | undefined;
      const pause = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, Math.min(intervalMs, deadline - Date.now())));
      });
      try {
        await Promise.race([pause, interrupted]);
      } finally {
        clearTimeout(timer);
      }
    }
  } finally {
    for (const c of cleanups) c();
  }
}

function notReady(what: string, timeoutMs: number, proc: ManagedProcess | undefined): SagaError {
  const output = proc?.recentOutput() ?? [];
  const tail = proc ? (output.length ? `; last output of ${proc.name}:\n${output.join('\n')}` : `; ${proc.name} printed nothing`) : '';
  return new SagaError(ErrorCode.Timeout, `${what} not ready after ${timeoutMs} ms${tail}`, {
    status: 503,
    retryable: true,
    details: { what, timeoutMs, output },
  });
}

/**
 * Checks that a NATS server answers before the client is asked to connect, on a socket of our
 * own that is always destroyed.
 *
 * Why not just the client's `timeout`: when something accepts the TCP connection but never
 * sends the INFO greeting (a hung server, another service on the port), the v3 node transport
 * gives up after the timeout but never destroys its socket — its close() is a no-op until the
 * handshake has completed — so the process cannot exit until the peer hangs up, if ever.
 * A refused connection is reported at once, with a reason an operator can act on.
 *
 * The greeting comes in plain text even from a server that requires TLS (nats-server 2.9 has
 * no TLS-first mode); what it says about TLS is handed back, to explain a failed handshake.
 */
import { connect, type Socket } from 'node:net';
import type { NatsServerAddress } from './server-urls.js';

/** Why a server did not answer (the message is the reason, e.g. "connection refused"). */
export class GreetingProbeError extends Error {
  override name = 'GreetingProbeError';
}

/** What the greeting said that matters to a connection's failure. */
export interface NatsGreeting {
  readonly tlsRequired: boolean;
}

/** A NATS server sends `INFO {...}\r\n` as soon as it accepts a connection. */
const GREETING = 'INFO ';
/** More than any INFO line; a peer that sends this much without a line end is not NATS. */
const MAX_GREETING_BYTES = 64 * 1024;

/** Resolves once the server at `address` has greeted like a NATS server; never leaves a socket open. */
export function probeNatsGreeting(address: NatsServerAddress, timeoutMs: number, signal?: AbortSignal): Promise<NatsGreeting> {
  return new Promise<NatsGreeting>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const socket: Socket = connect({ host: address.host, port: address.port });
    let connected = false;
    let received = '';
    const finish = (err?: unknown): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners();
      // A late error from a socket being torn down is of no interest.
      socket.on('error', () => undefined);
      socket.destroy();
      if (err === undefined) resolve(parseGreeting(received));
      else reject(err);
    };
    const onAbort = (): void => finish(signal!.reason);
    const timer = setTimeout(
      () =>
        finish(
          new GreetingProbeError(
            connected
              ? `the connection was accepted but no NATS greeting came within ${timeoutMs} ms (is it a NATS server?)`
              : `no answer within ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.setEncoding('latin1');
    socket.once('connect', () => (connected = true));
    socket.on('data', (chunk: string) => {
      received += chunk;
      const end = received.indexOf('\r\n');
      if (end >= 0 || received.length > MAX_GREETING_BYTES) {
        finish(received.startsWith(GREETING) ? undefined : new GreetingProbeError('it answered, but not as a NATS server'));
      } else if (received.length >= GREETING.length && !received.startsWith(GREETING)) {
        finish(new GreetingProbeError('it answered, but not as a NATS server'));
      }
    });
    socket.once('error', (e: NodeJS.ErrnoException) => finish(new GreetingProbeError(describeSocketError(e, address.host), { cause: e })));
    socket.once('close', () => finish(new GreetingProbeError('the connection was closed before a NATS greeting')));
  });
}

function parseGreeting(line: string): NatsGreeting {
  try {
    const info = JSON.parse(line.slice(GREETING.length, line.indexOf('\r\n'))) as { tls_required?: unknown };
    return { tlsRequired: info.tls_required === true };
  } catch {
    // A greeting we cannot read still is one; the client reports what it makes of it.
    return { tlsRequired: false };
  }
}

function describeSocketError(e: NodeJS.ErrnoException, host: string): string {
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host name "${host}" does not resolve`;
    case 'ECONNRESET':
      return 'connection reset';
    default:
      return e.code ? `${e.code} (${e.message})` : e.message;
  }
}

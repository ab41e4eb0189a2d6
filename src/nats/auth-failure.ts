/**
 * Tells a server that refused us (credentials, TLS) from one that could not be reached: the
 * first is not retryable — the same credentials get the same answer — and the operator must
 * hear what failed, not "unreachable".
 */
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { isIP } from 'node:net';
import type { TlsOptions } from '@nats-io/nats-core';
import type { NatsServerAddress } from './server-urls.js';

/** What failed, worded to follow "NATS at <url> …"; undefined when `e` is no refusal. */
export function authFailure(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  if (e.name === 'AuthorizationError' || e.name === 'UserAuthenticationExpiredError') return `refused the credentials (${e.message})`;
  const code = (e as NodeJS.ErrnoException).code;
  // Node's certificate checks (UNABLE_TO_VERIFY_LEAF_SIGNATURE, ERR_TLS_CERT_ALTNAME_INVALID, …)
  // and OpenSSL alerts (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED, …).
  if (typeof code === 'string' && /CERT|SSL|TLS|UNABLE_TO_|_SIGNATURE/.test(code)) return `failed the TLS handshake (${e.message})`;
  // The client's own: TLS asked for, the server offers none (or the reverse).
  if (/\btls\b/i.test(e.message) && (e.name === 'ConnectionError' || e.name === 'InvalidArgumentError')) return `failed the TLS handshake (${e.message})`;
  return undefined;
}

/**
 * The client's TLS options for these servers: the given ones, or `{}` when a `tls://` URL asks
 * for TLS without any (an empty object still makes the client refuse a server without TLS;
 * otherwise `tls://` would quietly connect in plain text).
 */
export function clientTls(servers: readonly NatsServerAddress[], given: TlsOptions | undefined): TlsOptions | undefined {
  const wanted = given ?? (servers.some((s) => s.url.startsWith('tls://')) ? {} : undefined);
  if (!wanted) return undefined;
  const ips = [...new Set(servers.map((s) => s.host).filter((h) => isIP(h) !== 0))];
  if (ips.length === 0) return wanted;
  // The client names only servers given by host name to the TLS layer, so a server given by IP
  // address would be checked against "localhost": check it against the addresses given.
  const check = (name: string, cert: PeerCertificate): Error | undefined => {
    const byName = checkServerIdentity(name, cert);
    if (!byName || name !== 'localhost') return byName;
    return ips.map((ip) => checkServerIdentity(ip, cert)).includes(undefined) ? undefined : byName;
  };
  return { ...wanted, checkServerIdentity: check } as TlsOptions;
}

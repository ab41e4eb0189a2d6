/**
 * What jetsaga accepts as a NATS server address, in one place for the CLI, the environment and
 * the library: `host:port` or `nats://host:port` (`tls://` too), host being a name, an IPv4
 * address or a bracketed IPv6 address, and the port always given. The client itself is far
 * more lenient — `garbage` becomes `garbage:4222` and is looked up by DNS — so a typo would
 * otherwise surface as "unreachable" after a timeout instead of as a usage error at once.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { InvalidArgumentError } from '../errors.js';

export interface NatsServerAddress {
  /** Normalised: `nats://host:port` (or `tls://…` when so given). */
  readonly url: string;
  /** Without brackets for IPv6. */
  readonly host: string;
  readonly port: number;
}

export const NATS_ADDRESS_RULE = 'host:port or nats://host:port (e.g. nats://127.0.0.1:4222)';

const SCHEMES = new Set(['nats', 'tls']);
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Parses one address or a comma-separated list; throws INVALID_ARGUMENT naming the bad entry. */
export function parseNatsServers(servers: string | readonly string[]): NatsServerAddress[] {
  const entries = (typeof servers === 'string' ? [servers] : servers).flatMap((s) => s.split(','));
  if (entries.length === 0) throw new InvalidArgumentError(`no NATS server given: use ${NATS_ADDRESS_RULE}`);
  return entries.map((entry) => parseNatsServer(entry.trim()));
}

function parseNatsServer(entry: string): NatsServerAddress {
  const bad = (why: string): InvalidArgumentError =>
    new InvalidArgumentError(`"${entry}" is not a NATS server address (${why}): use ${NATS_ADDRESS_RULE}`, { server: entry });
  const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(entry);
  const scheme = schemeMatch ? schemeMatch[1]!.toLowerCase() : 'nats';
  if (!SCHEMES.has(scheme)) throw bad(`${scheme}:// is not supported, only nats:// and tls://`);
  const rest = schemeMatch ? entry.slice(schemeMatch[0].length) : entry;
  if (rest === '') throw bad('no host');
  const m = /^(\[[^\]]*\]|[^:/?#@[\]]*):(\d{1,5})$/.exec(rest);
  if (!m) {
    if (/[/?#@]/.test(rest)) throw bad('only host and port may be given, no user, path or query');
    if (/:\d+$/.test(rest)) throw bad('bad host');
    throw bad(/:[^:\]]*$/.test(rest) ? 'the port must be a number' : 'no port');
  }
  const rawHost = m[1]!;
  const port = Number(m[2]);
  if (!(port >= 1 && port <= 65535)) throw bad('port must be in 1–65535');
  const bracketed = rawHost.startsWith('[');
  const host = bracketed ? rawHost.slice(1, -1) : rawHost;
  if (host === '') throw bad('no host');
  const valid = bracketed ? isIPv6(host) : /^[0-9.]+$/.test(host) ? isIPv4(host) : HOST_NAME.test(host);
  if (!valid) throw bad(`"${host}" is not a host name or IP address`);
  return { url: `${scheme}://${bracketed ? `[${host}]` : host}:${port}`, host, port };
}

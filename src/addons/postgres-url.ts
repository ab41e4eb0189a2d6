/**
 * The PostgreSQL server addons are made on (`--addon-postgres`, `JETSAGA_ADDON_POSTGRES`): an
 * admin URL that may hold a password, so it is checked here once, shown only redacted, and
 * never journaled. The apps' own URLs (`DATABASE_URL`) point at the same host and port.
 */
import { REDACTED } from '../secrets/redact.js';

/** What the admin URL says, parsed. */
export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  /** The URL as given: for connecting, never for showing (see `redacted`). */
  readonly url: string;
  /** The URL with its password, if any, replaced by `[redacted]`: for logs and displays. */
  readonly redacted: string;
  /** `sslmode` of the admin URL, passed on to the apps' URLs so they connect the same way. */
  readonly sslmode: string | null;
}

/**
 * Parses and checks an admin URL: `postgres://` or `postgresql://`, a host, an optional port
 * (default 5432). The error never repeats the URL (it may hold a password).
 * @returns the server, or the reason it is not one
 */
export function parsePostgresUrl(value: string): PostgresServer | string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return 'is not a URL; expected postgres://<user>[:<password>]@<host>[:<port>]/<database>';
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') return `must be a postgres:// or postgresql:// URL, not ${u.protocol}//`;
  if (u.hostname === '') return 'names no host; expected postgres://<user>[:<password>]@<host>[:<port>]/<database>';
  const port = u.port === '' ? 5432 : Number(u.port);
  const redacted = new URL(u.href);
  if (redacted.password !== '') redacted.password = 'REDACTED';
  return {
    host: u.hostname,
    port,
    url: value,
    redacted: redacted.href.replace(':REDACTED@', `:${REDACTED}@`),
    sslmode: u.searchParams.get('sslmode'),
  };
}

/** The URL an app connects with: its own role, password and database on the addon server. */
export function appDatabaseUrl(server: Pick<PostgresServer, 'host' | 'port' | 'sslmode'>, role: string, password: string, database: string): string {
  const query = server.sslmode === null ? '' : `?sslmode=${encodeURIComponent(server.sslmode)}`;
  return `postgresql://${encodeURIComponent(role)}:${encodeURIComponent(password)}@${server.host}:${server.port}/${encodeURIComponent(database)}${query}`;
}

/** An addon's URL as displays show it: everything but the password, which reads `[redacted]`. */
export function redactedDatabaseUrl(addon: { readonly role: string; readonly host: string; readonly port: number; readonly database: string }): string {
  return appDatabaseUrl({ host: addon.host, port: addon.port, sslmode: null }, addon.role, 'PASSWORD', addon.database).replace(':PASSWORD@', `:${REDACTED}@`);
}

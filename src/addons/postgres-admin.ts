/**
 * What the PostgreSQL addon provider does on its server, each operation idempotent and each
 * drop safe to repeat and safe when nothing was made. Every role jetsaga makes carries a
 * marker (its comment: `jetsaga addon <namespace>/<app>/<name>`) and every database it makes is
 * owned by such a role, so an operation never takes over, and an undo never drops, a role or
 * database of the same name that somebody else made (another namespace, a person).
 *
 * Names go into SQL through pg's `escapeIdentifier`; the password never does: the server gets
 * a SCRAM verifier (scram-verifier.ts).
 */
import pg from 'pg';
import { nameTaken, providerError } from './addon-errors.js';
import type { PostgresServer } from './postgres-url.js';

const { Client, escapeIdentifier, escapeLiteral } = pg;
type PgClient = InstanceType<typeof Client>;

/** Whose a role or database is: the addon it was made for. */
export interface AddonOwner {
  readonly namespace: string;
  readonly app: string;
  readonly name: string;
}

/** What a drop found. */
export type DropOutcome = 'dropped' | 'absent' | 'not-ours';

/** `DROP DATABASE … WITH (FORCE)` arrived in PostgreSQL 13. */
const FORCE_DROP_SINCE = 130000;
const DUPLICATE_OBJECT = '42710';
const DUPLICATE_DATABASE = '42P04';

export function markerOf(owner: AddonOwner): string {
  return `jetsaga addon ${owner.namespace}/${owner.app}/${owner.name}`;
}

export interface PostgresAdminOptions {
  /** Gives up connecting after this long (default 10 s): a retryable ADDON_PROVIDER_UNAVAILABLE. */
  readonly connectTimeoutMs?: number;
}

export class PostgresAdmin {
  readonly #connectTimeoutMs: number;

  constructor(
    readonly server: PostgresServer,
    options: PostgresAdminOptions = {},
  ) {
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  }

  /**
   * Makes the role (LOGIN, `verifier` as its password, the marker as its comment) or, when it
   * is the addon's own already, sets its password again: a retried step converges on the
   * password its record holds.
   * @throws ADDON_NAME_TAKEN when a role of that name exists without the addon's marker
   */
  async ensureRole(role: string, verifier: string, owner: AddonOwner, signal?: AbortSignal): Promise<'created' | 'updated'> {
    const marker = markerOf(owner);
    return this.#with(`create role ${role}`, signal, async (c) => {
      for (let attempt = 0; ; attempt++) {
        await c.query('BEGIN');
        try {
          const found = await roleComment(c, role);
          let outcome: 'created' | 'updated';
          if (found === undefined) {
            await c.query(`CREATE ROLE ${escapeIdentifier(role)} LOGIN PASSWORD ${escapeLiteral(verifier)}`);
            outcome = 'created';
          } else if (found !== marker) {
            throw nameTaken('role', role, found === null ? 'it has no jetsaga marker' : `its comment says "${found}"`);
          } else {
            await c.query(`ALTER ROLE ${escapeIdentifier(role)} LOGIN PASSWORD ${escapeLiteral(verifier)}`);
            outcome = 'updated';
          }
          // In the same transaction as CREATE ROLE: there is never a role of ours without its marker.
          await c.query(`COMMENT ON ROLE ${escapeIdentifier(role)} IS ${escapeLiteral(marker)}`);
          await c.query('COMMIT');
          return outcome;
        } catch (err) {
          await c.query('ROLLBACK').catch(() => undefined);
          // Another attempt made it between our read and our create: read again, once.
          if ((err as { code?: unknown }).code === DUPLICATE_OBJECT && attempt === 0) continue;
          throw err;
        }
      }
    });
  }

  /** Drops the role if it is the addon's (its database must be gone first). */
  async dropRole(role: string, owner: AddonOwner, signal?: AbortSignal): Promise<DropOutcome> {
    return this.#with(`drop role ${role}`, signal, async (c) => {
      const found = await roleComment(c, role);
      if (found === undefined) return 'absent';
      if (found !== markerOf(owner)) return 'not-ours';
      await c.query(`DROP ROLE IF EXISTS ${escapeIdentifier(role)}`);
      return 'dropped';
    });
  }

  /**
   * Makes the database, owned by the addon's role, closed to every other role (CONNECT and
   * TEMPORARY revoked from PUBLIC). An existing one is the addon's only if that role owns it.
   * @throws ADDON_NAME_TAKEN when a database of that name belongs to another role
   */
  async ensureDatabase(database: string, role: string, owner: AddonOwner, signal?: AbortSignal): Promise<'created' | 'exists'> {
    const marker = markerOf(owner);
    return this.#with(`create database ${database}`, signal, async (c) => {
      let outcome: 'created' | 'exists' = 'exists';
      const dbOwner = await databaseOwner(c, database);
      if (dbOwner === undefined) {
        // CREATE DATABASE cannot run in a transaction: a crash after it leaves a database whose
        // owner (the addon's marked role) is what proves it ours on the next attempt.
        try {
          await c.query(`CREATE DATABASE ${escapeIdentifier(database)} OWNER ${escapeIdentifier(role)}`);
          outcome = 'created';
        } catch (err) {
          if ((err as { code?: unknown }).code !== DUPLICATE_DATABASE) throw err;
        }
      }
      const now = dbOwner ?? (await databaseOwner(c, database));
      if (now !== role || (await roleComment(c, role)) !== marker) throw nameTaken('database', database, `it is owned by role "${now ?? '?'}"`);
      await c.query(`REVOKE ALL ON DATABASE ${escapeIdentifier(database)} FROM PUBLIC`);
      await c.query(`COMMENT ON DATABASE ${escapeIdentifier(database)} IS ${escapeLiteral(marker)}`);
      return outcome;
    });
  }

  /**
   * Drops the database if it is the addon's (owned by its marked role), ending the sessions
   * still on it: `WITH (FORCE)` from PostgreSQL 13, else by refusing new connections and
   * terminating the open ones first.
   */
  async dropDatabase(database: string, role: string, owner: AddonOwner, signal?: AbortSignal): Promise<DropOutcome> {
    return this.#with(`drop database ${database}`, signal, async (c) => {
      const dbOwner = await databaseOwner(c, database);
      if (dbOwner === undefined) return 'absent';
      if (dbOwner !== role || (await roleComment(c, role)) !== markerOf(owner)) return 'not-ours';
      const db = escapeIdentifier(database);
      const version = Number((await c.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v ?? 0);
      if (version >= FORCE_DROP_SINCE) {
        await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      } else {
        await c.query(`ALTER DATABASE ${db} ALLOW_CONNECTIONS false`);
        await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
        await c.query(`DROP DATABASE IF EXISTS ${db}`);
      }
      return 'dropped';
    });
  }

  /** Connects as the admin, runs `fn`, disconnects; failures become the saga's errors. */
  async #with<T>(what: string, signal: AbortSignal | undefined, fn: (c: PgClient) => Promise<T>): Promise<T> {
    signal?.throwIfAborted();
    const c = new Client({ connectionString: this.server.url, connectionTimeoutMillis: this.#connectTimeoutMs, application_name: 'jetsaga' });
    // A server that drops the connection emits 'error' on the client: it must not crash us (the
    // query in flight fails too, and that is what is reported).
    c.on('error', () => undefined);
    const abort = (): void => void c.end().catch(() => undefined);
    signal?.addEventListener('abort', abort, { once: true });
    try {
      await c.connect();
      return await fn(c);
    } catch (err) {
      signal?.throwIfAborted();
      throw providerError(err, what, this.server.redacted);
    } finally {
      signal?.removeEventListener('abort', abort);
      await c.end().catch(() => undefined);
    }
  }
}

/** The role's comment: undefined when there is no such role, null when it has none. */
async function roleComment(c: PgClient, role: string): Promise<string | null | undefined> {
  const r = await c.query<{ comment: string | null }>("SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1", [role]);
  return r.rows.length === 0 ? undefined : r.rows[0]!.comment;
}

/** The owner of the database, or undefined when there is none of that name. */
async function databaseOwner(c: PgClient, database: string): Promise<string | undefined> {
  const r = await c.query<{ owner: string }>('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [database]);
  return r.rows[0]?.owner;
}

/**
 * Names of addons and what is derived from them. An addon is named within its app (app.toml
 * `[[addons]] name`, default `db`); from `(app, name)` come, deterministically, the PostgreSQL
 * role and database (one identifier for both) and the env var its URL is given to the app as.
 * Deterministic, so that a retried step, a recovered saga and a later deploy of the app all
 * land on the same objects.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { assertAppName } from '../entities/names.js';

/** The kinds of addon jetsaga provides: an `as const` object plus a union. */
export const AddonKind = {
  Postgres: 'postgres',
} as const;
/** One of `AddonKind`'s values. */
export type AddonKind = (typeof AddonKind)[keyof typeof AddonKind];
export const ADDON_KINDS: readonly AddonKind[] = Object.values(AddonKind);

/** The name an addon gets when app.toml gives none. */
export const DEFAULT_ADDON_NAME = 'db';

/**
 * Addon names: lower-case letters, digits and `-`, starting with a letter, at most 20. No `_`:
 * it separates the app from the addon in the PostgreSQL identifier (app names have none
 * either), so no two `(app, name)` pairs share an identifier.
 */
export const ADDON_NAME_PATTERN = /^[a-z][a-z0-9-]{0,19}$/;
export const ADDON_NAME_RULE = 'must be 1–20 lower-case letters, digits or "-", starting with a letter';

/** PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1). */
const MAX_IDENTIFIER = 63;

export function isAddonName(name: unknown): name is string {
  return typeof name === 'string' && ADDON_NAME_PATTERN.test(name);
}

/** Throws INVALID_ARGUMENT unless `name` is an addon name. */
export function assertAddonName(name: unknown): asserts name is string {
  if (!isAddonName(name)) throw new InvalidArgumentError(`invalid addon name ${JSON.stringify(name) ?? String(name)}: ${ADDON_NAME_RULE}`, { name });
}

/**
 * The env var the addon's URL is given as: `DATABASE_URL` for the addon named `db` (the
 * default, and the name every framework looks for), `<NAME>_DATABASE_URL` for any other
 * (`analytics` → `ANALYTICS_DATABASE_URL`; `-` becomes `_`).
 */
export function addonEnvName(name: string): string {
  assertAddonName(name);
  return name === DEFAULT_ADDON_NAME ? 'DATABASE_URL' : `${name.toUpperCase().replaceAll('-', '_')}_DATABASE_URL`;
}

/**
 * The role and database name of an addon: `<app>_<name>`, unambiguous since neither part holds
 * a `_`. One that would pass 63 bytes is cut and given a hash of the full name, so it still
 * names one pair only (the cut form holds `__`, which no plain one can). Always used
 * quoted (pg's `escapeIdentifier`), so the `-` of app names is kept as is.
 */
export function addonIdentifier(app: string, name: string): string {
  assertAppName(app);
  assertAddonName(name);
  const full = `${app}_${name}`;
  if (full.length <= MAX_IDENTIFIER) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 10);
  return `${full.slice(0, MAX_IDENTIFIER - hash.length - 2)}__${hash}`;
}

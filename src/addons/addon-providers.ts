/**
 * The addon providers a coordinator offers: for now PostgreSQL, when `--addon-postgres` (or
 * `JETSAGA_ADDON_POSTGRES`) names a server. Held by the build host; the addon steps and the
 * config checks ask it what is offered.
 */
import { AddonKind } from './addon-names.js';
import { PostgresAdmin } from './postgres-admin.js';
import { parsePostgresUrl } from './postgres-url.js';
import { InvalidArgumentError } from '../errors.js';

export interface AddonProviders {
  /** The coordinator's namespace: the marker of every role it makes names it. */
  readonly namespace: string;
  readonly postgres?: PostgresAdmin;
}

export interface AddonProviderOptions {
  readonly namespace: string;
  /** The PostgreSQL admin URL (config `addonPostgres`); absent: no PostgreSQL addons. */
  readonly postgresUrl?: string;
  readonly connectTimeoutMs?: number;
}

export function openAddonProviders(options: AddonProviderOptions): AddonProviders {
  if (options.postgresUrl === undefined) return { namespace: options.namespace };
  const server = parsePostgresUrl(options.postgresUrl);
  if (typeof server === 'string') throw new InvalidArgumentError(`the PostgreSQL addon URL ${server}`);
  return { namespace: options.namespace, postgres: new PostgresAdmin(server, { connectTimeoutMs: options.connectTimeoutMs }) };
}

/** The addon kinds that have a provider (what app.toml's `[[addons]]` may ask for). */
export function offeredAddonKinds(providers: AddonProviders | undefined): AddonKind[] {
  return providers?.postgres ? [AddonKind.Postgres] : [];
}

/**
 * Coordinator configuration: command-line flags first, then `JETSAGA_*` environment variables,
 * then defaults. Every value is checked here, so a typo fails at start-up with a message that
 * names the setting and where it came from.
 */
import { homedir, hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { ErrorCode, InvalidArgumentError, SagaError } from './errors.js';
import { parseNatsServers } from './nats/server-urls.js';
import { loadNatsAuth, NatsAuthSettingError, type NatsAuth, type NatsAuthSettings } from './nats/nats-auth.js';
import { parseDuration } from './util/duration.js';
import { parsePostgresUrl } from './addons/postgres-url.js';

export class ConfigError extends SagaError {
  override name = 'ConfigError';
  constructor(message: string, details?: Record<string, unknown>) {
    super(ErrorCode.InvalidArgument, message, { status: 400, details });
  }
}

export interface CoordinatorConfig {
  /** This coordinator's stable name (owner of its sagas and leases). */
  readonly owner: string;
  /** Prefix of every stream, subject and bucket. */
  readonly namespace: string;
  /** Where the staging area and any embedded server keep their data. */
  readonly dataDir: string;
  /**
   * Replicas of every stream and bucket jetsaga creates (1–5; 3 on a cluster). With 1 on a
   * single nats-server 2.9 an ack means "in one page cache"; with 3, "on at least two nodes".
   */
  readonly replicas: number;
  /** The coordinator lease TTL, when given (default: 10 s, 30 s with replicas > 1; src/runtime/lease-defaults.ts). */
  readonly leaseTtlMs?: number;
  readonly nats: {
    /**
     * Given explicitly: used as is, never replaced by an embedded server. Normalised
     * (`nats://host:port`, comma-separated); see src/nats/server-urls.ts for what is accepted.
     */
    readonly url: string | undefined;
    /** The default address is 127.0.0.1:<port>; an embedded server listens there. */
    readonly port: number;
    /** The port was given (flag or environment), not the default. */
    readonly portGiven: boolean;
    readonly bin: string;
    /**
     * Credentials and TLS options given (flags, `JETSAGA_NATS_*`), files already read. Absent:
     * none given; the embedded/default server then uses the data dir's (see boot/embedded-auth.ts).
     */
    readonly auth?: NatsAuth;
  };
  readonly registry: {
    /** `host:port` given explicitly: used as is, never replaced by an embedded registry. */
    readonly address: string | undefined;
    /** The default address is 127.0.0.1:<port>; an embedded registry listens there. */
    readonly port: number;
    /** The name images are pushed under; resolved by jetsaga's own name mapping. */
    readonly name: string;
    readonly bin: string;
  };
  /** How long finished sagas are kept (ms; 0: for ever). Absent: the default, 7 days. */
  readonly retainMs?: number;
  /** The secrets key file (absolute); absent: JETSAGA_SECRETS_KEY, else `<dataDir>/secrets.key` (src/secrets/key-source.ts). */
  readonly secretsKeyFile?: string;
  /**
   * The PostgreSQL server app addons are made on: an admin URL (a role that may create roles
   * and databases). It may hold a password: show it only through `parsePostgresUrl(…).redacted`.
   * Absent: apps that ask for a postgres addon are refused.
   */
  readonly addonPostgres?: string;
}

/** Settings a caller may pass; each falls back to its environment variable, then its default. */
export interface ConfigInput {
  owner?: string;
  namespace?: string;
  dataDir?: string;
  nats?: string;
  natsPort?: string | number;
  registry?: string;
  registryPort?: string | number;
  registryName?: string;
  replicas?: string | number;
  /** Retention of finished sagas: `30m`, `12h`, `7d`, `0` (never purge). */
  retain?: string;
  leaseTtlMs?: string | number;
  secretsKeyFile?: string;
  /** The PostgreSQL addon server's admin URL (`postgres://user[:password]@host[:port]/db`). */
  addonPostgres?: string;
  /** NATS credentials and TLS (see src/nats/nats-auth.ts): file paths, or the secret itself for password and token. */
  natsCreds?: string;
  natsNkey?: string;
  natsUser?: string;
  natsPassword?: string;
  natsPasswordFile?: string;
  natsToken?: string;
  natsTokenFile?: string;
  natsCa?: string;
  natsCert?: string;
  natsKey?: string;
}

/** The environment variables, for `--help` and the README. */
export const CONFIG_ENV = {
  owner: 'JETSAGA_OWNER',
  namespace: 'JETSAGA_NAMESPACE',
  dataDir: 'JETSAGA_DATA_DIR',
  nats: 'JETSAGA_NATS_URL',
  natsPort: 'JETSAGA_NATS_PORT',
  registry: 'JETSAGA_REGISTRY',
  registryPort: 'JETSAGA_REGISTRY_PORT',
  registryName: 'JETSAGA_REGISTRY_NAME',
  replicas: 'JETSAGA_REPLICAS',
  retain: 'JETSAGA_RETAIN',
  leaseTtlMs: 'JETSAGA_LEASE_TTL_MS',
  secretsKeyFile: 'JETSAGA_SECRETS_KEY_FILE',
  addonPostgres: 'JETSAGA_ADDON_POSTGRES',
  natsCreds: 'JETSAGA_NATS_CREDS',
  natsNkey: 'JETSAGA_NATS_NKEY',
  natsUser: 'JETSAGA_NATS_USER',
  natsPassword: 'JETSAGA_NATS_PASSWORD',
  natsPasswordFile: 'JETSAGA_NATS_PASSWORD_FILE',
  natsToken: 'JETSAGA_NATS_TOKEN',
  natsTokenFile: 'JETSAGA_NATS_TOKEN_FILE',
  natsCa: 'JETSAGA_NATS_CA',
  natsCert: 'JETSAGA_NATS_CERT',
  natsKey: 'JETSAGA_NATS_KEY',
} as const satisfies Record<keyof ConfigInput, string>;

/** A coordinator name: it becomes a KV key and appears in subjects. */
export const OWNER_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const NAMESPACE = /^[a-z0-9_-]{1,32}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function loadConfig(input: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env): CoordinatorConfig {
  const pick = <K extends keyof ConfigInput>(key: K): { value: string | undefined; from: string } => {
    const flag = input[key];
    if (flag !== undefined && flag !== '') return { value: String(flag), from: `--${kebab(key)}` };
    const e = env[CONFIG_ENV[key]];
    if (e !== undefined && e !== '') return { value: e, from: CONFIG_ENV[key] };
    return { value: undefined, from: 'default' };
  };

  const owner = pick('owner');
  const ownerValue = owner.value ?? defaultOwner({});
  if (!OWNER_PATTERN.test(ownerValue)) throw new ConfigError(`${owner.from}: coordinator name "${ownerValue}" must match ${OWNER_PATTERN}`);

  const namespace = pick('namespace');
  const ns = namespace.value ?? 'jetsaga';
  if (!NAMESPACE.test(ns)) throw new ConfigError(`${namespace.from}: namespace "${ns}" must match ${NAMESPACE}`);

  const data = pick('dataDir');
  const dataDir = data.value ? resolve(data.value) : join(env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share'), 'jetsaga');

  const nats = pick('nats');
  const natsPort = pick('natsPort');
  const natsUrl = nats.value === undefined ? undefined : natsUrls(nats.value, nats.from);
  const natsAuth = natsAuthOf(pick);

  const registry = pick('registry');
  if (registry.value !== undefined) parseHostPort(registry.value, registry.from);

  const registryName = pick('registryName');
  const name = registryName.value ?? 'cluster.local';
  if (!HOSTNAME.test(name)) throw new ConfigError(`${registryName.from}: "${name}" is not a host name`);

  const replicas = pick('replicas');
  const r = replicas.value === undefined ? 1 : Number(replicas.value);
  if (!Number.isInteger(r) || r < 1 || r > 5) throw new ConfigError(`${replicas.from}: replicas "${replicas.value}" must be an integer from 1 to 5`);
  const retain = pick('retain');
  let retainMs: number | undefined;
  try {
    retainMs = retain.value === undefined ? undefined : parseDuration(retain.value);
  } catch (e) {
    throw new ConfigError(`${retain.from}: ${(e as Error).message}`);
  }

  const lease = pick('leaseTtlMs');
  const ttl = lease.value === undefined ? undefined : Number(lease.value);
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 1_000 || ttl > 600_000)) throw new ConfigError(`${lease.from}: lease TTL "${lease.value}" must be an integer number of milliseconds from 1000 to 600000`);

  const keyFile = pick('secretsKeyFile').value;

  const addonPostgres = pick('addonPostgres');
  if (addonPostgres.value !== undefined) {
    // The message never repeats the URL: it may hold a password.
    const server = parsePostgresUrl(addonPostgres.value);
    if (typeof server === 'string') throw new ConfigError(`${addonPostgres.from}: the PostgreSQL addon URL ${server}`);
  }

  return {
    owner: ownerValue,
    namespace: ns,
    dataDir,
    replicas: r,
    ...(ttl === undefined ? {} : { leaseTtlMs: ttl }),
    nats: { url: natsUrl, port: port(natsPort, 4222), portGiven: natsPort.value !== undefined, bin: env.JETSAGA_NATS_SERVER_BIN || '/usr/sbin/nats-server', ...(natsAuth ? { auth: natsAuth } : {}) },
    registry: { address: registry.value, port: port(pick('registryPort'), 5000), name, bin: env.JETSAGA_REGISTRY_BIN || '/usr/bin/docker-registry' },
    ...(retainMs === undefined ? {} : { retainMs }),
    ...(keyFile === undefined ? {} : { secretsKeyFile: resolve(keyFile) }),
    ...(addonPostgres.value === undefined ? {} : { addonPostgres: addonPostgres.value }),
  };
}

/** `JETSAGA_OWNER`, else the host name made name-safe: a coordinator's default name. */
export function defaultOwner(env: NodeJS.ProcessEnv): string {
  if (env.JETSAGA_OWNER) return env.JETSAGA_OWNER;
  return hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64) || 'coordinator';
}

/** `host:port` → parts; IPv6 hosts in brackets (`[::1]:5000`). */
export function parseHostPort(value: string, from = 'address'): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(value);
  const p = m ? Number(m[2]) : NaN;
  if (!m || !(p >= 1 && p <= 65535)) throw new ConfigError(`${from}: "${value}" must be host:port`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: p };
}

/** The one rule of src/nats/server-urls.ts, reported as a usage error naming the setting. */
function natsUrls(value: string, from: string): string {
  try {
    return parseNatsServers(value)
      .map((s) => s.url)
      .join(',');
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw new ConfigError(`${from}: ${e.message}`);
    throw e;
  }
}

/** Which ConfigInput key gives each NATS credential setting. */
const NATS_AUTH_KEYS = {
  credsFile: 'natsCreds',
  nkeyFile: 'natsNkey',
  user: 'natsUser',
  password: 'natsPassword',
  passwordFile: 'natsPasswordFile',
  token: 'natsToken',
  tokenFile: 'natsTokenFile',
  caFile: 'natsCa',
  certFile: 'natsCert',
  keyFile: 'natsKey',
} as const satisfies Record<keyof NatsAuthSettings, keyof ConfigInput>;

/** The credential settings given (files read now, so a bad one is a usage error naming it); none: undefined. */
function natsAuthOf(pick: (key: keyof ConfigInput) => { value: string | undefined; from: string }): NatsAuth | undefined {
  const settings: Record<string, string> = {};
  const from = new Map<keyof NatsAuthSettings, string>();
  for (const [setting, key] of Object.entries(NATS_AUTH_KEYS) as [keyof NatsAuthSettings, keyof ConfigInput][]) {
    const p = pick(key);
    if (p.value === undefined) continue;
    settings[setting] = p.value;
    from.set(setting, p.from);
  }
  if (from.size === 0) return undefined;
  try {
    return loadNatsAuth(settings, `check ${[...from.values()].join(', ')}`);
  } catch (e) {
    if (e instanceof NatsAuthSettingError) throw new ConfigError(`${from.get(e.setting) ?? e.setting}: ${e.message}`);
    throw e;
  }
}

function port(p: { value: string | undefined; from: string }, fallback: number): number {
  if (p.value === undefined) return fallback;
  const n = Number(p.value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new ConfigError(`${p.from}: port "${p.value}" must be an integer in 1–65535`);
  return n;
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

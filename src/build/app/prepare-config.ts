/**
 * The deploy-time checks of an app's config against what the deploy brings and what the
 * coordinator offers: env vars merged and the required ones present, the required services
 * and addon kinds offered, the app's name agreeing with the deploy's, a pinned port free. Every problem is
 * collected before anything is thrown, so one failed deploy tells the user everything to fix.
 */
import { RetryableError } from '../../errors.js';
import { AppConfigError, type ConfigProblem } from './app-config-error.js';
import type { AppConfig } from './app-config-schema.js';
import { formatKeyPath } from './key-path.js';
import { ENV_NAME, ENV_NAME_RULE, MAX_ENV_VALUE_CHARS, RESERVED_ENV } from './names.js';
import { isSealedSecret, type SealedEnv, type SealedSecret } from '../../secrets/index.js';
import { addonEnv, addonProblems } from './addon-config.js';

/** Inputs of {@link prepareConfig}. */
export interface PrepareConfigOptions {
  readonly config: AppConfig;
  /** Env vars the deploy request sets; they override app.toml's [env]. Validated here (untrusted). */
  readonly requestEnv?: Readonly<Record<string, string>>;
  /**
   * Secret env vars the deploy request sets, sealed; they override app.toml's [env] too. Only
   * their names are checked here: they stay sealed until the sandbox starts.
   */
  readonly requestSecrets?: SealedEnv;
  /** The services the coordinator offers. */
  readonly services: readonly string[];
  /**
   * The addon kinds the coordinator has a provider for (`postgres` with `--addon-postgres`);
   * absent: none, so an app with `[[addons]]` is refused, naming the flag.
   */
  readonly offeredAddons?: readonly string[];
  /** The app the deploy names; app.toml's `name`, if given, must equal it. */
  readonly appName?: string;
  /**
   * Whether a port is free on the host, for a `[run] port`. Omitted: not checked. Deciding
   * "free" is the caller's: a port held by this app's own running version may count as free
   * to a caller that stops that version before starting the new one.
   */
  readonly portFree?: (port: number) => Promise<boolean>;
}

/** A config ready for a config version. JSON-safe, keys sorted (it is journaled). */
export interface PreparedConfig {
  /** app.toml's [env] overridden by the request's env, sorted by name. */
  readonly env: Readonly<Record<string, string>>;
  /** The request's secret env vars, still sealed, sorted by name; absent when there are none. */
  readonly secrets?: SealedEnv;
  /** The env vars app.toml requires (all present in `env` or `secrets`, non-empty). */
  readonly requiredEnv: readonly string[];
  /** The services the app requires (all offered). */
  readonly services: readonly string[];
  /** The pinned port, or null: the sandbox picks one. */
  readonly port: number | null;
  readonly health: string;
}

/** The source of request env problems in messages. */
const REQUEST = 'deploy request';

/** The merged env is journaled with the config version: it stays well under a journal entry. */
export const MAX_ENV_BYTES = 256 * 1024;

/** The problem of an app.toml that names another app than the one deployed, or null. */
export function nameMismatch(config: AppConfig, appName: string): ConfigProblem | null {
  if (config.name === undefined || config.name === appName) return null;
  const line = config.lines.name;
  return { file: 'app.toml', key: 'name', ...(line === undefined ? {} : { line }), reason: `is ${JSON.stringify(config.name)}, but the deploy is for app ${JSON.stringify(appName)}` };
}

/**
 * Checks everything but the port (pure): the prepared config, and every problem found (an
 * empty list means `prepared` is good to use).
 */
export function checkConfig(options: Omit<PrepareConfigOptions, 'portFree'>): { prepared: PreparedConfig; problems: ConfigProblem[] } {
  const { config } = options;
  const problems: ConfigProblem[] = [];
  const at = (key: string): Pick<ConfigProblem, 'file' | 'key' | 'line'> => {
    const line = config.lines[key];
    return { file: 'app.toml', key, ...(line === undefined ? {} : { line }) };
  };

  const mismatch = options.appName === undefined ? null : nameMismatch(config, options.appName);
  if (mismatch) problems.push(mismatch);

  const merged: Record<string, string> = { ...config.env };
  const requestEnv: unknown = options.requestEnv ?? {};
  if (typeof requestEnv !== 'object' || requestEnv === null || Array.isArray(requestEnv)) {
    problems.push({ file: REQUEST, key: 'env', reason: 'must be an object of NAME: "value"' });
  } else {
    for (const [name, value] of Object.entries(requestEnv)) {
      const key = formatKeyPath(['env', name]);
      const reason = envProblem(name, value);
      if (reason !== null) problems.push({ file: REQUEST, key, reason });
      else merged[name] = value as string;
    }
  }
  const secrets: Record<string, SealedSecret> = {};
  for (const [name, value] of Object.entries(options.requestSecrets ?? {})) {
    const key = formatKeyPath(['secretEnv', name]);
    const reason = secretProblem(name, value, options.requestEnv);
    if (reason !== null) problems.push({ file: REQUEST, key, reason });
    else {
      secrets[name] = value;
      // A secret replaces app.toml's value of the same name (a development default, say).
      delete merged[name];
    }
  }
  // An addon's URL replaces app.toml's value of its name (a development default), as a secret does.
  const fromAddons = addonEnv(config);
  for (const name of fromAddons.keys()) delete merged[name];
  problems.push(
    ...addonProblems(
      config,
      options.offeredAddons ?? [],
      { env: typeof requestEnv === 'object' && requestEnv !== null ? Object.keys(requestEnv) : [], secrets: Object.keys(options.requestSecrets ?? {}) },
      at,
    ),
  );
  const env = sortedByName(merged);
  const withSecrets = Object.keys(secrets).length > 0;
  const envBytes = Buffer.byteLength(JSON.stringify(env)) + (withSecrets ? Buffer.byteLength(JSON.stringify(secrets)) : 0);
  if (envBytes > MAX_ENV_BYTES) {
    problems.push({ file: REQUEST, key: 'env', reason: `is ${envBytes} bytes in all (with app.toml's [env]${withSecrets ? ' and the sealed secrets' : ''}); at most ${MAX_ENV_BYTES} are kept` });
  }

  const requiredEnv = [...new Set(config.require.env)];
  config.require.env.forEach((name, i) => {
    if ((env[name] ?? '') === '' && secrets[name] === undefined && !fromAddons.has(name)) {
      problems.push({ ...at(`require.env[${i}]`), reason: `names ${name}, which has no value: set it in [env] or in the deploy request (as env or as a secret)` });
    }
  });

  const offered = new Set(options.services);
  config.require.services.forEach((service, i) => {
    if (!offered.has(service)) {
      const list = [...offered].sort();
      problems.push({
        ...at(`require.services[${i}]`),
        reason: `names the service "${service}", which this coordinator does not offer (${list.length ? `it offers: ${list.join(', ')}` : 'it offers none'})`,
      });
    }
  });

  return {
    prepared: {
      env,
      ...(withSecrets ? { secrets: sortedByName(secrets) } : {}),
      requiredEnv,
      services: [...new Set(config.require.services)],
      port: config.run.port ?? null,
      health: config.run.health,
    },
    problems,
  };
}

/**
 * Merges and checks the app's config for a deploy.
 *
 * @throws AppConfigError (terminal, 400) listing every problem: a required env var without a
 *   value, a service not offered, a bad request env name or value, a name mismatch, a pinned
 *   port in use.
 * @throws RetryableError when `portFree` itself fails.
 * @example
 * const prepared = await prepareConfig({ config, requestEnv: { DATABASE_URL: url }, services: ['postgres'] });
 * prepared.env; // { DATABASE_URL: url, NODE_ENV: 'production' }
 */
export async function prepareConfig(options: PrepareConfigOptions): Promise<PreparedConfig> {
  const { prepared, problems } = checkConfig(options);
  if (prepared.port !== null && options.portFree) {
    let free: boolean;
    try {
      free = await options.portFree(prepared.port);
    } catch (e) {
      throw new RetryableError(`could not check whether port ${prepared.port} is free: ${(e as Error).message}`, { cause: e });
    }
    if (!free) {
      const line = options.config.lines['run.port'];
      problems.push({ file: 'app.toml', key: 'run.port', ...(line === undefined ? {} : { line }), reason: `is ${prepared.port}, which is in use on this host` });
    }
  }
  if (problems.length > 0) throw new AppConfigError(problems);
  return prepared;
}

function sortedByName<T>(record: Readonly<Record<string, T>>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function secretProblem(name: string, value: unknown, requestEnv: unknown): string | null {
  if (!ENV_NAME.test(name)) return ENV_NAME_RULE;
  const reserved = RESERVED_ENV[name];
  if (reserved !== undefined) return reserved;
  if (!isSealedSecret(value)) return 'must be a sealed secret (the coordinator seals secrets on receipt)';
  if (typeof requestEnv === 'object' && requestEnv !== null && Object.hasOwn(requestEnv, name)) return 'is given both as a plain env var and as a secret';
  return null;
}

function envProblem(name: string, value: unknown): string | null {
  if (!ENV_NAME.test(name)) return ENV_NAME_RULE;
  const reserved = RESERVED_ENV[name];
  if (reserved !== undefined) return reserved;
  if (typeof value !== 'string') return 'must be a string';
  if (value.includes('\0')) return 'must not contain a NUL character';
  if (value.length > MAX_ENV_VALUE_CHARS) return `must be at most ${MAX_ENV_VALUE_CHARS} characters`;
  return null;
}

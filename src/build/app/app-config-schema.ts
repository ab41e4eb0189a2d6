/**
 * `app.toml`: what an app tells the build saga about itself. Every key is optional and the
 * file itself may be absent (then every default applies). Unknown keys are errors, so a typo
 * never silently does nothing.
 *
 * ```toml
 * name = "shop"              # must equal the app name the deploy names, if given (a DNS label)
 * stack = "node"             # node | python | go | ruby | static: skips detection
 *
 * [build]
 * onbuild = ["npm ci", "npm run build"]  # shell commands run in the source dir, in order;
 *                                        # absent: the stack's defaults; [] runs nothing
 * timeout = 600              # seconds per command: integer, 1..3600 (default 600)
 * base = "library/node:20"   # a base image in jetsaga's registry: <repository>[:tag|@sha256:…]
 *
 * [run]
 * web = "node server.js"     # the web process: a shell command, or an argv array run as is;
 *                            # overrides the Procfile's `web` and the stack's default
 * health = "/healthz"        # path that must answer 2xx/3xx before the version counts as
 *                            # active (default "/")
 * port = 8080                # pins the web process's port (1..65535); default: a free one
 *                            # per sandbox. Either way the process finds it in $PORT.
 *
 * [env]                      # string values; names [A-Z_][A-Z0-9_]*; PORT is reserved
 * NODE_ENV = "production"
 *
 * [require]
 * env = ["DATABASE_URL"]     # must have a non-empty value at deploy time ([env] or the request)
 * services = ["postgres"]    # services the coordinator must offer
 *
 * [[addons]]                 # a database of the app's own, made by its first deploy and reused
 * kind = "postgres"          # by the later ones; its URL is given as DATABASE_URL (name "db")
 * name = "db"                # or <NAME>_DATABASE_URL: [a-z][a-z0-9-]{0,19}, default "db", unique
 * ```
 *
 * Beyond the outline this saga started from: `[run] web` also takes an argv array (no shell in
 * between), `[run] port` exists (so the deploy-time "port is free" check has something to
 * check), and `PORT` is reserved in `[env]`.
 */
import { z } from 'zod';
import { DNS_LABEL, DNS_LABEL_RULE, ENV_NAME, ENV_NAME_RULE, MAX_ENV_VALUE_CHARS, RESERVED_ENV } from './names.js';
import { ADDON_KINDS, ADDON_NAME_PATTERN, ADDON_NAME_RULE, DEFAULT_ADDON_NAME, type AddonKind } from '../../addons/addon-names.js';

/** The stacks app.toml can name (detection may also answer `custom`, see `Stack`). */
export const STACK_NAMES = ['node', 'python', 'go', 'ruby', 'static'] as const;
/** A stack app.toml can name. */
export type StackName = (typeof STACK_NAMES)[number];

/** Defaults of the keys that have one. */
export const APP_CONFIG_DEFAULTS = { timeout: 600, maxTimeout: 3600, health: '/' } as const;

/** Bounds that keep a config small enough to journal and a build plan readable. */
const MAX_COMMANDS = 50;
const MAX_COMMAND_CHARS = 4096;
const MAX_PATH_CHARS = 1024;
const MAX_IMAGE_REF_CHARS = 512;
/** Addons per app: each is a database made at deploy time; a handful is plenty. */
const MAX_ADDONS = 8;
/** `<repository>[:<tag>]` or `<repository>@sha256:<hex>`, repository as the distribution spec names them. */
export const IMAGE_REF = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|@sha256:[a-f0-9]{64})?$/;

const command = z
  .string({ error: 'must be a string' })
  .max(MAX_COMMAND_CHARS, { error: `must be at most ${MAX_COMMAND_CHARS} characters` })
  .refine((s) => s.trim() !== '', { error: 'must not be empty' })
  .refine((s) => !s.includes('\0'), { error: 'must not contain a NUL character' });

const envName = z
  .string()
  .regex(ENV_NAME, { error: ENV_NAME_RULE })
  .superRefine((name, ctx) => {
    const why = RESERVED_ENV[name];
    if (why !== undefined) ctx.addIssue({ code: 'custom', message: why });
  });

const serviceName = z.string({ error: 'must be a string' }).regex(DNS_LABEL, { error: DNS_LABEL_RULE });

const addon = z.strictObject(
  {
    kind: z.enum(ADDON_KINDS as [AddonKind, ...AddonKind[]], { error: `must be one of ${ADDON_KINDS.map((k) => `"${k}"`).join(', ')}` }),
    name: z.string({ error: 'must be a string' }).regex(ADDON_NAME_PATTERN, { error: ADDON_NAME_RULE }).default(DEFAULT_ADDON_NAME),
  },
  { error: 'must be a table ([[addons]] with kind = "postgres")' },
);

/** Two addons of one app under one name would be one database: the second is refused where it is. */
const addons = z
  .array(addon, { error: 'must be an array of tables: [[addons]] sections' })
  .max(MAX_ADDONS, { error: `must hold at most ${MAX_ADDONS} addons` })
  .superRefine((list, ctx) => {
    const first = new Map<string, number>();
    list.forEach((a, i) => {
      const earlier = first.get(a.name);
      if (earlier === undefined) first.set(a.name, i);
      else ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `is "${a.name}" again (as addons[${earlier}]): every addon of an app needs a name of its own` });
    });
  });

/** The zod schema of app.toml (strict at every level). */
export const AppConfigSchema = z.strictObject(
  {
    name: z.string({ error: 'must be a string' }).regex(DNS_LABEL, { error: DNS_LABEL_RULE }).optional(),
    stack: z.enum(STACK_NAMES, { error: `must be one of ${STACK_NAMES.join(', ')}` }).optional(),
    build: z
      .strictObject(
        {
          onbuild: z
            .array(command, { error: 'must be an array of strings (shell commands)' })
            .max(MAX_COMMANDS, { error: `must hold at most ${MAX_COMMANDS} commands` })
            .optional(),
          base: z
            .string({ error: 'must be a string' })
            .max(MAX_IMAGE_REF_CHARS, { error: `must be at most ${MAX_IMAGE_REF_CHARS} characters` })
            .regex(IMAGE_REF, { error: 'must be an image in the registry: <repository>[:<tag>] or <repository>@sha256:<digest>, e.g. "library/node:20"' })
            .optional(),
          timeout: z
            .number({ error: 'must be an integer number of seconds' })
            .int({ error: 'must be an integer number of seconds' })
            .min(1, { error: 'must be at least 1 (seconds)' })
            .max(APP_CONFIG_DEFAULTS.maxTimeout, { error: `must be at most ${APP_CONFIG_DEFAULTS.maxTimeout} (seconds)` })
            .default(APP_CONFIG_DEFAULTS.timeout),
        },
        { error: 'must be a table' },
      )
      .default({ timeout: APP_CONFIG_DEFAULTS.timeout }),
    run: z
      .strictObject(
        {
          web: z
            .union([command, z.array(command, { error: 'must be an array of strings' }).min(1, { error: 'must not be empty' })], {
              error: 'must be a string (a shell command) or an array of strings (argv)',
            })
            .optional(),
          health: z
            .string({ error: 'must be a string' })
            .max(MAX_PATH_CHARS, { error: `must be at most ${MAX_PATH_CHARS} characters` })
            .regex(/^\/[\x21-\x7e]*$/, { error: 'must be an HTTP path starting with "/" (printable ASCII, no spaces)' })
            .default(APP_CONFIG_DEFAULTS.health),
          port: z
            .number({ error: 'must be an integer port number' })
            .int({ error: 'must be an integer port number' })
            .min(1, { error: 'must be a port number from 1 to 65535' })
            .max(65535, { error: 'must be a port number from 1 to 65535' })
            .optional(),
        },
        { error: 'must be a table' },
      )
      .default({ health: APP_CONFIG_DEFAULTS.health }),
    env: z
      .record(
        envName,
        z
          .string({ error: 'must be a string (quote numbers and booleans: "1", "true")' })
          .max(MAX_ENV_VALUE_CHARS, { error: `must be at most ${MAX_ENV_VALUE_CHARS} characters` })
          .refine((s) => !s.includes('\0'), { error: 'must not contain a NUL character' }),
        { error: 'must be a table of NAME = "value"' },
      )
      .default({}),
    require: z
      .strictObject(
        {
          env: z.array(envName, { error: 'must be an array of environment variable names' }).default([]),
          services: z.array(serviceName, { error: 'must be an array of service names' }).default([]),
        },
        { error: 'must be a table' },
      )
      .default({ env: [], services: [] }),
    addons: addons.default([]),
  },
  { error: 'must be a table' },
);

/** One addon app.toml asks for (`[[addons]]`). */
export interface AppAddon {
  readonly kind: AddonKind;
  /** Unique within the app; `db` by default. */
  readonly name: string;
}

/** A validated app.toml with its defaults applied. JSON-safe: it is journaled as a step output. */
export interface AppConfig {
  /** The app's name, if app.toml gives one (checked against the deploy's at prepare time). */
  readonly name?: string;
  /** The stack app.toml names, if any: it skips detection. */
  readonly stack?: StackName;
  readonly build: {
    /** Commands to run; absent when app.toml has none (the stack's defaults apply), [] runs none. */
    readonly onbuild?: readonly string[];
    /** Seconds each command may take. */
    readonly timeout: number;
    /** A base image in jetsaga's registry (`library/node:20`); the app layer goes on top. */
    readonly base?: string;
  };
  readonly run: {
    /** A shell command, or an argv run without a shell. */
    readonly web?: string | readonly string[];
    readonly health: string;
    readonly port?: number;
  };
  readonly env: Readonly<Record<string, string>>;
  readonly require: { readonly env: readonly string[]; readonly services: readonly string[] };
  /**
   * The addons it asks for, in file order; absent when none (and in configs journaled before
   * addons existed).
   */
  readonly addons?: readonly AppAddon[];
  /** `app.toml` when the file was read, `defaults` when there was none. */
  readonly source: 'app.toml' | 'defaults';
  /**
   * Lines of the keys that deploy-time checks report on (`name`, `run.port`,
   * `require.env[0]`, …), so those errors can point into app.toml too.
   */
  readonly lines: Readonly<Record<string, number>>;
}

/** The known keys of each table, for "did you mean" hints on unknown keys. */
export const KNOWN_KEYS: Readonly<Record<string, readonly string[]>> = {
  '': Object.keys(AppConfigSchema.shape),
  build: Object.keys(AppConfigSchema.shape.build.unwrap().shape),
  run: Object.keys(AppConfigSchema.shape.run.unwrap().shape),
  require: Object.keys(AppConfigSchema.shape.require.unwrap().shape),
  addons: Object.keys(addon.shape),
};

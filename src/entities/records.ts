/**
 * The shapes of the stored records, as types (the module boundary) and as zod schemas (every
 * read is checked: a value that does not fit is corrupt, not silently half-read). Schemas are
 * loose: fields a newer jetsaga adds pass through a read-modify-write of an older one intact.
 */
import { z } from 'zod';

/** An app and which of its versions is live. */
export interface AppRecord {
  readonly name: string;
  readonly createdAt: number;
  readonly activeVersion: number | null;
  /** When `activeVersion` became active (null while none is). */
  readonly activeSince: number | null;
  /** What was active before the last change of `activeVersion`. */
  readonly previousActive: number | null;
  /** The saga whose `setActive` made `activeVersion` current; null when none or undone. */
  readonly activatedBy: string | null;
  /** The saga whose `restoreActive` put `activeVersion` back, so its repeated undo knows it is done. */
  readonly restoredBy: string | null;
  readonly updatedAt: number;
}

/** `as const` object plus union: the life of a version. */
export const VersionStatus = {
  /** Allocated; its saga is building it. */
  Building: 'building',
  /** Built and recorded (`createVersion`): image, config, processes. */
  Ready: 'ready',
  Active: 'active',
  /** Was active; replaced by a newer activation. */
  Retired: 'retired',
  Failed: 'failed',
  /** Its saga was rolled back before the version went live; the number is never reused. */
  Abandoned: 'abandoned',
} as const;
/** A version's status (see `VersionStatus`). */
export type VersionStatus = (typeof VersionStatus)[keyof typeof VersionStatus];

/** Where a version's image is: repository and manifest digest. */
export interface ImageRef {
  /** Repository in the registry, e.g. `cluster.local:5000/shop`. */
  readonly repo: string;
  /** Manifest digest, `sha256:<64 hex>`. */
  readonly digest: string;
}

/** Process name → argv (the web process is `web`). */
export type Processes = Readonly<Record<string, readonly string[]>>;

/** One version of an app (`ver.<app>.<n>`). */
export interface VersionRecord {
  readonly app: string;
  readonly version: number;
  /** The saga that allocated (and builds) it. */
  readonly sagaId: string;
  readonly status: VersionStatus;
  readonly allocatedAt: number;
  /** The rest is null until `createVersion`. */
  readonly image: ImageRef | null;
  readonly configVersion: number | null;
  readonly processes: Processes | null;
  readonly createdAt: number | null;
  readonly updatedAt: number;
}

/** The environment one build runs with (`cfg.<app>.<n>`), immutable. */
export interface ConfigVersionRecord {
  readonly app: string;
  readonly version: number;
  readonly env: Readonly<Record<string, string>>;
  /** Secret env vars, sealed (src/secrets); absent when the build had none. */
  readonly secrets?: Readonly<Record<string, { readonly $secret: string }>>;
  readonly sagaId: string;
  readonly createdAt: number;
}

/** `as const` object plus union: the life of a sandbox. */
export const SandboxState = {
  Starting: 'starting',
  Running: 'running',
  Stopping: 'stopping',
  Stopped: 'stopped',
  Failed: 'failed',
} as const;
/** A sandbox's state (see `SandboxState`). */
export type SandboxState = (typeof SandboxState)[keyof typeof SandboxState];

/** A running copy of a version on this host (`sbx.<app>.<id>`). */
export interface SandboxRecord {
  readonly id: string;
  readonly app: string;
  readonly version: number;
  readonly state: SandboxState;
  /** The loopback port it listens on; null until known. */
  readonly port: number | null;
  /** The process id of its process (group); null until started. */
  readonly pid: number | null;
  /** Where its rootfs is unpacked. */
  readonly dir: string;
  readonly startedAt: number;
  /** The saga that created it. */
  readonly sagaId: string;
  readonly updatedAt: number;
}

/** The deployment lock of one app. */
export interface DeployLockRecord {
  readonly app: string;
  /** The saga holding it. */
  readonly holder: string;
  /** When the holder took it (unchanged by renewals). */
  readonly since: number;
  readonly expiresAt: number;
  readonly renewedAt: number;
  /** The TTL it was taken with: what a renewal extends by unless told otherwise. */
  readonly ttlMs: number;
}

/** `as const` object plus union: the life of an addon. */
export const AddonState = {
  /** Claimed by its saga; the role and database may or may not exist yet. */
  Provisioning: 'provisioning',
  /** Role and database made: later deploys of the app reuse it. */
  Ready: 'ready',
} as const;
/** An addon's state (see `AddonState`). */
export type AddonState = (typeof AddonState)[keyof typeof AddonState];

/**
 * A resource an app's deploys share, made by a provider (`addon.<app>.<name>`): for
 * PostgreSQL a role and a database of the same name on the provider's server. The saga that
 * made it is the only one whose undo may remove it; later deploys reuse it.
 */
export interface AddonRecord {
  readonly app: string;
  /** The addon's name within the app (app.toml `[[addons]] name`, default `db`). */
  readonly name: string;
  readonly kind: string;
  /** The role and the database (PostgreSQL identifiers, unquoted). */
  readonly role: string;
  readonly database: string;
  /** Where the app reaches it. */
  readonly host: string;
  readonly port: number;
  /** The env var the app is given the URL as. */
  readonly env: string;
  /** The app's connection URL (password included), sealed for the app and `env`. */
  readonly url: { readonly $secret: string };
  readonly state: AddonState;
  /** The saga that made it: its undo removes it, nobody else's does. */
  readonly createdBy: string;
  readonly createdAt: number;
  readonly readyAt: number | null;
  readonly updatedAt: number;
}

const time = z.int().min(0);
const version = z.int().min(1);
const nullableTime = z.nullable(time);

/** Schemas of the stored records and of their parts, checked on every read (and on input). */
export const AppSchema: z.ZodType<AppRecord> = z.looseObject({
  name: z.string(),
  createdAt: time,
  activeVersion: z.nullable(version),
  activeSince: nullableTime,
  previousActive: z.nullable(version),
  activatedBy: z.nullable(z.string()),
  restoredBy: z.nullable(z.string()),
  updatedAt: time,
});

export const VersionStatusSchema = z.enum(Object.values(VersionStatus) as [VersionStatus, ...VersionStatus[]]);

export const ImageRefSchema = z.strictObject({
  repo: z.string().min(1).max(255).regex(/^[a-z0-9][a-z0-9._:/-]*$/, 'a registry repository: [a-z0-9._:/-], starting with a letter or digit'),
  digest: z.string().regex(/^sha256:[a-f0-9]{64}$/, 'sha256:<64 lower-case hex digits>'),
});

export const ProcessesSchema = z
  .record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'process names are 1–64 of [A-Za-z0-9_-]'), z.array(z.string()).min(1, 'argv must not be empty'))
  .refine((p) => Object.keys(p).length > 0, 'at least one process');

export const VersionSchema: z.ZodType<VersionRecord> = z.looseObject({
  app: z.string(),
  version,
  sagaId: z.string(),
  status: VersionStatusSchema,
  allocatedAt: time,
  image: z.nullable(ImageRefSchema),
  configVersion: z.nullable(version),
  processes: z.nullable(ProcessesSchema),
  createdAt: nullableTime,
  updatedAt: time,
});

export const EnvSchema = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env names are [A-Za-z_][A-Za-z0-9_]*'), z.string());

/** Sealed secrets by env var name (src/secrets/sealed-secret.ts). */
export const SealedEnvSchema = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env names are [A-Za-z_][A-Za-z0-9_]*'), z.strictObject({ $secret: z.string() }));

export const ConfigVersionSchema: z.ZodType<ConfigVersionRecord> = z.looseObject({
  app: z.string(),
  version,
  env: EnvSchema,
  secrets: SealedEnvSchema.optional(),
  sagaId: z.string(),
  createdAt: time,
});

export const SandboxStateSchema = z.enum(Object.values(SandboxState) as [SandboxState, ...SandboxState[]]);
export const PortSchema = z.int().min(1).max(65_535);
export const PidSchema = z.int().min(1);

export const SandboxSchema: z.ZodType<SandboxRecord> = z.looseObject({
  id: z.string(),
  app: z.string(),
  version,
  state: SandboxStateSchema,
  port: z.nullable(PortSchema),
  pid: z.nullable(PidSchema),
  dir: z.string(),
  startedAt: time,
  sagaId: z.string(),
  updatedAt: time,
});

export const DeployLockSchema: z.ZodType<DeployLockRecord> = z.looseObject({
  app: z.string(),
  holder: z.string(),
  since: time,
  expiresAt: time,
  renewedAt: time,
  ttlMs: z.int().min(1),
});

export const AddonStateSchema = z.enum(Object.values(AddonState) as [AddonState, ...AddonState[]]);

/** Where an addon is and how an app reaches it: the fields a record and a saga's output share. */
export const AddonPlaceSchema = z.looseObject({
  app: z.string(),
  name: z.string(),
  kind: z.string(),
  role: z.string(),
  database: z.string(),
  host: z.string(),
  port: PortSchema,
  env: z.string(),
  url: z.strictObject({ $secret: z.string() }),
  createdBy: z.string(),
});

export const AddonSchema: z.ZodType<AddonRecord> = AddonPlaceSchema.extend({
  state: AddonStateSchema,
  createdAt: time,
  readyAt: nullableTime,
  updatedAt: time,
});

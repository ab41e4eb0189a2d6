/**
 * All the build saga's entities over one `KvStore`: apps, versions, config versions,
 * sandboxes, deployment locks and addons, each kind under its own key prefix (see entity-keys.ts).
 *
 * One bucket with prefixes rather than a bucket per kind: every kind wants the same settings
 * (history 1, the same replicas), no operation spans two keys atomically either way (NATS KV
 * has no multi-key transaction), and listing one kind — or one app's records of a kind — is a
 * prefix the server filters on whole tokens. One bucket is one stream (one Raft group under
 * R3) per namespace instead of five, and one thing to back up or inspect
 * (`nats kv ls <namespace>_entities`).
 */
import type { KvStore } from '../journal/kv-store.js';
import { MemoryKvStore } from '../journal/memory-kv-store.js';
import { silentLogger, type Logger } from '../log.js';
import { AddonStore } from './addons.js';
import { AppStore } from './apps.js';
import { ConfigVersionStore } from './config-versions.js';
import { DeployLock, type IsFinished } from './deploy-lock.js';
import { EntityKv } from './entity-kv.js';
import { SandboxStore } from './sandboxes.js';
import type { StoreContext } from './store-context.js';
import { VersionStore } from './versions.js';

/** The entity stores of one namespace, sharing one KV store, clock and logger. */
export interface EntityStores {
  readonly apps: AppStore;
  readonly versions: VersionStore;
  readonly configs: ConfigVersionStore;
  readonly sandboxes: SandboxStore;
  readonly locks: DeployLock;
  /** Addons of apps (PostgreSQL databases), shared by the app's deploys. */
  readonly addons: AddonStore;
  /** The store they all live in. */
  readonly kv: KvStore;
}

/** Options shared by every entity store. */
export interface EntityStoreOptions {
  /** Epoch ms (default `Date.now`); tests move it instead of sleeping. */
  readonly now?: () => number;
  readonly logger?: Logger;
  /** Default TTL of deployment locks (10 min). */
  readonly lockTtlMs?: number;
  /** Whether a saga is finished or unknown: its deployment locks may be taken over. */
  readonly isFinished?: IsFinished;
}

/** The entity stores over `kv` (any `KvStore`: memory, NATS KV, a wrapper in a test). */
export function createEntityStores(kv: KvStore, options: EntityStoreOptions = {}): EntityStores {
  const ctx: StoreContext = { kv: new EntityKv(kv), now: options.now ?? Date.now, logger: options.logger ?? silentLogger };
  const configs = new ConfigVersionStore(ctx);
  const versions = new VersionStore(ctx, configs);
  return {
    apps: new AppStore(ctx, versions),
    versions,
    configs,
    sandboxes: new SandboxStore(ctx),
    locks: new DeployLock(ctx, { ttlMs: options.lockTtlMs, isFinished: options.isFinished }),
    addons: new AddonStore(ctx),
    kv,
  };
}

/** The entity stores in memory, with the same behaviour as on NATS (tests, single-process use). */
export function memoryEntityStores(options: EntityStoreOptions = {}): EntityStores {
  return createEntityStores(new MemoryKvStore('entities'), options);
}

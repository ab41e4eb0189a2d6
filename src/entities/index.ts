/** The build saga's entities and deployment lock (see entity-stores.ts for the layout). */
export { createEntityStores, memoryEntityStores, type EntityStores, type EntityStoreOptions } from './entity-stores.js';
export { openEntityStores, entitiesBucket, type NatsEntityStoreOptions } from './nats-entity-stores.js';
export { AppStore, type SetActiveResult, type RestoreActiveResult } from './apps.js';
export { VersionStore, RECENT_CLAIMS, type NewVersion } from './versions.js';
export { ConfigVersionStore, type NewConfigVersion } from './config-versions.js';
export { AddonStore, type ClaimOutcome, type ClaimResult, type NewAddon } from './addons.js';
export { SandboxStore, type NewSandbox, type SandboxPatch } from './sandboxes.js';
export {
  DeployLock,
  DEFAULT_DEPLOY_LOCK_TTL_MS,
  type AcquireOptions,
  type AcquireResult,
  type DeployLockOptions,
  type IsFinished,
  type ReconcileReport,
  type ReleasedLock,
  type StealReason,
  type WaitForOptions,
} from './deploy-lock.js';
export { DeployLockedError, DeployLockLostError } from './deploy-lock-errors.js';
export { EntityErrorCode, EntityConflictError, EntityNotFoundError, EntitiesUnavailableError } from './entity-errors.js';
export { APP_NAME_PATTERN, SANDBOX_ID_PATTERN } from './names.js';
export { MAX_ENTITY_BYTES } from './entity-kv.js';
export {
  AddonState,
  type AddonRecord,
  SandboxState,
  VersionStatus,
  type AppRecord,
  type ConfigVersionRecord,
  type DeployLockRecord,
  type ImageRef,
  type Processes,
  type SandboxRecord,
  type VersionRecord,
} from './records.js';

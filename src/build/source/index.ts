/**
 * Source intake for the build saga: pack a directory (client side), keep the archive in the
 * object store, and stage it strictly into a per-build dir (the receive step). Everything the
 * other build steps need is exported here.
 */
export { extractSource, type ExtractOptions, type ExtractResult } from './safe-extract.js';
export { DEFAULT_EXTRACT_LIMITS, type ExtractLimits } from './extract-limits.js';
export { packDirectory, type PackOptions } from './pack-directory.js';
export { ALWAYS_IGNORED, DEFAULT_IGNORES, IGNORE_FILE, listPackedPaths, planPack, type PackEntry, type PackPlan, type PackSelectionOptions } from './pack-selection.js';
export { SourceStore, type PutSourceResult, type SourceData, type SourceInfo, type SourceStoreOptions } from './source-store.js';
export { assertSourceName, SOURCE_NAME_PATTERN, sourcesBucketName } from './source-names.js';
export {
  PENDING_CLEANUPS_FILE,
  StagingArea,
  type EnsureOptions,
  type RemoveOutcome,
  type StagedBuild,
  type StagedSource,
  type StagingAreaOptions,
} from './staging-area.js';
export type { PendingCleanup } from './pending-cleanups.js';
export {
  isSourceRejected,
  SourceChangedError,
  SourceCorruptError,
  SourceErrorCode,
  SourceRejectedError,
  UnknownSourceError,
} from './source-errors.js';

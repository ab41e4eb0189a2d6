/**
 * The library side of `jetsaga sagas replay`: replay a journal for people (`replaySaga`),
 * check a machine version against recorded journals (`checkReplay`), and move a saga's journal
 * around as a self-contained bundle (`exportBundle`, `parseBundle`, `replayBundle`).
 */
export { diffContext, type ContextChange } from './replay-diff.js';
export { replaySaga, replaySteps, type ReplayEffect, type ReplayEntryKind, type ReplayEvent, type ReplayOptions, type ReplayStep } from './replay-saga.js';
export { checkReplay, type CheckReplayArgs, type ReplayCheck, type ReplayOutcome } from './replay-check.js';
export { checkRecorded, type CheckRecordedArgs, type RecordedCheck, type RecordedFacts } from './replay-recorded.js';
export {
  BUNDLE_FORMAT,
  BUNDLE_VERSION,
  definitionFor,
  exportBundle,
  parseBundle,
  replayBundle,
  type BundleSagaInfo,
  type SagaBundle,
} from './replay-bundle.js';

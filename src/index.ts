/** jetsaga's public API. Anything not exported here is internal and may change. */
export { createRuntime, type RuntimeOptions } from './runtime/create-runtime.js';
export type { Runtime, JournalView } from './runtime/runtime.js';
export { memoryStores, type RuntimeStores } from './runtime/stores.js';
export { openNatsStores, natsNames, type NatsStoreOptions } from './runtime/nats-stores.js';
export type {
  SagaBinding,
  SagaDefinition,
  SagaInfo,
  SagaStatus,
  SagaSummary,
  SendResult,
  StepContext,
  StepFn,
  TransitionNotice,
  RecoveryReport,
} from './runtime/types.js';
export { SagaStatus as SagaStatuses } from './journal/index-store.js';
export * from './errors.js';
export { createLogger, type Logger } from './log.js';
export { connectNats } from './nats/connect.js';
export * from '../machines/kit/index.js';

/** jetsaga's public API. Anything not exported here is internal and may change. */
export { createRuntime, type RuntimeOptions } from './runtime/create-runtime.js';
export type { Runtime, JournalView } from './runtime/runtime.js';
export { memoryStores, type RuntimeStores } from './runtime/stores.js';
export { defineSteps, type UndoInput } from './runtime/define-steps.js';
export { openNatsStores, natsNames, type NatsStoreOptions } from './runtime/nats-stores.js';
export { childSagaId } from './runtime/child-id.js';
export type {
  ChildInfo,
  SagaBinding,
  SagaDefinition,
  SagaInfo,
  SagaStatus,
  SagaSummary,
  SendOptions,
  SendResult,
  StepContext,
  StepFn,
  TransitionNotice,
  RecoveryReport,
} from './runtime/types.js';
export { SagaStatus as SagaStatuses } from './journal/index-store.js';
export * from './errors.js';
export { createLogger, type Logger } from './log.js';
export { connectNats, type ConnectNatsOptions } from './nats/connect.js';
export { loadNatsAuth, NatsAuthSettingError, type NatsAuth, type NatsAuthSettings } from './nats/nats-auth.js';
export * from '../machines/kit/index.js';
export type { ReadinessSource } from './runtime/readiness-gate.js';
export { BootGraph, type DependencyStatus, type BootGraphOptions } from './boot/boot-graph.js';
export { planBoot, BootGraphError, UnknownDependencyError, type BootDependency, type BootHookContext, type BootPlan } from './boot/graph.js';
export { ReadinessBus, readReadiness, type ReadinessRecord } from './boot/readiness-bus.js';
export { NameMap } from './boot/name-map.js';
export { MissingBinaryError } from './boot/missing-binary-error.js';
export { Coordinator, type CoordinatorOptions } from './coordinator.js';
export { Dep as CoordinatorDependency } from './boot/coordinator-graph.js';
export { loadConfig, ConfigError, CONFIG_ENV, type CoordinatorConfig, type ConfigInput } from './config.js';
export { BootState, bootDependencyMachine } from '../machines/boot.machine.js';
export { type CoordinatorBuildOptions } from './coordinator.js';
export {
  buildMachine,
  buildMachineV2,
  BUILD_MACHINE_ID,
  BUILD_MACHINE_RESUMES_FROM,
  BUILD_MACHINE_V2_RESUMES_FROM,
  BUILD_MACHINE_V2_VERSION,
  BUILD_MACHINE_VERSION,
  type BuildInput,
} from '../machines/build.machine.js';
export { rollbackMachine, ROLLBACK_MACHINE_ID, ROLLBACK_MACHINE_VERSION, type RollbackInput } from '../machines/rollback.machine.js';
export { postgresAddonMachine, POSTGRES_ADDON_MACHINE_ID, POSTGRES_ADDON_MACHINE_VERSION, type PostgresAddonInput, type PostgresAddonRequest } from '../machines/postgres-addon.machine.js';
export { AddonErrorCode, AddonKind, addonEnvName, provisionedAddonsOf, withAddonSecrets, type AddonsReady, type ProvisionedAddon } from './addons/index.js';
export { deploy, newBuildId, type DeployRequest, type DeployStarted } from './build/deploy.js';
export { BuildHost, type BuildHostOptions } from './build/build-host.js';
export { ProgressLog, type ProgressEvent, type ProgressRecord } from './build/progress.js';
export { followBuild } from './build/follow-build.js';
export { SourceStore, packDirectory } from './build/source/index.js';
export { LocalSandboxController, type SandboxController, type SandboxSpec } from './sandbox/index.js';
export { RegistryClient, buildImage, pushImage, pullImage, RegistryUnavailableError, RegistryRejectedError } from './build/image/index.js';
export {
  replaySaga,
  replaySteps,
  checkReplay,
  checkRecorded,
  diffContext,
  exportBundle,
  parseBundle,
  replayBundle,
  type ReplayStep,
  type ReplayEffect,
  type ReplayCheck,
  type RecordedCheck,
  type SagaBundle,
} from './runtime/replay.js';
export type { ForkOptions, ForkResult } from './runtime/saga-forker.js';
export type { ForkPlan, ForkStep, ForkResultEntry } from './runtime/fork-plan.js';
export { ForkErrorCode, SagaActiveError, ForkPointFinalError } from './runtime/fork-errors.js';
export type { SagaCheck } from './runtime/saga-check.js';
export { JetsagaClient, startService, type JetsagaClientOptions, type ClientDeployRequest, type FollowOptions, type FollowStatus } from './service/index.js';
export { RetentionSweeper, DEFAULT_RETAIN_MS, type RetentionOptions, type SweepReport } from './runtime/retention.js';
export { JetsagaMetrics, type MetricsSources } from './metrics/jetsaga-metrics.js';
export { startMetricsServer, type MetricsServerHandle } from './metrics/metrics-server.js';
export { parseDuration, formatDuration } from './util/duration.js';

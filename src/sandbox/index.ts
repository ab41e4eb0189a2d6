/** The sandbox module's public surface: the controller contract, its local implementation and its errors. */
export {
  SANDBOX_ID,
  STATIC_SERVER_COMMAND,
  sandboxUrl,
  type SandboxController,
  type SandboxHandle,
  type SandboxSpec,
  type SandboxState,
  type SandboxStatus,
  type StartOptions,
  type StopOptions,
} from './controller.js';
export { LocalSandboxController, type LocalSandboxControllerOptions } from './local-controller.js';
export { parseSandboxSpec, checkSandboxId } from './sandbox-spec.js';
export {
  SandboxErrorCode,
  SandboxExitedError,
  SandboxUnhealthyError,
  SandboxStartFailedError,
  SandboxConflictError,
  SandboxStoppedError,
} from './sandbox-errors.js';
export { startStaticServer, type StaticServer } from './static-server.js';

/**
 * What runs a deployed version: the contract between the deploy saga and whatever executes an
 * unpacked image. `LocalSandboxController` runs it as local processes; a container runtime can
 * implement the same interface. Everything here is plain data, small enough to journal.
 */

/** Ids are used as file names (the sandbox's log) and in subjects, so they are kept plain. */
export const SANDBOX_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** The command that runs jetsaga's built-in static file server on the working dir. */
export const STATIC_SERVER_COMMAND = 'jetsaga-static';

/** What to run. Validated by `parseSandboxSpec`; anything else is INVALID_ARGUMENT. */
export interface SandboxSpec {
  /** `[A-Za-z0-9_-]{1,128}`; one sandbox per id in a controller. */
  id: string;
  /** The unpacked image rootfs (an absolute host path to a directory). */
  rootDir: string;
  /** Absolute path inside the image, e.g. `/app`; must stay inside `rootDir`. */
  workingDir: string;
  /** argv; `['jetsaga-static']` runs the built-in static file server on `workingDir`. */
  command: string[];
  /** Added to the sandbox's minimal environment; `PORT` and `HOST` are the controller's. */
  env: Record<string, string>;
  /** Loopback port to serve on; a free one is picked when absent. */
  port?: number;
  /** HTTP health check; without it the sandbox is ready once its port accepts connections. */
  health?: { path: string; timeoutMs?: number };
}

/** A started, healthy sandbox. */
export interface SandboxHandle {
  id: string;
  port: number;
  /** The process that runs the command; it leads the sandbox's process group. */
  pid: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
}

/**
 * `starting` until healthy, `running` once `start` resolved, `stopping` during `stop`, and
 * `exited` when the process ended without being stopped (its `exit` says how). A stopped
 * sandbox, and one whose start failed, is no longer listed.
 */
export type SandboxState = 'starting' | 'running' | 'stopping' | 'exited';

export interface SandboxStatus {
  id: string;
  state: SandboxState;
  /** 0 until a port has been picked. */
  port: number;
  /** Absent until the process has been spawned. */
  pid?: number;
  url: string;
  /** ISO time `start` was called. */
  startedAt: string;
  /** Where the sandbox's stdout and stderr go (one rotated file `<logFile>.1` is kept), once opened. */
  logFile?: string;
  /** How the process ended, once it has. */
  exit?: { code: number | null; signal: string | null };
}

export interface StartOptions {
  /** Aborting kills the half-started sandbox; `start` then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface StopOptions {
  /** Time between SIGTERM and SIGKILL to the process group (the controller's default otherwise). */
  graceMs?: number;
}

/**
 * Runs sandboxes. `start` is idempotent per id and spec (a repeated start of a running or
 * starting sandbox answers with it; another spec under that id is SANDBOX_CONFLICT), resolves
 * only once the sandbox is healthy, and leaves nothing running when it fails. `stop` is
 * idempotent and safe for an id that never started.
 */
export interface SandboxController {
  start(spec: SandboxSpec, options?: StartOptions): Promise<SandboxHandle>;
  stop(id: string, options?: StopOptions): Promise<void>;
  status(id: string): SandboxStatus | undefined;
  list(): SandboxStatus[];
  /** Stops every sandbox; later starts are refused with CLOSED. Idempotent. */
  close(): Promise<void>;
}

/** The URL of a sandbox on `port`: loopback only, always. */
export function sandboxUrl(port: number): string {
  return `http://127.0.0.1:${port}`;
}

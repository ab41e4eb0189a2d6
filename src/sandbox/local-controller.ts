/**
 * Runs sandboxes as local processes, the way a cluster node would run containers: each one in
 * its own process group, with cwd = the working dir inside the unpacked image, a minimal
 * environment (`sandbox-env.ts`), `PORT` and `HOST=127.0.0.1`, its output in a capped log file,
 * and a health check that `start` waits for. Apps must listen on `HOST`:`PORT`; the controller
 * only ever talks to loopback.
 *
 * This is isolation by convention, not a security boundary: the app runs as the coordinator's
 * user, sees the host's file system and runs the host's programs (`node`, `python3`). A
 * container runtime can replace it behind `SandboxController`.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isListening, PortInUseError } from '../boot/port-probe.js';
import { ClosedError, InvalidArgumentError } from '../errors.js';
import type { Logger } from '../log.js';
import { canonicalJson } from '../util/canonical-json.js';
import { linkedSignal } from '../util/linked-signal.js';
import { CappedLogFile, DEFAULT_LOG_MAX_BYTES } from './capped-log-file.js';
import {
  sandboxUrl,
  STATIC_SERVER_COMMAND,
  type SandboxController,
  type SandboxHandle,
  type SandboxSpec,
  type SandboxState,
  type SandboxStatus,
  type StartOptions,
  type StopOptions,
} from './controller.js';
import { freeLoopbackPort } from './free-port.js';
import { waitHealthy } from './health-check.js';
import { resolveWorkingDir } from './resolve-in-root.js';
import { sandboxEnv } from './sandbox-env.js';
import { SandboxConflictError, SandboxExitedError, SandboxStartFailedError, SandboxStoppedError, SandboxUnhealthyError } from './sandbox-errors.js';
import { spawnSandboxProcess, type ProcessExit, type SandboxProcess } from './sandbox-process.js';
import { checkSandboxId, parseSandboxSpec } from './sandbox-spec.js';
import { staticServerCommand } from './static-command.js';

export interface LocalSandboxControllerOptions {
  logger: Logger;
  /**
   * Where each sandbox's output goes (`<logDir>/<id>.log`, plus `<id>.log.1` after rotation);
   * kept after `close`. Without it, a private temp dir is used and removed by `close`.
   */
  logDir?: string;
  /** Largest size of one log file; default 1 MiB (so at most 2 MiB per sandbox). */
  logMaxBytes?: number;
  /** `stop`'s time between SIGTERM and SIGKILL when not given; default 10 s. */
  stopGraceMs?: number;
  /** How long `start` waits for health when the spec does not say; default 30 s. */
  startTimeoutMs?: number;
}

const DEFAULT_STOP_GRACE_MS = 10_000;
const DEFAULT_START_TIMEOUT_MS = 30_000;
/** A sandbox that failed to start is unhealthy anyway: it gets a short grace. */
const FAILED_START_GRACE_MS = 2_000;
const MAX_GRACE_MS = 3_600_000;

interface Entry {
  readonly spec: SandboxSpec;
  /** The spec as canonical JSON: a repeated start is recognised by it. */
  readonly key: string;
  readonly startedAt: string;
  readonly log: Logger;
  /** Aborted by `stop`: ends a start in progress. */
  readonly abort: AbortController;
  state: SandboxState;
  port: number | undefined;
  /** Whether `port` is this entry's in the controller's set (to be freed by its teardown). */
  portReserved: boolean;
  logFile?: string;
  proc?: SandboxProcess;
  exit?: ProcessExit;
  logWriter?: CappedLogFile;
  starting?: Promise<SandboxHandle>;
  stopping?: Promise<void>;
  tearingDown?: Promise<void>;
  stopGraceMs?: number;
}

/** See the module comment. */
export class LocalSandboxController implements SandboxController {
  private readonly logger: Logger;
  private readonly logMaxBytes: number;
  private readonly stopGraceMs: number;
  private readonly startTimeoutMs: number;
  private readonly entries = new Map<string, Entry>();
  /** Ports of this controller's sandboxes, starting ones included, so two never share one. */
  private readonly ports = new Set<number>();
  private logDir: Promise<string> | undefined;
  private readonly ownsLogDir: boolean;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: LocalSandboxControllerOptions) {
    this.logger = options.logger.child({ component: 'sandbox' });
    this.logMaxBytes = checkPositive(options.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES, 'logMaxBytes');
    this.stopGraceMs = checkGrace(options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS, 'stopGraceMs');
    this.startTimeoutMs = checkPositive(options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS, 'startTimeoutMs');
    this.ownsLogDir = options.logDir === undefined;
    if (options.logDir !== undefined) {
      const dir = options.logDir;
      this.logDir = mkdir(dir, { recursive: true, mode: 0o700 }).then(() => dir);
      // Surfaced by the first start that needs the dir, not as an unhandled rejection now.
      this.logDir.catch(() => undefined);
    }
  }

  async start(input: SandboxSpec, options: StartOptions = {}): Promise<SandboxHandle> {
    const spec = parseSandboxSpec(input);
    const key = canonicalJson(spec);
    for (;;) {
      if (this.closed) throw new ClosedError('sandbox controller');
      const existing = this.entries.get(spec.id);
      if (!existing) break;
      if (existing.state === 'starting' || existing.state === 'running') {
        // At-least-once callers repeat their start: the same spec is the same sandbox.
        if (existing.key !== key) throw new SandboxConflictError(spec.id);
        return existing.starting!;
      }
      // Stopping, or exited on its own: let it finish going, then start afresh.
      await this.stop(spec.id);
    }
    const log = this.logger.child({ sandbox: spec.id });
    const entry: Entry = {
      spec,
      key,
      startedAt: new Date().toISOString(),
      log,
      abort: new AbortController(),
      state: 'starting',
      port: spec.port,
      portReserved: false,
    };
    this.entries.set(spec.id, entry);
    entry.starting = this.launch(entry, options.signal);
    return entry.starting;
  }

  stop(id: string, options: StopOptions = {}): Promise<void> {
    let graceMs: number;
    try {
      checkSandboxId(id);
      graceMs = checkGrace(options.graceMs ?? this.stopGraceMs, 'graceMs');
    } catch (err) {
      return Promise.reject(err);
    }
    // Not async: concurrent calls get the very same promise.
    const entry = this.entries.get(id);
    if (!entry) return Promise.resolve();
    entry.stopping ??= (async () => {
      const wasStarting = entry.state === 'starting';
      entry.state = 'stopping';
      entry.stopGraceMs = graceMs;
      entry.abort.abort(new SandboxStoppedError(id));
      // A start in progress sees the abort and tears down itself; wait for it.
      if (wasStarting) await entry.starting?.catch(() => undefined);
      await this.teardown(entry, graceMs);
      if (this.entries.get(id) === entry) this.entries.delete(id);
      entry.log.info({ exit: entry.exit }, 'sandbox stopped');
    })();
    return entry.stopping;
  }

  status(id: string): SandboxStatus | undefined {
    checkSandboxId(id);
    const entry = this.entries.get(id);
    return entry && toStatus(entry);
  }

  list(): SandboxStatus[] {
    return [...this.entries.values()].map(toStatus).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      await Promise.all([...this.entries.keys()].map((id) => this.stop(id)));
      if (this.ownsLogDir && this.logDir) {
        const dir = await this.logDir.catch(() => undefined);
        if (dir) await rm(dir, { recursive: true, force: true });
      }
    })();
    return this.closing;
  }

  /** Everything `start` does once the entry is registered; on any failure nothing is left running. */
  private async launch(entry: Entry, signal: AbortSignal | undefined): Promise<SandboxHandle> {
    const { spec, log } = entry;
    const linked = signal ? linkedSignal(entry.abort.signal, signal) : undefined;
    const aborted = linked?.signal ?? entry.abort.signal;
    try {
      const workDir = await resolveWorkingDir(spec.id, spec.rootDir, spec.workingDir);
      aborted.throwIfAborted();
      const port = await this.allocatePort(entry);
      entry.logWriter = await this.openLog(entry);
      aborted.throwIfAborted();

      const argv = spec.command[0] === STATIC_SERVER_COMMAND ? staticServerCommand(workDir) : { bin: spec.command[0]!, args: spec.command.slice(1) };
      entry.logWriter.write(`--- jetsaga: sandbox ${spec.id} starting at ${entry.startedAt} on port ${port}: ${JSON.stringify(spec.command)} ---`);
      const env = sandboxEnv({ specEnv: spec.env, port, workDir, hostPath: process.env.PATH });
      const proc = await spawnSandboxProcess({ sandboxId: spec.id, bin: argv.bin, args: argv.args, cwd: workDir, env, logger: log, logFile: entry.logWriter });
      entry.proc = proc;
      void proc.exited.then((exit) => this.onExit(entry, exit));
      aborted.throwIfAborted();

      const timeoutMs = spec.health?.timeoutMs ?? this.startTimeoutMs;
      const outcome = await waitHealthy({ port, path: spec.health?.path, timeoutMs, exited: proc.exited, signal: aborted });
      aborted.throwIfAborted();
      if (outcome.kind === 'exited') throw new SandboxExitedError(spec.id, await proc.exited, proc.recentOutput(), proc.pid);
      if (outcome.kind === 'timeout') throw new SandboxUnhealthyError(spec.id, timeoutMs, outcome.lastProbe, proc.recentOutput(), proc.pid);
      // It answered and then died at once: report that, not a running sandbox that is not.
      if (!proc.running) throw new SandboxExitedError(spec.id, await proc.exited, proc.recentOutput(), proc.pid);
      entry.state = 'running';
      log.info({ port, pid: proc.pid, workDir, logFile: entry.logFile }, 'sandbox started');
      return { id: spec.id, port, pid: proc.pid, url: sandboxUrl(port) };
    } catch (err) {
      log.warn({ err }, 'sandbox did not start');
      await this.teardown(entry, entry.stopGraceMs ?? FAILED_START_GRACE_MS);
      if (this.entries.get(spec.id) === entry) this.entries.delete(spec.id);
      throw err;
    } finally {
      linked?.dispose();
    }
  }

  private async allocatePort(entry: Entry): Promise<number> {
    const wanted = entry.spec.port;
    if (wanted !== undefined) {
      // Otherwise the health check could be answered by whoever already holds the port.
      if (this.ports.has(wanted) || (await isListening('127.0.0.1', wanted, 500))) {
        throw new PortInUseError('127.0.0.1', wanted, `sandbox "${entry.spec.id}"`);
      }
      this.ports.add(wanted);
      entry.portReserved = true;
      return wanted;
    }
    const port = await freeLoopbackPort(this.ports);
    this.ports.add(port);
    entry.port = port;
    entry.portReserved = true;
    return port;
  }

  private async openLog(entry: Entry): Promise<CappedLogFile> {
    try {
      this.logDir ??= mkdtemp(join(tmpdir(), 'jetsaga-sandbox-logs-'));
      entry.logFile = join(await this.logDir, `${entry.spec.id}.log`);
      return await CappedLogFile.open(entry.logFile, { maxBytes: this.logMaxBytes, logger: entry.log });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new SandboxStartFailedError(entry.spec.id, `cannot open its log file: ${message}`, { cause: err, details: { logFile: entry.logFile } });
    }
  }

  /** An exit nobody asked for: keep the sandbox listed as exited and clear what is left of its group. */
  private onExit(entry: Entry, exit: ProcessExit): void {
    entry.exit = exit;
    if (entry.state !== 'running') return;
    entry.state = 'exited';
    entry.log.warn({ ...exit, output: entry.proc?.recentOutput().slice(-5) }, 'sandbox exited on its own');
    void this.teardown(entry, FAILED_START_GRACE_MS);
  }

  /** Ends the group, closes the log and frees the port. Idempotent; safe before anything started. */
  private teardown(entry: Entry, graceMs: number): Promise<void> {
    entry.tearingDown ??= (async () => {
      await entry.proc?.stop(graceMs);
      await entry.logWriter?.close();
      if (entry.portReserved && entry.port !== undefined) this.ports.delete(entry.port);
      entry.portReserved = false;
    })();
    return entry.tearingDown;
  }
}

function toStatus(entry: Entry): SandboxStatus {
  const port = entry.port ?? 0;
  const status: SandboxStatus = { id: entry.spec.id, state: entry.state, port, url: sandboxUrl(port), startedAt: entry.startedAt };
  if (entry.logFile !== undefined) status.logFile = entry.logFile;
  if (entry.proc) status.pid = entry.proc.pid;
  if (entry.exit) status.exit = { code: entry.exit.code, signal: entry.exit.signal };
  return status;
}

function checkPositive(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${what} must be a positive integer`, { [what]: n });
  return n;
}

function checkGrace(ms: number, what: string): number {
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_GRACE_MS) throw new InvalidArgumentError(`${what} must be an integer from 0 to ${MAX_GRACE_MS}`, { [what]: ms });
  return ms;
}

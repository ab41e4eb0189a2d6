/**
 * One sandbox's process: spawned in a group of its own, its output written line by line to the
 * sandbox's log file and to the logger (debug), the last lines kept for error messages, and a
 * `stop` that ends the whole group: SIGTERM, then SIGKILL after a grace period for members
 * that are still alive (a worker that ignores SIGTERM, a grandchild the app forked).
 *
 * A process that leaves the group on purpose (`setsid`, a double-forking daemon) escapes it;
 * only a container runtime's cgroup could catch those.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log.js';
import type { CappedLogFile } from './capped-log-file.js';
import { startGroupWatchdog, stopGroupWatchdog, trackGroup, untrackGroup } from './group-watchdog.js';
import { groupAlive, signalGroup } from './process-group.js';
import { SandboxStartFailedError } from './sandbox-errors.js';
import { spawned } from '../util/spawned.js';

export interface SandboxProcessOptions {
  sandboxId: string;
  bin: string;
  args: readonly string[];
  cwd: string;
  env: Record<string, string>;
  logger: Logger;
  logFile: CappedLogFile;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SandboxProcess {
  /** The leader's pid, which is also the group id. */
  readonly pid: number;
  /** Resolves once the leader has exited and its output has been read. Never rejects. */
  readonly exited: Promise<ProcessExit>;
  /** Whether the leader runs (other members may outlive it; `stop` ends those too). */
  readonly running: boolean;
  /** The last lines of stdout and stderr, interleaved, oldest first. */
  recentOutput(): string[];
  /**
   * Ends every process of the group: SIGTERM, then SIGKILL after `graceMs` to those still
   * alive. Resolves once none is (or, should SIGKILL not work, after a bounded wait, with an
   * error logged). Idempotent: later calls share the first.
   */
  stop(graceMs: number): Promise<void>;
}

const TAIL_LINES = 20;
const MAX_TAIL_LINE = 2_000;
/** Longer lines are cut into pieces: an app that never prints a newline must not fill our memory. */
const MAX_LINE = 64 * 1024;
/** 'close' normally follows 'exit' at once; a member holding the pipes must not hang us. */
const CLOSE_WAIT_MS = 500;
/** After SIGKILL the kernel ends a process at once, unless it sits in an uninterruptible wait. */
const KILL_WAIT_MS = 5_000;
const POLL_MS = 50;

/** Spawns the command; rejects with SANDBOX_START_FAILED if it cannot be run at all. */
export async function spawnSandboxProcess(options: SandboxProcessOptions): Promise<SandboxProcess> {
  const { sandboxId, logger: log, logFile } = options;
  const child = spawn(options.bin, [...options.args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // A new session and group: `stop` signals the group, and Ctrl-C in the coordinator's
    // terminal does not reach the app behind the coordinator's back.
    detached: true,
  });
  try {
    await spawned(child);
  } catch (err) {
    throw await spawnFailure(options, err);
  }
  const pid = child.pid!;
  // After a successful spawn 'error' only reports failed kill() calls; unhandled, it would crash us.
  child.on('error', (err) => log.warn({ err }, 'signal delivery failed'));
  trackGroup(pid);
  const watchdog = startGroupWatchdog(sandboxId, pid, log);

  const tail: string[] = [];
  const onLine = (stream: 'stdout' | 'stderr', line: string): boolean => {
    tail.push(line.length > MAX_TAIL_LINE ? `${line.slice(0, MAX_TAIL_LINE)}…` : line);
    if (tail.length > TAIL_LINES) tail.shift();
    log.debug({ stream }, line);
    return logFile.write(line);
  };
  const stdout = child.stdout!;
  const stderr = child.stderr!;
  readLines(stdout, (l) => onLine('stdout', l), logFile);
  readLines(stderr, (l) => onLine('stderr', l), logFile);
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));

  let running = true;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      const result: ProcessExit = { code, signal };
      void within(closed, CLOSE_WAIT_MS).then(() => resolve(result));
    });
  });

  let stopping: Promise<void> | undefined;
  const stop = (graceMs: number): Promise<void> =>
    (stopping ??= (async () => {
      if (groupAlive(pid)) {
        signalGroup(pid, 'SIGTERM');
        if (!(await waitUntil(() => !groupAlive(pid), graceMs))) {
          log.warn({ graceMs }, 'sandbox processes ignored SIGTERM; sending SIGKILL');
          signalGroup(pid, 'SIGKILL');
          if (!(await waitUntil(() => !groupAlive(pid), KILL_WAIT_MS))) log.error({ pgid: pid }, 'sandbox processes survived SIGKILL');
        }
      }
      // The leader is our child: its exit is reported once it is reaped, right after it dies.
      await within(exited, KILL_WAIT_MS);
      stopGroupWatchdog(watchdog);
      untrackGroup(pid);
      await within(closed, CLOSE_WAIT_MS);
      // A process that left the group could still hold the pipes: do not keep them open for it.
      stdout.destroy();
      stderr.destroy();
    })());

  log.debug({ childPid: pid, bin: options.bin, args: options.args }, 'sandbox process started');
  return {
    pid,
    exited,
    get running() {
      return running;
    },
    recentOutput: () => [...tail],
    stop,
  };
}

/**
 * Waits for `p` at most `ms`; answers whether it settled in time. The timer is cleared either
 * way, so that a stopped sandbox leaves nothing to keep the coordinator's event loop alive.
 */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `cond` every 50 ms for up to `timeoutMs`; answers whether it came true. */
async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
  }
  return true;
}

/** Splits a pipe into lines; pauses it while the log file is behind (see CappedLogFile). */
function readLines(stream: Readable, onLine: (line: string) => boolean, logFile: CappedLogFile): void {
  let buf = '';
  let behind = false;
  const emit = (line: string): void => {
    if (!onLine(line)) behind = true;
  };
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      emit(buf.slice(0, nl).replace(/\r$/, ''));
      buf = buf.slice(nl + 1);
    }
    while (buf.length > MAX_LINE) {
      emit(buf.slice(0, MAX_LINE));
      buf = buf.slice(MAX_LINE);
    }
    if (behind) {
      behind = false;
      stream.pause();
      logFile.onDrain(() => stream.resume());
    }
  });
  stream.on('end', () => {
    if (buf) emit(buf);
    buf = '';
  });
  stream.on('error', () => undefined);
}

/** ENOENT/EACCES from spawn: say which program, where it was looked for and why it did not run. */
async function spawnFailure(options: SandboxProcessOptions, err: unknown): Promise<Error> {
  const code = (err as NodeJS.ErrnoException).code;
  const message = err instanceof Error ? err.message : String(err);
  const details = { command: options.bin, cwd: options.cwd, errno: code };
  if (code !== 'ENOENT' && code !== 'EACCES') return new SandboxStartFailedError(options.sandboxId, `cannot run ${options.bin}: ${message}`, { cause: err, details });
  if (!options.bin.includes('/')) {
    return new SandboxStartFailedError(options.sandboxId, `command ${options.bin} not found on PATH (${options.env.PATH ?? ''})`, { cause: err, details });
  }
  const path = isAbsolute(options.bin) ? options.bin : resolvePath(options.cwd, options.bin);
  const st = await stat(path).catch(() => undefined);
  const executable = st?.isFile() && (await access(path, constants.X_OK).then(() => true, () => false));
  const why = !st ? 'does not exist' : executable ? `cannot be run (${code}; check its #! line)` : 'is not an executable file';
  return new SandboxStartFailedError(options.sandboxId, `command ${options.bin} (${path}) ${why}`, { cause: err, details });
}

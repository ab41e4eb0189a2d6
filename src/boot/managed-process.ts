/**
 * A child process the coordinator owns (nats-server, docker-registry): its output goes to the
 * logger, `stop()` escalates from SIGTERM to SIGKILL, and it never outlives the coordinator.
 * Orphan safety has two layers: a synchronous kill on the parent's `exit` event (covers normal
 * exits and uncaught errors), and a detached shell watchdog per child that kills it when the
 * parent has vanished (covers SIGKILL and signals without a handler, where no JS runs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { SagaError } from '../errors.js';
import type { Logger } from '../log.js';
import { MissingBinaryError } from './missing-binary-error.js';
import { spawned } from '../util/spawned.js';

export interface SpawnManagedOptions {
  /** Short name for logs and errors, e.g. `nats-server`. */
  name: string;
  bin: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  logger: Logger;
  /** How to get the binary; appended to MissingBinaryError's message. */
  installHint?: string;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves once the process has exited and its output has been read. Never rejects. */
  readonly exited: Promise<ProcessExit>;
  readonly running: boolean;
  /** The last lines of stdout and stderr (interleaved, oldest first). */
  recentOutput(): string[];
  /** SIGTERM, then SIGKILL after `timeoutMs` (default 10 s). Idempotent: later calls share the first. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
  /** Sends a signal (default SIGKILL) if still running; does not wait. */
  kill(signal?: NodeJS.Signals): void;
}

export const PROCESS_EXITED = 'PROCESS_EXITED';

/** The process ended while the caller still needed it (typically during start-up). */
export class ProcessExitedError extends SagaError {
  override name = 'ProcessExitedError';

  constructor(
    readonly processName: string,
    readonly exit: ProcessExit,
    readonly output: readonly string[],
  ) {
    const how = exit.signal ? `signal ${exit.signal}` : `code ${String(exit.code)}`;
    const tail = output.length ? `; last output:\n${output.join('\n')}` : '; it printed nothing';
    super(PROCESS_EXITED, `${processName} exited during start-up (${how})${tail}`, {
      status: 503,
      retryable: false,
      details: { name: processName, code: exit.code, signal: exit.signal, output: [...output] },
    });
  }
}

/** Builds the ProcessExitedError for a process, once its exit (and final output) is known. */
export async function exitedError(proc: ManagedProcess): Promise<ProcessExitedError> {
  const exit = await proc.exited;
  return new ProcessExitedError(proc.name, exit, proc.recentOutput());
}

const TAIL_LINES = 20;
const MAX_LINE_CHARS = 2_000;
/** 'close' (all output read) normally follows 'exit' at once; a grandchild holding the pipe must not hang us. */
const CLOSE_WAIT_MS = 500;
const DEFAULT_STOP_MS = 10_000;
/** How long the watchdog lets an orphaned child shut down after SIGTERM before SIGKILL, in tenths of a second. */
const WATCHDOG_GRACE_TENTHS = 50;

export async function spawnManaged(options: SpawnManagedOptions): Promise<ManagedProcess> {
  installExitHook();
  const log = options.logger.child({ proc: options.name });
  const child = spawn(options.bin, [...options.args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: Ctrl-C in a terminal signals the whole foreground group, and the
    // server must outlive the coordinator's graceful stop (which still needs it), then be
    // stopped by it, in order.
    detached: true,
  });
  try {
    await spawned(child);
  } catch (err) {
    throw await spawnFailure(options, err);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.name} (${options.bin}) started without a pid`);
  // After a successful spawn 'error' only reports failed kill() calls; an unhandled one would crash us.
  child.on('error', (err) => log.warn({ err }, 'signal delivery failed'));
  live.add(child);
  const watchdog = startWatchdog(options.name, pid, log);

  const tail: string[] = [];
  const onLine = (stream: 'stdout' | 'stderr', raw: string): void => {
    const line = raw.length > MAX_LINE_CHARS ? `${raw.slice(0, MAX_LINE_CHARS)}…` : raw;
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    log.debug({ stream }, line);
  };
  if (child.stdout) readLines(child.stdout, (l) => onLine('stdout', l));
  if (child.stderr) readLines(child.stderr, (l) => onLine('stderr', l));

  let running = true;
  let stopping: Promise<void> | undefined;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      live.delete(child);
      stopWatchdog(watchdog);
      const result: ProcessExit = { code, signal };
      const timer = setTimeout(() => resolve(result), CLOSE_WAIT_MS);
      child.once('close', () => {
        clearTimeout(timer);
        resolve(result);
      });
    });
  });
  void exited.then((result) => {
    // An exit nobody asked for is worth a warning with the reason the process gave.
    if (stopping) log.debug(result, 'process exited');
    else log.warn({ ...result, output: tail.slice(-5) }, 'process exited unexpectedly');
  });
  log.debug({ childPid: pid, args: options.args }, 'process started');

  return {
    name: options.name,
    pid,
    exited,
    get running() {
      return running;
    },
    recentOutput: () => [...tail],
    stop({ timeoutMs = DEFAULT_STOP_MS } = {}) {
      stopping ??= (async () => {
        if (!running) {
          await exited;
          return;
        }
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          if (!running) return;
          log.warn({ timeoutMs }, 'process ignored SIGTERM; sending SIGKILL');
          child.kill('SIGKILL');
        }, timeoutMs);
        try {
          await exited;
        } finally {
          clearTimeout(timer);
        }
      })();
      return stopping;
    },
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (running) child.kill(signal);
    },
  };
}

function readLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, nl).replace(/\r$/, ''));
      buf = buf.slice(nl + 1);
    }
    // A process that never prints a newline must not grow our memory without bound.
    if (buf.length > 64 * 1024) {
      onLine(buf);
      buf = '';
    }
  });
  stream.on('end', () => {
    if (buf) onLine(buf);
    buf = '';
  });
}

/** ENOENT/EACCES from spawn usually mean a missing binary, but also a missing cwd or a bad shebang. */
async function spawnFailure(options: SpawnManagedOptions, err: unknown): Promise<Error> {
  const code = (err as NodeJS.ErrnoException).code;
  const base = err instanceof Error ? err : new Error(String(err));
  if (code !== 'ENOENT' && code !== 'EACCES') return base;
  const problem = await binaryProblem(options.bin, options.cwd);
  if (!problem) return new Error(`could not start ${options.name} (${options.bin}): ${base.message}`, { cause: err });
  return new MissingBinaryError(options.name, options.bin, { hint: options.installHint, reason: problem, cause: err });
}

async function binaryProblem(bin: string, cwd: string | undefined): Promise<'missing' | 'not-executable' | undefined> {
  // A bare name was looked up on PATH by spawn itself; ENOENT means no copy there.
  if (!bin.includes('/')) return 'missing';
  const path = resolvePath(cwd ?? '.', bin);
  try {
    if (!(await stat(path)).isFile()) return 'not-executable';
    await access(path, constants.X_OK);
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : 'not-executable';
  }
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Only synchronous work is possible here. SIGTERM rather than SIGKILL lets nats-server close
  // its store cleanly; the watchdog, which outlives us, escalates to SIGKILL if it lingers.
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGTERM');
      } catch {
        // already gone
      }
    }
  });
}

/**
 * Runs detached (its own session, so a signal to our process group does not take it down
 * first) and polls every 500 ms. Liveness is read from /proc because a dead parent lingers as
 * a zombie until reaped and `kill -0` succeeds on zombies; comparing start times guards
 * against a recycled pid. Without /proc (not Linux) it falls back to `kill -0`.
 * Arguments: $1 parent pid, $2 child pid, $3 grace in tenths of a second.
 */
const WATCHDOG_SCRIPT = `
if [ -r /proc/$$/stat ]; then
  ident() { s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=\${s##*") "}; set -- $s; [ "$1" != Z ] || return 1; echo "\${20}"; }
else
  ident() { kill -0 "$1" 2>/dev/null && echo up; }
fi
alive() { [ "$(ident "$1")" = "$2" ]; }
p=$1; c=$2; grace=$3
pid_p=$(ident "$p") || exit 0
pid_c=$(ident "$c") || exit 0
while alive "$p" "$pid_p" && alive "$c" "$pid_c"; do sleep 0.5; done
alive "$c" "$pid_c" || exit 0
kill -TERM "$c" 2>/dev/null
i=0
while [ "$i" -lt "$grace" ] && alive "$c" "$pid_c"; do sleep 0.1; i=$((i + 1)); done
alive "$c" "$pid_c" && kill -KILL "$c" 2>/dev/null
exit 0
`;

function startWatchdog(name: string, childPid: number, log: Logger): ChildProcess | undefined {
  try {
    const args = ['-c', WATCHDOG_SCRIPT, `jetsaga-watchdog:${name}`, String(process.pid), String(childPid), String(WATCHDOG_GRACE_TENTHS)];
    const w = spawn('/bin/sh', args, { detached: true, stdio: 'ignore' });
    w.on('error', (err) => log.warn({ err }, 'orphan watchdog failed; the child may outlive a killed coordinator'));
    // The watchdog must not keep our event loop alive.
    w.unref();
    return w;
  } catch (err) {
    log.warn({ err }, 'could not start the orphan watchdog; the child may outlive a killed coordinator');
    return undefined;
  }
}

function stopWatchdog(w: ChildProcess | undefined): void {
  if (w?.pid === undefined || w.exitCode !== null || w.signalCode !== null) return;
  try {
    // Detached, so it leads its own process group: this takes its `sleep` along too.
    process.kill(-w.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * Runs an app's build commands (`[build] onbuild`, or its stack's defaults) in the staged
 * source dir, one after another, each under `sh -c` in a process group of its own, streaming
 * their output line by line. Whatever happens — success, failure, timeout, abort, a callback
 * that throws — no process of a command outlives it: its group is killed when it ends.
 *
 * Not idempotent by itself: a command re-run after a crash runs on the tree the first run
 * left. Build commands are meant to be re-runnable (`npm ci` starts from scratch); a step that
 * must not depend on that re-stages the source before running them again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgumentError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { OnbuildError, OnbuildErrorCode, type OnbuildFailure } from './onbuild-error.js';
import { onbuildEnv, scratchTmp } from './onbuild-env.js';
import { LineSplitter } from './output-lines.js';
import { groupAlive, signalGroup, terminateGroup } from './process-group.js';
import { removeTree } from './remove-tree.js';

/** One line a command printed. */
export interface OnbuildOutputLine {
  readonly stream: 'stdout' | 'stderr';
  readonly command: string;
  readonly text: string;
}

/** Options of {@link runOnbuild}. */
export interface RunOnbuildOptions {
  /** The staged source dir: each command's working dir. */
  readonly dir: string;
  readonly commands: readonly string[];
  /** Seconds each command may run (app.toml `[build] timeout`). */
  readonly timeoutSec: number;
  /** The app's env, on top of the minimal one described in onbuild-env.ts. */
  readonly env?: Readonly<Record<string, string>>;
  /** Called for every line, as it comes; a throw is logged and ignored. */
  readonly onOutput?: (line: OnbuildOutputLine) => void;
  /** Aborting kills the running command's group and fails with `ONBUILD_ABORTED`. */
  readonly signal?: AbortSignal;
  /**
   * HOME (and TMPDIR under it) for the commands. Default: `<dir>/.jetsaga-home`, made empty
   * before the first command and removed after the last (so none of it reaches the image).
   * A given home is created if missing and left in place.
   */
  readonly home?: string;
  /** How long a group has between SIGTERM and SIGKILL (default 5000 ms). */
  readonly killGraceMs?: number;
  /** Lines longer than this many characters are cut (default 4096). */
  readonly maxLineChars?: number;
  readonly logger?: Logger;
}

/** What ran. Small JSON: a step can return it. */
export interface OnbuildResult {
  readonly ran: ReadonlyArray<{ readonly command: string; readonly exitCode: number; readonly ms: number }>;
}

/** The scratch HOME's name inside the staged dir. */
export const ONBUILD_HOME = '.jetsaga-home';

/** Lines kept for an error's message. */
const TAIL_LINES = 20;
/** Characters kept of each of those lines: the error is journaled. */
const TAIL_LINE_CHARS = 300;
/** How long to wait for a command's pipes to close once its group is gone. */
const PIPE_CLOSE_WAIT_MS = 2000;

/**
 * Runs `commands` in order in `dir`; resolves when all exited 0.
 *
 * @throws OnbuildError `ONBUILD_FAILED` (terminal) on a non-zero exit, a signal or a command
 *   that cannot start; `ONBUILD_TIMEOUT` (terminal) past `timeoutSec`; `ONBUILD_ABORTED`
 *   (retryable) when `signal` aborts. The message names the command and ends with its last
 *   20 lines of output.
 * @throws InvalidArgumentError for a missing dir, a non-positive timeout or a bad command list.
 * @example
 * const { ran } = await runOnbuild({
 *   dir, commands: ['npm ci --omit=dev'], timeoutSec: 600, env: { NODE_ENV: 'production' },
 *   onOutput: ({ stream, text }) => progress.publish(`${stream}: ${text}`), signal: ctx.signal,
 * });
 */
export async function runOnbuild(given: RunOnbuildOptions): Promise<OnbuildResult> {
  await checkOptions(given);
  // Absolute paths: HOME and TMPDIR must not depend on the directory a tool changes into.
  const options = { ...given, dir: resolve(given.dir) };
  const ran: Array<{ command: string; exitCode: number; ms: number }> = [];
  if (options.commands.length === 0) return { ran };
  const ownHome = options.home === undefined;
  const home = options.home === undefined ? join(options.dir, ONBUILD_HOME) : resolve(options.home);
  if (ownHome) await removeTree(home); // what a crashed earlier run left
  await mkdir(scratchTmp(home), { recursive: true });
  try {
    for (const [index, command] of options.commands.entries()) {
      const ms = await runCommand(options, home, command, index);
      ran.push({ command, exitCode: 0, ms });
    }
    return { ran };
  } finally {
    if (ownHome) await removeTree(home).catch((e) => (options.logger ?? silentLogger).warn({ err: e, home }, 'could not remove the build scratch dir'));
  }
}

async function checkOptions(o: RunOnbuildOptions): Promise<void> {
  // setTimeout fires at once past 2^31-1 ms; no build needs more than a day per command.
  if (!Number.isFinite(o.timeoutSec) || o.timeoutSec <= 0 || o.timeoutSec > 86_400) {
    throw new InvalidArgumentError(`timeoutSec must be a number of seconds above 0 and at most 86400, got ${o.timeoutSec}`);
  }
  if (!Array.isArray(o.commands) || o.commands.some((c) => typeof c !== 'string' || c.trim() === '' || c.includes('\0'))) {
    throw new InvalidArgumentError('commands must be non-empty strings without NUL characters');
  }
  for (const [name, value] of Object.entries(o.env ?? {})) {
    if (name === '' || /[=\0]/.test(name) || typeof value !== 'string' || value.includes('\0')) {
      throw new InvalidArgumentError(`env ${JSON.stringify(name)} cannot be passed to a process (a name with "=" or NUL, or a value that is not a NUL-free string)`);
    }
  }
  const info = await stat(o.dir).catch(() => null);
  if (!info?.isDirectory()) throw new InvalidArgumentError(`the build dir ${o.dir} does not exist or is not a directory`, { dir: o.dir });
}

/** Runs one command to its end and its group's; resolves with its duration when it exited 0. */
async function runCommand(o: RunOnbuildOptions, home: string, command: string, index: number): Promise<number> {
  const log = o.logger ?? silentLogger;
  const started = performance.now();
  const tail: string[] = [];
  const failure = (exitCode: number | null, signal: string | null): OnbuildFailure => ({
    command,
    index,
    exitCode,
    signal,
    timeoutSec: o.timeoutSec,
    lastLines: [...tail],
  });
  if (o.signal?.aborted) throw new OnbuildError(OnbuildErrorCode.Aborted, failure(null, null), { what: 'was not started: the build was aborted' });

  const lineSink = (stream: 'stdout' | 'stderr') => (text: string) => {
    tail.push((stream === 'stderr' ? 'stderr: ' : '') + (text.length > TAIL_LINE_CHARS ? `${text.slice(0, TAIL_LINE_CHARS)}…` : text));
    if (tail.length > TAIL_LINES) tail.shift();
    try {
      o.onOutput?.({ stream, command, text });
    } catch (e) {
      log.warn({ err: e, command }, 'onbuild output callback threw; output goes on');
    }
  };
  const out = new LineSplitter(lineSink('stdout'), o.maxLineChars);
  const err = new LineSplitter(lineSink('stderr'), o.maxLineChars);

  let child: ChildProcess;
  try {
    // detached: the shell becomes the leader of a new session and process group (pgid = pid).
    child = spawn('/bin/sh', ['-c', command], { cwd: o.dir, env: onbuildEnv(o.env ?? {}, home), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  } catch (e) {
    throw new OnbuildError(OnbuildErrorCode.Failed, failure(null, null), { cause: e, what: `could not be started: ${(e as Error).message}` });
  }
  const pipesClosed = Promise.all([closeOf(child.stdout), closeOf(child.stderr)]);
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: Error }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => resolve({ error }));
  });

  const pgid = child.pid;
  let stopping: 'timeout' | 'abort' | null = null;
  let termination: Promise<void> | null = null;
  const stop = (why: 'timeout' | 'abort'): void => {
    if (stopping !== null || pgid === undefined) return;
    stopping = why;
    termination = terminateGroup(pgid, { graceMs: o.killGraceMs ?? 5000 }).catch((e) => log.warn({ err: e, pgid }, 'could not signal an onbuild process group'));
  };
  const timer = setTimeout(() => stop('timeout'), o.timeoutSec * 1000);
  const onAbort = (): void => stop('abort');
  o.signal?.addEventListener('abort', onAbort, { once: true });
  if (o.signal?.aborted) onAbort();

  try {
    const result = await exited;
    clearTimeout(timer);
    if (pgid !== undefined) {
      if (termination !== null) await termination;
      else if (groupAlive(pgid)) {
        // The shell is done but left processes behind (a background job, a server a test
        // script started): the command is over, and so is everything it started.
        log.warn({ command, pgid }, 'onbuild command left processes running; killing them');
        signalGroup(pgid, 'SIGKILL');
      }
    }
    await settlePipes(child, pipesClosed, log);
    out.end();
    err.end();
    if ('error' in result) {
      const transient = ['EAGAIN', 'ENOMEM'].includes((result.error as NodeJS.ErrnoException).code ?? '');
      throw new OnbuildError(OnbuildErrorCode.Failed, failure(null, null), {
        cause: result.error,
        retryable: transient,
        what: `could not be started: ${result.error.message}`,
      });
    }
    if (stopping === 'abort') throw new OnbuildError(OnbuildErrorCode.Aborted, failure(result.code, result.signal));
    if (stopping === 'timeout') throw new OnbuildError(OnbuildErrorCode.Timeout, failure(result.code, result.signal));
    if (result.code !== 0) throw new OnbuildError(OnbuildErrorCode.Failed, failure(result.code, result.signal));
    return Math.round(performance.now() - started);
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
    // Only reached without an exit on an exception above; never leave the group running.
    if (pgid !== undefined && child.exitCode === null && child.signalCode === null) signalGroup(pgid, 'SIGKILL');
  }
}

function closeOf(stream: NodeJS.ReadableStream | null): Promise<void> {
  return new Promise((resolve) => (stream ? stream.once('close', () => resolve()) : resolve()));
}

/**
 * Waits for the command's pipes to close, which they do once every process holding them is
 * gone. One that left the group (setsid) could hold them for ever: after a bounded wait the
 * pipes are closed from this side, and what is still buffered is what was printed.
 */
async function settlePipes(child: ChildProcess, closed: Promise<unknown>, log: Logger): Promise<void> {
  const waited = new AbortController();
  const timedOut = await Promise.race([closed.then(() => false), sleep(PIPE_CLOSE_WAIT_MS, true, { signal: waited.signal }).catch(() => false)]);
  waited.abort();
  if (timedOut) {
    log.warn({ pid: child.pid }, 'onbuild output pipes still open after the command ended (a process left its group?); closing them');
    child.stdout?.destroy();
    child.stderr?.destroy();
  }
}

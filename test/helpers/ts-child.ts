/**
 * Runs a TypeScript entry point (a fixture or the CLI) as a child Node process under tsx, with
 * its stdout lines and stderr tail at hand. Every child is SIGKILLed when the test process
 * exits; children that should die with a SIGKILLed test process watch their stdin (a pipe
 * that closes when we die).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface TsChild {
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every stdout line so far. */
  readonly lines: string[];
  /** Resolves with the first stdout line matching; rejects if the child exits first or after `timeoutMs`. */
  waitForLine(match: RegExp | string, timeoutMs?: number): Promise<string>;
  signal(sig: NodeJS.Signals): void;
  /** Signals the child's whole process group, as Ctrl-C in a terminal does (needs `ownGroup`). */
  signalGroup(sig: NodeJS.Signals): void;
  /** SIGKILL (if running) and wait for the exit. */
  kill(): Promise<void>;
  stderr(): string;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export function spawnTs(script: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}, options: { ownGroup?: boolean } = {}): TsChild {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'], detached: options.ownGroup ?? false });
  live.add(child);
  child.stdin!.on('error', () => undefined);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  // Enough for every log line of a coordinator's boot at info, which tests read back.
  child.stderr!.on('data', (c: string) => (stderr = (stderr + c).slice(-256_000)));
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters) w();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      for (const w of waiters) w();
      resolve({ code, signal });
    }),
  );
  const matches = (l: string, m: RegExp | string): boolean => (typeof m === 'string' ? l === m : m.test(l));
  return {
    pid: child.pid!,
    exited,
    lines,
    waitForLine(match, timeoutMs = 30_000) {
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`no line ${match} after ${timeoutMs} ms; stderr:\n${stderr}`)), timeoutMs);
        const check = (): void => {
          const hit = lines.find((l) => matches(l, match));
          if (hit !== undefined) done(undefined, hit);
          else if (child.exitCode !== null || child.signalCode !== null) done(new Error(`exited (${child.exitCode ?? child.signalCode}) before line ${match}; stderr:\n${stderr}`));
        };
        const done = (err?: Error, line?: string): void => {
          clearTimeout(timer);
          waiters.delete(check);
          if (err) reject(err);
          else resolve(line!);
        };
        waiters.add(check);
        check();
      });
    },
    signal: (sig) => void child.kill(sig),
    signalGroup: (sig) => process.kill(-child.pid!, sig),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    stderr: () => stderr,
  };
}

/** Whether a process with this pid runs (a zombie awaiting its reaper counts as gone). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Waits for a child that must exit on its own; after `timeoutMs` it is SIGKILLed and the wait
 * fails, saying so (a hang is the bug these tests look for, not a slow machine).
 */
export async function exitsOnItsOwn(child: TsChild, timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), timeoutMs)));
  try {
    const outcome = await Promise.race([child.exited, hung]);
    if (outcome === 'hung') {
      await child.kill();
      throw new Error(`the process did not exit on its own within ${timeoutMs} ms; stdout:\n${child.lines.join('\n')}\nstderr:\n${child.stderr()}`);
    }
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * When the process with this pid started (clock ticks since boot, from /proc), or undefined if
 * there is none. Pids are reused quickly on a busy machine: a clean-up that kills by pid
 * compares this with the value read while the process was known to be ours.
 */
export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** SIGKILLs `pid` (its process group with `group`) if it is still the process that started at `startTime`. */
export function killIfSame(pid: number, startTime: string | undefined, group = false): void {
  if (startTime === undefined || startTimeOf(pid) !== startTime) return;
  try {
    process.kill(group ? -pid : pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}

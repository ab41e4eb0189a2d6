/**
 * The real `jetsaga` command as a child process: one-shot commands that must exit on their own,
 * and the JSON log lines (pino, on stderr) of a long-running one; and bin/jetsaga.js as an
 * installed command runs it.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';
import { exitsOnItsOwn, spawnTs, type TsChild } from './ts-child.js';

export const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** Nothing from the machine's environment may point a test at another NATS or registry. */
const CLEAN_ENV = {
  JETSAGA_NATS_URL: '',
  JETSAGA_REGISTRY: '',
  JETSAGA_NATS_PORT: '',
  JETSAGA_REGISTRY_PORT: '',
  // nor give it credentials
  ...Object.fromEntries(['CREDS', 'NKEY', 'USER', 'PASSWORD', 'PASSWORD_FILE', 'TOKEN', 'TOKEN_FILE', 'CA', 'CERT', 'KEY'].map((k) => [`JETSAGA_NATS_${k}`, ''])),
};

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command that must end by itself (killed, and the test failed, if it does not within `timeoutMs`, 20 s). */
export async function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000): Promise<CliResult> {
  const child = spawnTs(CLI, args, { JETSAGA_LOG: 'warn', ...CLEAN_ENV, ...env });
  onTestFinished(() => child.kill());
  const { code } = await exitsOnItsOwn(child, timeoutMs);
  return { code, stdout: child.lines.join('\n'), stderr: child.stderr() };
}

/** Starts a long-running command in its own process group (so a test can Ctrl-C it); killed after the test. */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): TsChild {
  const child = spawnTs(CLI, args, { JETSAGA_LOG: 'info', ...CLEAN_ENV, ...env }, { ownGroup: true });
  onTestFinished(() => child.kill());
  return child;
}

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

/** The child's JSON log lines so far (other stderr lines are skipped). */
export function logLines(child: TsChild): LogLine[] {
  return child
    .stderr()
    .split('\n')
    .flatMap((l) => {
      if (!l.startsWith('{')) return [];
      try {
        return [JSON.parse(l) as LogLine];
      } catch {
        return []; // a line cut by the stderr tail
      }
    });
}

/** bin/jetsaga.js, the file package.json's "bin" names (what `npx jetsaga` and `npm link` run). */
export const BIN = fileURLToPath(new URL('../../bin/jetsaga.js', import.meta.url));

/**
 * Runs `node <bin> ...args` as a user would, without tsx preloaded (the shim registers it
 * itself), from `cwd` (by default somewhere outside the repository).
 */
export async function runBin(args: readonly string[], options: { bin?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [options.bin ?? BIN, ...args], {
    cwd: options.cwd ?? tmpdir(),
    env: { ...process.env, JETSAGA_LOG: 'warn', ...CLEAN_ENV, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onTestFinished(() => void child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout: stdout.replace(/\n$/, ''), stderr };
}

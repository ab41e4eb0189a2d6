/**
 * runOnbuild with real processes: output streamed line by line in order while a command
 * runs; a non-zero exit, a timeout and an abort each fail with their own code and the last
 * lines; and after every ending — a grandchild ignoring SIGTERM, a background job left
 * running — no process of the command is left (checked in /proc by process group, by pid and
 * by working dir). The env is the minimal one onbuild-env.ts describes, not the test's.
 */
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OnbuildError, OnbuildErrorCode } from '../../src/build/app/onbuild-error.js';
import { ONBUILD_HOME, runOnbuild, type OnbuildOutputLine, type RunOnbuildOptions } from '../../src/build/app/onbuild.js';
import { ErrorCode, serializeError } from '../../src/errors.js';
import { makeTree, removeTrees } from '../fixtures/apps/temp-tree.js';

interface Proc {
  readonly pid: number;
  readonly state: string;
  readonly pgrp: number;
  readonly cwd: string | null;
}

/** Every process on the host, from /proc (zombies included: their state is `Z`). */
function processes(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid pgrp …: comm may hold spaces and parens, so parse after the last ')'.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      let cwd: string | null = null;
      try {
        cwd = readlinkSync(`/proc/${name}/cwd`);
      } catch {
        // exited meanwhile, or not ours to read
      }
      out.push({ pid: Number(name), state: state ?? '?', pgrp: Number(pgrp), cwd });
    } catch {
      // exited while listed
    }
  }
  return out;
}

const alive = (p: Proc): boolean => p.state !== 'Z' && p.state !== 'X';

/** Live processes of group `pgid`, or working in `dir` (or below it). */
function leftovers(opts: { pgid?: number; dir?: string }): Proc[] {
  const dir = opts.dir === undefined ? undefined : realpathSync(opts.dir);
  return processes().filter((p) => alive(p) && ((opts.pgid !== undefined && p.pgrp === opts.pgid) || (dir !== undefined && p.cwd !== null && (p.cwd === dir || p.cwd.startsWith(`${dir}/`)))));
}

const pidAlive = (pid: number): boolean => processes().some((p) => p.pid === pid && alive(p));

// Whatever a failing test left behind is killed: groups it printed, processes in its dirs.
const groups = new Set<number>();
const dirs = new Set<string>();
afterEach(async () => {
  for (const p of processes()) {
    const mine = groups.has(p.pgrp) || [...dirs].some((d) => p.cwd !== null && p.cwd.startsWith(d));
    if (mine && p.pid !== process.pid) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  groups.clear();
  dirs.clear();
  await removeTrees();
});

async function appDir(files: Parameters<typeof makeTree>[0] = {}): Promise<string> {
  const dir = await makeTree(files);
  dirs.add(realpathSync(dir));
  return dir;
}

/** Runs with output collected; the group of every command that prints `group <pgid>` is remembered. */
async function run(options: Omit<RunOnbuildOptions, 'onOutput'> & { onLine?: (l: OnbuildOutputLine) => void }) {
  const lines: OnbuildOutputLine[] = [];
  const promise = runOnbuild({
    killGraceMs: 200,
    ...options,
    onOutput: (l) => {
      lines.push(l);
      const g = /^group (\d+)$/.exec(l.text);
      if (g) groups.add(Number(g[1]));
      options.onLine?.(l);
    },
  });
  const outcome = await promise.then(
    (result) => ({ result, error: undefined }),
    (error: unknown) => ({ result: undefined, error }),
  );
  return { ...outcome, lines };
}

function onbuildError(e: unknown): OnbuildError {
  expect(e).toBeInstanceOf(OnbuildError);
  return e as OnbuildError;
}

const texts = (lines: OnbuildOutputLine[], stream?: 'stdout' | 'stderr') => lines.filter((l) => stream === undefined || l.stream === stream).map((l) => l.text);

describe('runOnbuild: success', () => {
  it('runs each command in the dir, in order, and streams each stream’s lines in order', async () => {
    const dir = await appDir({ 'in.txt': 'from the source\n' });
    const { result, error, lines } = await run({
      dir,
      commands: ['echo one; echo two >&2; echo three | tee out.txt; printf "no newline"', 'cat in.txt; pwd; ls in.txt out.txt', 'echo again >&2'],
      timeoutSec: 60,
    });
    expect(error).toBeUndefined();
    expect(result?.ran.map((r) => [r.command, r.exitCode])).toEqual([
      ['echo one; echo two >&2; echo three | tee out.txt; printf "no newline"', 0],
      ['cat in.txt; pwd; ls in.txt out.txt', 0],
      ['echo again >&2', 0],
    ]);
    expect(result?.ran.every((r) => Number.isInteger(r.ms) && r.ms >= 0)).toBe(true);
    const first = lines.filter((l) => l.command.startsWith('echo one'));
    expect(texts(first, 'stdout')).toEqual(['one', 'three', 'no newline']);
    expect(texts(first, 'stderr')).toEqual(['two']);
    // The second command reads the source and what the first wrote: in order, in the dir.
    expect(texts(lines.filter((l) => l.command.startsWith('cat')))).toEqual(['from the source', realpathSync(dir), 'in.txt', 'out.txt']);
    expect(lines.at(-1)).toEqual({ stream: 'stderr', command: 'echo again >&2', text: 'again' });
  }, 30_000);

  it('passes lines on while the command still runs', async () => {
    const dir = await appDir();
    // The command waits for a file that only the output callback creates: if lines came at the
    // end, it would wait until its timeout.
    const { result, error, lines } = await run({
      dir,
      commands: ['echo waiting; while [ ! -f go ]; do sleep 0.02; done; echo released'],
      timeoutSec: 60,
      onLine: (l) => {
        if (l.text === 'waiting') void writeFile(join(dir, 'go'), '');
      },
    });
    expect(error).toBeUndefined();
    expect(result?.ran).toHaveLength(1);
    expect(texts(lines)).toEqual(['waiting', 'released']);
  });

  it('gives stdin as empty, so a command reading it ends', async () => {
    const dir = await appDir();
    const { error, lines } = await run({ dir, commands: ['cat; echo after-cat'], timeoutSec: 60 });
    expect(error).toBeUndefined();
    expect(texts(lines)).toEqual(['after-cat']);
  });

  it('runs nothing for no commands', async () => {
    const dir = await appDir();
    expect(await runOnbuild({ dir, commands: [], timeoutSec: 1 })).toEqual({ ran: [] });
    await expect(stat(join(dir, ONBUILD_HOME))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('keeps going when the output callback throws', async () => {
    const dir = await appDir();
    const result = await runOnbuild({
      dir,
      commands: ['echo a', 'echo b'],
      timeoutSec: 60,
      onOutput: () => {
        throw new Error('callback bug');
      },
    });
    expect(result.ran.map((r) => r.command)).toEqual(['echo a', 'echo b']);
  });

  it('kills what a successful command left running in the background', async () => {
    const dir = await appDir();
    // The job ignores SIGTERM and holds the command's stdout open.
    const { error, lines } = await run({
      dir,
      commands: ['echo group $$; sh -c \'trap "" TERM; echo $$ > bg.pid; exec sleep 600\' & while [ ! -s bg.pid ]; do sleep 0.01; done; echo started'],
      timeoutSec: 60,
    });
    expect(error).toBeUndefined();
    expect(texts(lines)).toEqual([expect.stringMatching(/^group \d+$/), 'started']);
    const bg = Number(await readFile(join(dir, 'bg.pid'), 'utf8'));
    expect(pidAlive(bg)).toBe(false);
    expect(leftovers({ pgid: [...groups][0]!, dir })).toEqual([]);
  });
});

describe('runOnbuild: failures', () => {
  it('a non-zero exit is terminal, names the command and exit code, ends with the last lines, and stops the list', async () => {
    const dir = await appDir();
    const { error } = await run({
      dir,
      commands: ['echo fine', 'seq 1 30; echo boom >&2; exit 3', 'touch never-ran'],
      timeoutSec: 60,
    });
    const e = onbuildError(error);
    expect(e).toMatchObject({ code: OnbuildErrorCode.Failed, retryable: false, status: 422 });
    expect(e.failure).toMatchObject({ command: 'seq 1 30; echo boom >&2; exit 3', index: 1, exitCode: 3, signal: null, timeoutSec: 60 });
    expect(e.failure.lastLines).toEqual([...Array.from({ length: 19 }, (_, i) => String(i + 12)), 'stderr: boom']);
    expect(e.message).toBe(`onbuild command 2 "seq 1 30; echo boom >&2; exit 3" exited with code 3; last output:\n${e.failure.lastLines.map((l) => `  ${l}`).join('\n')}`);
    await expect(stat(join(dir, 'never-ran'))).rejects.toMatchObject({ code: 'ENOENT' });
    // Journaled as a terminal step error with the failure in its details.
    expect(serializeError(e)).toMatchObject({ code: 'ONBUILD_FAILED', retryable: false, details: { exitCode: 3, index: 1 } });
  });

  it('a command killed by a signal says which', async () => {
    const dir = await appDir();
    const e = onbuildError((await run({ dir, commands: ['kill -KILL $$'], timeoutSec: 60 })).error);
    expect(e.failure).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
    expect(e.message).toBe('onbuild command 1 "kill -KILL $$" was killed by SIGKILL');
  });

  it('a timeout kills the whole group, a grandchild ignoring SIGTERM included, and is terminal', async () => {
    const dir = await appDir();
    const { error } = await run({
      dir,
      commands: [
        'echo group $$; sh -c \'trap "" TERM; echo $$ > grandchild.pid; exec sleep 600\' & ' +
          'while [ ! -s grandchild.pid ]; do sleep 0.01; done; echo ready; wait',
      ],
      timeoutSec: 2,
    });
    const e = onbuildError(error);
    expect(e).toMatchObject({ code: OnbuildErrorCode.Timeout, retryable: false });
    expect(e.failure.signal).toBe('SIGTERM');
    expect(e.failure.lastLines).toEqual([expect.stringMatching(/^group \d+$/), 'ready']);
    expect(e.message).toMatch(/^onbuild command 1 ".*" ran longer than its timeout of 2 s and was killed \(\[build\] timeout in app\.toml\); last output:/);
    const grandchild = Number(await readFile(join(dir, 'grandchild.pid'), 'utf8'));
    expect(pidAlive(grandchild)).toBe(false);
    expect(leftovers({ pgid: [...groups][0]!, dir })).toEqual([]);
  }, 30_000);

  it('an abort kills the running group, is retryable, and runs nothing after', async () => {
    const dir = await appDir();
    const controller = new AbortController();
    const { error } = await run({
      dir,
      commands: ['echo group $$; sh -c \'trap "" TERM; echo $$ > grandchild.pid; exec sleep 600\' & while [ ! -s grandchild.pid ]; do sleep 0.01; done; echo ready; wait', 'touch never-ran'],
      timeoutSec: 600,
      signal: controller.signal,
      onLine: (l) => {
        if (l.text === 'ready') controller.abort();
      },
    });
    const e = onbuildError(error);
    expect(e).toMatchObject({ code: OnbuildErrorCode.Aborted, retryable: true });
    const grandchild = Number(await readFile(join(dir, 'grandchild.pid'), 'utf8'));
    expect(pidAlive(grandchild)).toBe(false);
    expect(leftovers({ pgid: [...groups][0]!, dir })).toEqual([]);
    await expect(stat(join(dir, 'never-ran'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('an already aborted signal starts nothing', async () => {
    const dir = await appDir();
    const { error, lines } = await run({ dir, commands: ['touch ran'], timeoutSec: 60, signal: AbortSignal.abort() });
    expect(onbuildError(error)).toMatchObject({ code: OnbuildErrorCode.Aborted, retryable: true });
    expect(lines).toEqual([]);
    await expect(stat(join(dir, 'ran'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a missing dir, a bad timeout and bad commands before running anything', async () => {
    const dir = await appDir();
    await expect(runOnbuild({ dir: join(dir, 'nope'), commands: ['true'], timeoutSec: 1 })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    for (const timeoutSec of [0, -1, Number.NaN, 100_000]) {
      await expect(runOnbuild({ dir, commands: ['touch ran'], timeoutSec })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    }
    await expect(runOnbuild({ dir, commands: ['touch ran', '  '], timeoutSec: 1 })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    await expect(runOnbuild({ dir, commands: ['touch ran'], timeoutSec: 1, env: { 'A=B': 'x' } })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    await expect(stat(join(dir, 'ran'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('runOnbuild: processes that leave the group', () => {
  it('a process in a session of its own cannot hold the build open by its output pipe', async () => {
    const dir = await appDir();
    // setsid puts sleep out of the group's reach (only a cgroup could hold it); it keeps the
    // command's stdout open. The build still ends, with what was printed; the test kills it.
    const { result, error, lines } = await run({ dir, commands: ['setsid sleep 600 & echo detached'], timeoutSec: 60 });
    expect(error).toBeUndefined();
    expect(result?.ran).toHaveLength(1);
    expect(texts(lines)).toEqual(['detached']);
  });
});

describe('runOnbuild: output volume', () => {
  it('passes on a quarter of a million lines, in order', async () => {
    const dir = await appDir();
    let count = 0;
    let inOrder = true;
    const result = await runOnbuild({
      dir,
      commands: ['seq 1 250000'],
      timeoutSec: 120,
      onOutput: (l) => {
        count += 1;
        if (l.text !== String(count)) inOrder = false;
      },
    });
    expect(result.ran).toHaveLength(1);
    expect(count).toBe(250_000);
    expect(inOrder).toBe(true);
  }, 60_000);

  it('cuts a 5 MB line to the limit and goes on with the next', async () => {
    const dir = await appDir();
    const { error, lines } = await run({
      dir,
      commands: ["head -c 5000000 /dev/zero | tr '\\0' a; echo; echo after; head -c 100000 /dev/zero | tr '\\0' b; exit 1"],
      timeoutSec: 120,
      maxLineChars: 1000,
    });
    expect(texts(lines)).toEqual([`${'a'.repeat(1000)} … [4999000 more characters cut]`, 'after', `${'b'.repeat(1000)} … [99000 more characters cut]`]);
    // The error keeps the tail short: it is journaled.
    const e = onbuildError(error);
    expect(e.failure.lastLines.map((l) => l.length)).toEqual([301, 5, 301]);
  }, 60_000);
});

describe('runOnbuild: environment', () => {
  it('gives commands PATH, a scratch HOME and TMPDIR, LANG and the app env — nothing of the coordinator’s', async () => {
    const dir = await appDir();
    const saved = { secret: process.env.JETSAGA_TEST_SECRET, npm: process.env.npm_config_registry };
    process.env.JETSAGA_TEST_SECRET = 'do-not-leak';
    process.env.npm_config_registry = 'http://127.0.0.1:1/';
    try {
      const { error, lines } = await run({
        dir,
        commands: ['env; test -d "$HOME" && test -d "$TMPDIR" && touch "$HOME/cache-file" && echo home-ok'],
        timeoutSec: 60,
        env: { APP_MODE: 'test', LANG: 'en_US.UTF-8', HOME: '/root' },
      });
      expect(error).toBeUndefined();
      const env = Object.fromEntries(texts(lines).filter((t) => t.includes('=')).map((t) => [t.slice(0, t.indexOf('=')), t.slice(t.indexOf('=') + 1)]));
      const home = join(dir, ONBUILD_HOME);
      expect(env).toEqual({ PATH: process.env.PATH, HOME: home, TMPDIR: join(home, 'tmp'), LANG: 'en_US.UTF-8', APP_MODE: 'test', NPM_CONFIG_UPDATE_NOTIFIER: 'false', PIP_DISABLE_PIP_VERSION_CHECK: '1', PWD: realpathSync(dir) });
      expect(texts(lines)).toContain('home-ok');
      // The scratch HOME is gone afterwards, with what the build cached there.
      await expect(stat(home)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      for (const [k, v] of [['JETSAGA_TEST_SECRET', saved.secret], ['npm_config_registry', saved.npm]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('starts from an empty scratch HOME even when a crashed run left one, read-only dirs included', async () => {
    const dir = await appDir({ [`${ONBUILD_HOME}/stale/file`]: 'left by a crash' });
    const { error, lines } = await run({
      dir,
      commands: ['ls -A "$HOME"; mkdir -p "$HOME/go/pkg/mod/x" && chmod -R a-w "$HOME/go"'],
      timeoutSec: 60,
    });
    expect(error).toBeUndefined();
    expect(texts(lines)).toEqual(['tmp']);
    await expect(stat(join(dir, ONBUILD_HOME))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('takes a relative dir and still gives an absolute HOME', async () => {
    const dir = await appDir();
    const { error, lines } = await run({ dir: relative(process.cwd(), dir), commands: ['echo "$HOME"'], timeoutSec: 60 });
    expect(error).toBeUndefined();
    expect(texts(lines)).toEqual([join(dir, ONBUILD_HOME)]);
  });

  it('uses a given HOME and leaves it in place', async () => {
    const dir = await appDir();
    const home = join(dir, 'given-home');
    await mkdir(home);
    const { error } = await run({ dir, commands: ['touch "$HOME/kept"'], timeoutSec: 60, home });
    expect(error).toBeUndefined();
    expect((await stat(join(home, 'kept'))).isFile()).toBe(true);
  });
});

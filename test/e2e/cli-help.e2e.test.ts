/**
 * What `jetsaga` says about itself: `--help` of the program and of every command lists that
 * command's options and an example; an unknown command or flag is a usage error (exit 2) of
 * one line saying which help to read; and bin/jetsaga.js, what `npx jetsaga` and `npm link`
 * run, works from any directory and through a symlink, printing the package's version.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NATS_CONNECT_TIMEOUT_MS } from '../../src/nats/connect.js';
import { BIN, runBin, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/nats-server.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; bin: Record<string, string> };

const GLOBAL_OPTIONS = ['--nats <url,...>', '--nats-port <port>', '--nats-creds <file>', '--nats-nkey <file>', '--nats-user <name>', '--nats-password-file <file>', '--nats-token-file <file>', '--nats-ca <file>', '--nats-cert <file>', '--nats-key <file>', '--registry <host:port>', '--registry-port <port>', '--registry-name <host>', '--data-dir <dir>', '--owner <name>', '--namespace <ns>', '--json'];
const ENV = ['JETSAGA_NATS_URL', 'JETSAGA_NATS_PORT', 'JETSAGA_NATS_CREDS', 'JETSAGA_NATS_NKEY', 'JETSAGA_NATS_USER', 'JETSAGA_NATS_PASSWORD_FILE', 'JETSAGA_NATS_TOKEN_FILE', 'JETSAGA_NATS_CA', 'JETSAGA_NATS_CERT', 'JETSAGA_NATS_KEY', 'JETSAGA_REGISTRY', 'JETSAGA_REGISTRY_PORT', 'JETSAGA_REGISTRY_NAME', 'JETSAGA_DATA_DIR', 'JETSAGA_OWNER', 'JETSAGA_NAMESPACE'];

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-cli-help-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** One line on stderr, nothing on stdout. */
function oneLine(r: { stdout: string; stderr: string }): string {
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('jetsaga --help', () => {
  it('lists the commands, every global option with its variable, examples and the exit codes', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['serve', 'boot', 'version', 'help [command]']) expect(r.stdout).toMatch(new RegExp(`^  ${c.replace(/[[\]]/g, '\\$&')}\\s`, 'm'));
    for (const o of [...GLOBAL_OPTIONS, '-h, --help', '-v, --version']) expect(r.stdout).toContain(o);
    // Commander wraps long descriptions: compare without line breaks.
    const flat = r.stdout.replace(/\s+/g, ' ');
    for (const e of ENV) expect(flat).toContain(`(env: ${e})`);
    expect(r.stdout).toContain('Examples:\n  $ jetsaga serve');
    expect(r.stdout).toContain(`never answers after ${NATS_CONNECT_TIMEOUT_MS / 1000} s`);
    expect(r.stdout).toContain('Exit codes: 0 ok');
    expect((await runCli(['-h'])).stdout).toBe(r.stdout);
    expect((await runCli(['help'])).stdout).toBe(r.stdout);
  });

  it('of each command lists its own options, the global ones and an example', async () => {
    const cases: [string[], string[]][] = [
      [['serve'], ['Usage: jetsaga serve [options]', '--deploy <dir>', '$ jetsaga serve --deploy examples/node-hello']],
      [['boot'], ['Usage: jetsaga boot [options] [command]', 'status [options]', '$ jetsaga boot status']],
      [['boot', 'status'], ['Usage: jetsaga boot status [options]', '--coordinator <name>', '$ jetsaga boot status --coordinator vm --json']],
      [['version'], ['Usage: jetsaga version [options]', '$ jetsaga version']],
      [['rollback'], ['Usage: jetsaga rollback [options]', '--to <version>', '--wait-lock', '$ jetsaga rollback --app shop --to 3']],
    ];
    for (const [command, wanted] of cases) {
      const r = await runCli([...command, '--help']);
      expect({ command, code: r.code }).toEqual({ command, code: 0 });
      for (const w of wanted) expect(r.stdout).toContain(w);
      expect(r.stdout).toContain('Global Options:');
      for (const o of GLOBAL_OPTIONS) expect(r.stdout).toContain(o);
      // `jetsaga help serve`, `jetsaga boot help status`: each command's help command.
      expect((await runCli([...command.slice(0, -1), 'help', ...command.slice(-1)])).stdout).toBe(r.stdout);
    }
    // Options of one command are not offered by another.
    expect((await runCli(['serve', '--help'])).stdout).not.toContain('--coordinator');
    expect((await runCli(['boot', 'status', '--help'])).stdout).not.toContain('--deploy');
  });

  it('is shown on stderr with exit 2 when a command is missing', async () => {
    for (const args of [[], ['boot']]) {
      const r = await runCli(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`Usage: jetsaga ${args.join(' ')}`.trimEnd() + ' [options] [command]');
    }
  });
});

describe('usage errors', () => {
  it('an unknown command exits 2 with one line', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toBe(`jetsaga: unknown command 'frobnicate'. Run "jetsaga --help" for usage.`);
    const typo = await runCli(['sevre']);
    expect(typo.code).toBe(2);
    expect(oneLine(typo)).toBe(`jetsaga: unknown command 'sevre' (Did you mean serve?). Run "jetsaga --help" for usage.`);
    const sub = await runCli(['boot', 'state']);
    expect(sub.code).toBe(2);
    expect(oneLine(sub)).toMatch(/^jetsaga: unknown command 'state'.*Run "jetsaga boot --help" for usage\.$/);
  });

  it('an unknown flag exits 2 with one line naming the help to read', async () => {
    const top = await runCli(['--frobnicate']);
    expect(top.code).toBe(2);
    expect(oneLine(top)).toBe(`jetsaga: unknown option '--frobnicate'. Run "jetsaga --help" for usage.`);
    const serve = await runCli(['serve', '--frobnicate']);
    expect(serve.code).toBe(2);
    expect(oneLine(serve)).toBe(`jetsaga: unknown option '--frobnicate'. Run "jetsaga serve --help" for usage.`);
    // A flag of another command is unknown here.
    const status = await runCli(['boot', 'status', '--deploy', 'x']);
    expect(status.code).toBe(2);
    expect(oneLine(status)).toBe(`jetsaga: unknown option '--deploy'. Run "jetsaga boot status --help" for usage.`);
    const value = await runCli(['serve', '--deploy']);
    expect(value.code).toBe(2);
    expect(oneLine(value)).toMatch(/^jetsaga: option '--deploy <dir>' argument missing\. Run "jetsaga serve --help" for usage\.$/);
    const extra = await runCli(['version', 'now']);
    expect(extra.code).toBe(2);
    oneLine(extra);
  });
});

describe('global options', () => {
  it('are read before or after the command, the flag over its JETSAGA_* variable', async () => {
    const refused = `nats://127.0.0.1:${await freePort()}`;
    const before = await runCli(['--nats', 'garbage', 'boot', 'status']);
    expect(before.code).toBe(2);
    expect(before.stderr).toContain('jetsaga: --nats: "garbage" is not a NATS server address (no port)');
    const fromEnv = await runCli(['boot', 'status'], { JETSAGA_NATS_URL: 'garbage' });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain('jetsaga: JETSAGA_NATS_URL: "garbage" is not a NATS server address (no port)');
    // The flag wins over a bad variable: NATS is tried (and refuses: exit 3).
    const flagWins = await runCli(['boot', 'status', '--nats', refused], { JETSAGA_NATS_URL: 'garbage' });
    expect(flagWins.code).toBe(3);
    expect(flagWins.stderr).toContain(`jetsaga: cannot reach NATS at ${refused}: connection refused`);
  });
});

describe('bin/jetsaga.js', () => {
  it('is the package\'s "bin", executable, and prints the package version from another directory', async () => {
    expect(pkg.bin).toEqual({ jetsaga: './bin/jetsaga.js' });
    // `env -S` passes node the flag the coordinator runs with (bin/jetsaga.js says why).
    expect(readFileSync(BIN, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env -S node --max-semi-space-size=64');
    // Run as the kernel runs it (the shebang), as npm's bin link does.
    expect(execFileSync(BIN, ['--version'], { cwd: tmpdir(), encoding: 'utf8' }).trim()).toBe(`jetsaga ${pkg.version}`);
    for (const args of [['--version'], ['-v'], ['version']]) {
      const r = await runBin(args, { cwd: tmpdir() });
      expect({ args, code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ args, code: 0, stdout: `jetsaga ${pkg.version}`, stderr: '' });
    }
  });

  it('runs commands from another directory, and through a symlink as npm link makes one', async () => {
    const help = await runBin(['serve', '--help'], { cwd: tmpdir() });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--deploy <dir>');
    const bad = await runBin(['boot', 'status', '--nats', 'garbage'], { cwd: tmp });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('jetsaga: --nats: "garbage" is not a NATS server address');
    const unknown = await runBin(['frobnicate'], { cwd: tmp });
    expect(unknown.code).toBe(2);
    expect(oneLine(unknown)).toContain('Run "jetsaga --help" for usage.');
    const link = join(tmp, 'jetsaga');
    await symlink(BIN, link);
    const linked = await runBin(['--version'], { bin: link, cwd: tmp });
    expect({ code: linked.code, stdout: linked.stdout }).toEqual({ code: 0, stdout: `jetsaga ${pkg.version}` });
  });
});

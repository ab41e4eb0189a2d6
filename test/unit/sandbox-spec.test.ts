import { mkdir, mkdtemp, rm, symlink, writeFile, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import type { SandboxSpec } from '../../src/sandbox/controller.js';
import { resolveInRoot, resolveWorkingDir, SymlinkLoopError } from '../../src/sandbox/resolve-in-root.js';
import { sandboxEnv } from '../../src/sandbox/sandbox-env.js';
import { checkSandboxId, parseSandboxSpec } from '../../src/sandbox/sandbox-spec.js';

const valid: SandboxSpec = { id: 'web-1_a', rootDir: '/srv/image', workingDir: '/app', command: ['node', 'server.js'], env: { A: '1' } };

function rejects(spec: unknown, message: RegExp): void {
  let err: unknown;
  try {
    parseSandboxSpec(spec);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InvalidArgumentError);
  expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', status: 400 });
  expect((err as Error).message).toMatch(message);
}

describe('parseSandboxSpec', () => {
  it('accepts a full spec and returns a copy the caller cannot change afterwards', () => {
    const input: SandboxSpec = { ...valid, port: 8080, health: { path: '/healthz?full=1', timeoutMs: 5_000 }, env: { A: '1', PORT: '8080', HOST: '127.0.0.1' } };
    const spec = parseSandboxSpec(input);
    expect(spec).toEqual(input);
    input.command.push('--evil');
    input.env.B = '2';
    expect(spec.command).toEqual(['node', 'server.js']);
    expect(spec.env).toEqual({ A: '1', PORT: '8080', HOST: '127.0.0.1' });
  });

  it('accepts the built-in static server alone', () => {
    expect(parseSandboxSpec({ ...valid, command: ['jetsaga-static'] }).command).toEqual(['jetsaga-static']);
    rejects({ ...valid, command: ['jetsaga-static', '/etc'] }, /jetsaga-static takes no arguments/);
  });

  it('refuses ids that are not plain', () => {
    for (const id of ['', 'a/b', 'a.b', '../x', 'x'.repeat(129), 'a b', 7]) rejects({ ...valid, id }, /sandbox id .* must match/);
    expect(() => checkSandboxId('ok_ID-9')).not.toThrow();
    expect(() => checkSandboxId('no!')).toThrow(InvalidArgumentError);
  });

  it('refuses a working dir that is relative or climbs out of the root', () => {
    rejects({ ...valid, workingDir: 'app' }, /workingDir must be an absolute path inside the image/);
    rejects({ ...valid, workingDir: '/../etc' }, /workingDir "\/\.\.\/etc" escapes rootDir/);
    rejects({ ...valid, workingDir: '/app/../../srv' }, /escapes rootDir/);
    // Down and back up stays inside.
    expect(parseSandboxSpec({ ...valid, workingDir: '/app/../srv/./x' }).workingDir).toBe('/app/../srv/./x');
  });

  it('refuses bad roots, commands, ports, env and health checks, naming the field', () => {
    rejects(null, /the spec must be an object/);
    rejects({ ...valid, workdir: '/app' }, /unknown field\(s\) workdir/);
    rejects({ ...valid, rootDir: 'relative/dir' }, /rootDir must be an absolute path/);
    rejects({ ...valid, command: [] }, /command must be a non-empty array/);
    rejects({ ...valid, command: 'node server.js' }, /command must be a non-empty array/);
    rejects({ ...valid, command: ['node', 'a\0b'] }, /without NUL/);
    rejects({ ...valid, command: [''] }, /command\[0\] must name a program/);
    rejects({ ...valid, port: 0 }, /port must be an integer from 1 to 65535/);
    rejects({ ...valid, port: 70_000 }, /port must be an integer/);
    rejects({ ...valid, port: 80.5 }, /port must be an integer/);
    rejects({ ...valid, env: ['A=1'] }, /env must be an object of strings/);
    rejects({ ...valid, env: { 'A-B': '1' } }, /env name "A-B" must match/);
    rejects({ ...valid, env: { A: 1 } }, /env A must be a string/);
    rejects({ ...valid, env: { HOST: '0.0.0.0' } }, /env HOST is set by the controller \(127\.0\.0\.1, loopback only\)/);
    rejects({ ...valid, env: { PORT: '3000' } }, /env PORT is set by the controller; give the port as spec.port/);
    rejects({ ...valid, port: 3001, env: { PORT: '3000' } }, /env PORT is set by the controller/);
    rejects({ ...valid, health: { path: 'health' } }, /health.path must start with \//);
    rejects({ ...valid, health: { path: '/a b' } }, /health.path/);
    rejects({ ...valid, health: { path: '/h', timeoutMs: 0 } }, /health.timeoutMs must be an integer/);
    rejects({ ...valid, health: { path: '/h', interval: 5 } }, /unknown health field\(s\) interval/);
  });
});

describe('sandboxEnv', () => {
  it('is PATH, HOME, LANG, the spec env and PORT/HOST, with nothing of the coordinator', () => {
    process.env.JETSAGA_SANDBOX_TEST_SECRET = 'coordinator only';
    try {
      const env = sandboxEnv({ specEnv: { APP: 'x', LANG: 'de_DE.UTF-8' }, port: 4242, workDir: '/img/app', hostPath: '/usr/bin:/bin' });
      expect(env).toEqual({ PATH: '/usr/bin:/bin', HOME: '/img/app', LANG: 'de_DE.UTF-8', APP: 'x', PORT: '4242', HOST: '127.0.0.1' });
    } finally {
      delete process.env.JETSAGA_SANDBOX_TEST_SECRET;
    }
  });

  it('has a PATH when the coordinator has none', () => {
    expect(sandboxEnv({ specEnv: {}, port: 1, workDir: '/w', hostPath: undefined }).PATH).toBe('/usr/local/bin:/usr/bin:/bin');
  });
});

describe('resolveInRoot and resolveWorkingDir', () => {
  let root: string;
  beforeAll(async () => {
    root = await realpath(await mkdtemp(join(tmpdir(), 'jetsaga-sandbox-root-')));
    await mkdir(join(root, 'srv/app'), { recursive: true });
    await writeFile(join(root, 'srv/app/file'), 'x');
    await symlink('/srv/app', join(root, 'app')); // absolute: means the image's /srv/app
    await symlink('../../../../../etc', join(root, 'srv/up')); // climbs past the root
    await symlink('loop-b', join(root, 'loop-a'));
    await symlink('loop-a', join(root, 'loop-b'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('follows absolute symlinks inside the root, as a container runtime would', async () => {
    expect(await resolveInRoot(root, '/app/file')).toBe(join(root, 'srv/app/file'));
    expect(await resolveWorkingDir('s', root, '/app')).toBe(join(root, 'srv/app'));
  });

  it('keeps ".." and symlinks that climb out at the root', async () => {
    expect(await resolveInRoot(root, '/../../etc/passwd')).toBe(join(root, 'etc/passwd'));
    expect(await resolveInRoot(root, '/srv/up/passwd')).toBe(join(root, 'etc/passwd'));
    await expect(resolveWorkingDir('s', root, '/srv/up')).rejects.toThrow(/workingDir \/srv\/up does not exist in rootDir/);
  });

  it('stops at a symlink loop with a clear error', async () => {
    await expect(resolveInRoot(root, '/loop-a')).rejects.toBeInstanceOf(SymlinkLoopError);
    await expect(resolveWorkingDir('s', root, '/loop-a')).rejects.toThrow(/cannot be resolved in rootDir: too many symlinks/);
  });

  it('refuses a missing root, a missing working dir and a file as working dir', async () => {
    await expect(resolveWorkingDir('s', join(root, 'nope'), '/app')).rejects.toThrow(/rootDir .*nope does not exist/);
    await expect(resolveWorkingDir('s', join(root, 'srv/app/file'), '/')).rejects.toThrow(/rootDir .* is not a directory/);
    await expect(resolveWorkingDir('s', root, '/srv/app/file')).rejects.toThrow(/workingDir \/srv\/app\/file is not a directory/);
    await expect(resolveWorkingDir('s', root, '/missing')).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

/**
 * LocalSandboxController with real processes: the node and python fixture apps (rootfs/), apps
 * that die or never become healthy, process groups with a grandchild that ignores SIGTERM.
 * Every test's controller is closed and its process groups killed when the test ends
 * (useController), also when it fails.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { readdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isListening } from '../../src/boot/port-probe.js';
import { SagaError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { SandboxExitedError, SandboxUnhealthyError } from '../../src/sandbox/sandbox-errors.js';
import { nodeApp, pythonApp, ROOTFS } from '../fixtures/sandbox/apps.js';
import { http } from '../fixtures/sandbox/http-get.js';
import { gone, tempDir, useController, waitGone, watchdogsFor } from '../fixtures/sandbox/sandbox-harness.js';
import { until } from '../helpers/until.js';

/** Process group and session of `pid`, from /proc. */
function groupOf(pid: number): { pgrp: number; session: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pgrp: Number(f[2]), session: Number(f[3]) };
}

async function rejection(p: Promise<unknown>): Promise<SagaError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SagaError);
  return err as SagaError;
}

/** Pids the node fixture app reports (`/pids`). */
async function pidsOf(port: number): Promise<{ pid: number; grandchild?: number }> {
  return JSON.parse((await http(port, '/pids')).body) as { pid: number; grandchild?: number };
}

describe('running apps', () => {
  it('a node app starts healthy, in its own process group, and answers on its port with exactly the env it was given', async (ctx) => {
    const { controller, logDir } = await useController(ctx);
    process.env.JETSAGA_SANDBOX_LEAK_CHECK = 'coordinator only';
    let handle;
    try {
      handle = await controller.start(nodeApp('node-env', { APP_NAME: 'shop', GREETING: 'hej' }));
    } finally {
      delete process.env.JETSAGA_SANDBOX_LEAK_CHECK;
    }
    expect(handle.url).toBe(`http://127.0.0.1:${handle.port}`);
    expect(await http(handle.port, '/')).toMatchObject({ status: 200, body: 'hello from shop' });

    const env = JSON.parse((await http(handle.port, '/env')).body) as Record<string, string>;
    expect(Object.keys(env).sort()).toEqual(['APP_NAME', 'GREETING', 'HOME', 'HOST', 'LANG', 'PATH', 'PORT']);
    expect(env).toMatchObject({ APP_NAME: 'shop', GREETING: 'hej', PORT: String(handle.port), HOST: '127.0.0.1', LANG: 'C.UTF-8', PATH: process.env.PATH });
    expect(env.HOME).toBe(await realpath(join(ROOTFS, 'app')));

    expect(groupOf(handle.pid).pgrp).toBe(handle.pid);
    expect(groupOf(handle.pid).session).not.toBe(groupOf(process.pid).session);
    expect(controller.status('node-env')).toMatchObject({ id: 'node-env', state: 'running', pid: handle.pid, port: handle.port, logFile: join(logDir, 'node-env.log') });

    const log = await readFile(join(logDir, 'node-env.log'), 'utf8');
    expect(log).toMatch(/^--- jetsaga: sandbox node-env starting at .* on port \d+: /);
    expect(log).toContain(`listening on http://127.0.0.1:${handle.port}\n`);
  });

  it('a python app starts healthy and answers on its port with the env it was given', async (ctx) => {
    const { controller } = await useController(ctx);
    const handle = await controller.start(pythonApp('py-env', { APP_NAME: 'py' }));
    expect(await http(handle.port, '/')).toMatchObject({ status: 200, body: 'hello from python' });
    const env = JSON.parse((await http(handle.port, '/env')).body) as Record<string, string>;
    expect(env).toMatchObject({ APP_NAME: 'py', PORT: String(handle.port), HOST: '127.0.0.1', HOME: await realpath(join(ROOTFS, 'py')) });
    // python3 may be a version manager's shim that adds its own variables; ours must not leak.
    expect(env.VITEST).toBeUndefined();
    expect(env.JETSAGA_LOG).toBeUndefined();
    await controller.stop('py-env');
    expect(gone(handle.pid)).toBe(true);
    expect(controller.status('py-env')).toBeUndefined();
  });

  it('without a health path, a sandbox is ready once its port accepts connections', async (ctx) => {
    const { controller } = await useController(ctx);
    const spec = pythonApp('py-tcp');
    delete spec.health;
    const handle = await controller.start(spec);
    expect(await http(handle.port, '/')).toMatchObject({ status: 200, body: 'hello from python' });
  });

  it('runs two sandboxes of one app side by side on different ports', async (ctx) => {
    const { controller } = await useController(ctx);
    const [one, two] = await Promise.all([controller.start(nodeApp('twin-1', { APP_NAME: 'one' })), controller.start(nodeApp('twin-2', { APP_NAME: 'two' }))]);
    expect(one.port).not.toBe(two.port);
    expect(one.pid).not.toBe(two.pid);
    expect((await http(one.port, '/')).body).toBe('hello from one');
    expect((await http(two.port, '/')).body).toBe('hello from two');
    expect(controller.list().map((s) => [s.id, s.state])).toEqual([
      ['twin-1', 'running'],
      ['twin-2', 'running'],
    ]);
    await controller.stop('twin-1');
    expect(gone(one.pid)).toBe(true);
    expect((await http(two.port, '/')).body).toBe('hello from two');
  });

  it('uses the port it is given', async (ctx) => {
    const { controller } = await useController(ctx);
    const probe = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => probe.once('listening', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const handle = await controller.start(nodeApp('fixed-port', {}, { port }));
    expect(handle.port).toBe(port);
    expect((await http(port, '/')).status).toBe(200);
  });
});

describe('start failures leave nothing running', () => {
  it('a command that exits at once fails start at once, naming its exit code and last output', async (ctx) => {
    const { controller, logDir } = await useController(ctx);
    const lines = Array.from({ length: 25 }, (_, i) => `console.log('line ${i + 1}')`).join(';');
    const spec = nodeApp('dies', {}, {
      command: [process.execPath, '-e', `${lines}; console.error('fatal: config.toml missing'); process.exit(3)`],
      // A start that waited for its health timeout instead of seeing the exit would outlast the test.
      health: { path: '/health', timeoutMs: 600_000 },
    });
    const err = await rejection(controller.start(spec));
    expect(err).toBeInstanceOf(SandboxExitedError);
    const e = err as SandboxExitedError;
    expect(e.code).toBe('SANDBOX_EXITED');
    expect(e.retryable).toBe(false);
    expect(e.exit).toEqual({ code: 3, signal: null });
    expect(e.message).toContain('sandbox "dies" exited before it was healthy (exit code 3); last output:\n');
    // The last 20 lines, in order.
    expect(e.output).toEqual([...Array.from({ length: 19 }, (_, i) => `line ${i + 7}`), 'fatal: config.toml missing']);
    expect(e.message.endsWith(e.output.join('\n'))).toBe(true);
    expect(controller.status('dies')).toBeUndefined();
    expect(controller.list()).toEqual([]);
    // The whole output is in the log file.
    expect(await readFile(join(logDir, 'dies.log'), 'utf8')).toContain('line 1\nline 2\n');
  });

  it('an app that exits at once but leaves a child behind fails, and the child is killed', async (ctx) => {
    const { controller } = await useController(ctx);
    const script = "const c = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); console.log('left ' + c.pid); process.exit(1)";
    const err = (await rejection(controller.start(nodeApp('daemonizes', {}, { command: [process.execPath, '-e', script] })))) as SandboxExitedError;
    expect(err.code).toBe('SANDBOX_EXITED');
    const left = Number(/^left (\d+)$/.exec(err.output.find((l) => l.startsWith('left ')) ?? '')?.[1]);
    expect(left).toBeGreaterThan(0);
    expect(gone(left)).toBe(true);
  });

  it('a server that never becomes healthy fails after its timeout, and nothing of it is left running', async (ctx) => {
    const { controller } = await useController(ctx);
    const spec = nodeApp('sick', { HEALTH: 'never', FORK_GRANDCHILD: '1' }, { health: { path: '/health', timeoutMs: 3_000 } });
    const err = await rejection(controller.start(spec));
    expect(err).toBeInstanceOf(SandboxUnhealthyError);
    const e = err as SandboxUnhealthyError;
    expect(e).toMatchObject({ code: 'SANDBOX_UNHEALTHY', retryable: true, timeoutMs: 3_000, lastProbe: 'HTTP 503' });
    expect(e.message).toContain('sandbox "sick" was not healthy after 3000 ms (last check: HTTP 503) and was stopped');
    const pid = e.pid!;
    const grandchild = Number(/grandchild (\d+) running/.exec(e.output.join('\n'))?.[1]);
    expect(grandchild).toBeGreaterThan(0);
    // start rejects only once the group is gone, the grandchild that ignores SIGTERM included.
    expect(gone(pid)).toBe(true);
    expect(gone(grandchild)).toBe(true);
    expect(controller.list()).toEqual([]);
  });

  it('a port already taken is refused before anything is started', async (ctx) => {
    const { controller } = await useController(ctx);
    const taken = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => taken.once('listening', r));
    try {
      const port = (taken.address() as { port: number }).port;
      const err = await rejection(controller.start(nodeApp('taken', {}, { port })));
      expect(err).toMatchObject({ code: 'PORT_IN_USE' });
      expect(err.message).toContain(`127.0.0.1:${port} is already in use`);
      expect(controller.list()).toEqual([]);
    } finally {
      taken.close();
    }
  });

  it('bad input is INVALID_ARGUMENT and a command that cannot run is SANDBOX_START_FAILED, saying why', async (ctx) => {
    const { controller } = await useController(ctx);
    expect(await rejection(controller.start(nodeApp('no-dir', {}, { workingDir: '/nope' })))).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await rejection(controller.start(nodeApp('escape', {}, { workingDir: '/app/../../..' })))).toMatchObject({ code: 'INVALID_ARGUMENT' });
    const missing = await rejection(controller.start(nodeApp('no-cmd', {}, { command: ['jetsaga-no-such-program', 'x'] })));
    expect(missing.code).toBe('SANDBOX_START_FAILED');
    expect(missing.message).toContain(`command jetsaga-no-such-program not found on PATH (${process.env.PATH})`);
    const notExec = await rejection(controller.start(nodeApp('not-exec', {}, { command: ['./server.ts'] })));
    expect(notExec.code).toBe('SANDBOX_START_FAILED');
    expect(notExec.message).toMatch(/command \.\/server\.ts \(.*rootfs\/app\/server\.ts\) is not an executable file/);
    expect(controller.list()).toEqual([]);
  });

  it('a log dir that cannot be created fails start with SANDBOX_START_FAILED before anything runs', async (ctx) => {
    const file = join(await tempDir(), 'a-file');
    await writeFile(file, 'not a directory');
    const { controller } = await useController(ctx, { logDir: join(file, 'logs') });
    const err = await rejection(controller.start(nodeApp('no-logs')));
    expect(err.code).toBe('SANDBOX_START_FAILED');
    expect(err.message).toMatch(/^sandbox "no-logs": cannot open its log file: ENOTDIR/);
    expect(controller.list()).toEqual([]);
  });
});

describe('stop', () => {
  it('kills the whole process group, a grandchild that ignores SIGTERM included, and is idempotent', async (ctx) => {
    const { controller, logDir } = await useController(ctx);
    const handle = await controller.start(nodeApp('group', { FORK_GRANDCHILD: '1' }));
    const { pid, grandchild } = await pidsOf(handle.port);
    expect(pid).toBe(handle.pid);
    expect(groupOf(grandchild!).pgrp).toBe(pid);
    const watchdogs = watchdogsFor(pid, process.pid);
    expect(watchdogs).toHaveLength(1);

    const stopping = controller.stop('group', { graceMs: 500 });
    expect(controller.stop('group')).toBe(stopping);
    expect(controller.status('group')?.state).toBe('stopping');
    await stopping;
    // Gone when stop resolves, not some time later.
    expect(gone(pid)).toBe(true);
    expect(gone(grandchild!)).toBe(true);
    expect(await isListening('127.0.0.1', handle.port, 1_000)).toBe(false);
    for (const w of watchdogs) expect(await waitGone(w)).toBe(true);
    // SIGTERM reached the grandchild, which ignored it: SIGKILL ended it.
    expect(await readFile(join(logDir, 'group.log'), 'utf8')).toContain('grandchild ignores SIGTERM');
    expect(controller.status('group')).toBeUndefined();
    await controller.stop('group');
    await controller.stop('never-started');
  });

  it('stopping a sandbox while it starts makes start fail with SANDBOX_STOPPED and leaves nothing', async (ctx) => {
    const { controller } = await useController(ctx);
    const starting = controller.start(nodeApp('half', { HEALTH: 'never' }, { health: { path: '/health', timeoutMs: 600_000 } }));
    const failed = rejection(starting);
    await until(() => controller.status('half')?.pid !== undefined, 20_000, 'sandbox spawned');
    const pid = controller.status('half')!.pid!;
    await controller.stop('half', { graceMs: 1_000 });
    expect((await failed).code).toBe('SANDBOX_STOPPED');
    expect(gone(pid)).toBe(true);
    expect(controller.list()).toEqual([]);
  });

  it("aborting start's signal kills the half-started sandbox", async (ctx) => {
    const { controller } = await useController(ctx);
    const ac = new AbortController();
    const failed = controller.start(nodeApp('aborted', { HEALTH: 'never' }, { health: { path: '/health', timeoutMs: 600_000 } }), { signal: ac.signal }).catch((e: unknown) => e);
    await until(() => controller.status('aborted')?.pid !== undefined, 20_000, 'sandbox spawned');
    const pid = controller.status('aborted')!.pid!;
    ac.abort(new Error('step left'));
    expect(await failed).toMatchObject({ message: 'step left' });
    expect(gone(pid)).toBe(true);
    expect(controller.list()).toEqual([]);
  });
});

describe('output', () => {
  it('goes to the logger at debug, line by line, tagged with the sandbox and stream', async (ctx) => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const { controller } = await useController(ctx, { logger: createLogger({ level: 'debug', destination: sink }) });
    const handle = await controller.start(nodeApp('chatty-log'));
    expect(lines).toContainEqual(expect.objectContaining({ level: 20, sandbox: 'chatty-log', stream: 'stdout', msg: `listening on http://127.0.0.1:${handle.port}` }));
  });

  it('is capped on disk: a flood of output leaves two files within the cap, the newest lines kept, and the app healthy', async (ctx) => {
    const { controller, logDir } = await useController(ctx, { logMaxBytes: 64 * 1024 });
    // 4 MiB in 64-byte lines before it listens, one marker line after.
    const flood = "const l = 'x'.repeat(63) + '\\n'; for (let i = 0; i < 65536; i++) process.stdout.write(l);";
    const serve = "require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), process.env.HOST, () => console.log('the last line'));";
    const handle = await controller.start(nodeApp('flood', {}, { command: [process.execPath, '-e', flood + serve] }));
    expect((await http(handle.port, '/')).body).toBe('ok');
    const file = join(logDir, 'flood.log');
    await until(async () => (await readFile(file, 'utf8')).endsWith('the last line\n'), 20_000, 'last line logged');
    for (const f of [file, `${file}.1`]) expect((await stat(f)).size).toBeLessThanOrEqual(64 * 1024);
    expect((await readdir(logDir)).sort()).toEqual(['flood.log', 'flood.log.1']);
  });
});

describe('file descriptors', () => {
  function fds(): string[] {
    return readdirSync('/proc/self/fd').flatMap((fd) => {
      try {
        return [`${fd} ${readlinkSync(`/proc/self/fd/${fd}`)}`];
      } catch {
        return []; // the fd of the listing itself
      }
    });
  }

  it('starts, failed starts, timeouts, aborted starts and stops leave none open', async (ctx) => {
    const { controller } = await useController(ctx);
    await controller.start(pythonApp('warm-up'));
    await controller.stop('warm-up');
    const before = fds();

    await controller.start(nodeApp('fd-ok'));
    await controller.stop('fd-ok');
    await controller.start(nodeApp('fd-exit', {}, { command: [process.execPath, '-e', 'process.exit(4)'] })).catch(() => undefined);
    await controller.start(nodeApp('fd-sick', { HEALTH: 'never' }, { health: { path: '/health', timeoutMs: 1_000 } })).catch(() => undefined);
    const half = controller.start(nodeApp('fd-half', { HEALTH: 'never' })).catch(() => undefined);
    await until(() => controller.status('fd-half')?.pid !== undefined, 20_000, 'spawned');
    await controller.stop('fd-half');
    await half;
    await controller.start(nodeApp('fd-no-cmd', {}, { command: ['jetsaga-no-such-program'] })).catch(() => undefined);

    // Sockets and pipes are closed by the time each call settles; the event loop may take a
    // moment to release them, so the comparison is waited for.
    await until(() => fds().join('\n') === before.join('\n'), 10_000, 'the same fds as before').catch(() => undefined);
    expect(fds()).toEqual(before);
  });
});

describe('lifecycle', () => {
  it('start is idempotent for the same spec, refuses another spec under the id, and starts afresh after stop', async (ctx) => {
    const { controller } = await useController(ctx);
    const spec = nodeApp('same', { APP_NAME: 'same' });
    const [a, b] = await Promise.all([controller.start(spec), controller.start({ ...spec, env: { APP_NAME: 'same' } })]);
    expect(b).toEqual(a);
    expect(await controller.start(spec)).toEqual(a);
    const conflict = await rejection(controller.start(nodeApp('same', { APP_NAME: 'other' })));
    expect(conflict).toMatchObject({ code: 'SANDBOX_CONFLICT', status: 409 });
    expect(gone(a.pid)).toBe(false);
    await controller.stop('same');
    const again = await controller.start(spec);
    expect(again.pid).not.toBe(a.pid);
  });

  it('a sandbox that dies while running is listed as exited with its exit code, its group cleared, and can be started again', async (ctx) => {
    const { controller } = await useController(ctx);
    const spec = nodeApp('crashy', { FORK_GRANDCHILD: '1' });
    const handle = await controller.start(spec);
    const { grandchild } = await pidsOf(handle.port);
    expect((await http(handle.port, '/crash')).body).toBe('crashing');
    await until(() => controller.status('crashy')?.state === 'exited', 20_000, 'sandbox seen exited');
    expect(controller.status('crashy')).toMatchObject({ state: 'exited', exit: { code: 7, signal: null }, pid: handle.pid });
    // What the app left behind goes too (after the controller's short grace).
    expect(await waitGone(grandchild!)).toBe(true);
    const again = await controller.start(spec);
    expect(again.pid).not.toBe(handle.pid);
    expect(controller.status('crashy')?.state).toBe('running');
  });

  it('close stops every sandbox and refuses later starts', async (ctx) => {
    const { controller } = await useController(ctx);
    const [a, b] = await Promise.all([controller.start(nodeApp('c-1')), controller.start(pythonApp('c-2'))]);
    await controller.close();
    expect(gone(a.pid)).toBe(true);
    expect(gone(b.pid)).toBe(true);
    expect(controller.list()).toEqual([]);
    expect(await rejection(controller.start(nodeApp('c-3')))).toMatchObject({ code: 'CLOSED' });
    await controller.close();
  });

  it('status and stop refuse ids that cannot be sandbox ids', async (ctx) => {
    const { controller } = await useController(ctx);
    expect(() => controller.status('../x')).toThrow(/sandbox id "..\/x" must match/);
    await expect(controller.stop('a b')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(controller.stop('x', { graceMs: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it, vi, type TestContext } from 'vitest';
import { EMBEDDED_CONFIG_FILE, EMBEDDED_SEED_FILE } from '../../src/boot/embedded-auth.js';
import { startEmbeddedNats, type EmbeddedNats } from '../../src/boot/embedded-nats.js';
import { startEmbeddedRegistry } from '../../src/boot/embedded-registry.js';
import { spawnManaged, ProcessExitedError } from '../../src/boot/managed-process.js';
import { MissingBinaryError } from '../../src/boot/missing-binary-error.js';
import { isListening, PortInUseError, waitListening } from '../../src/boot/port-probe.js';
import { SagaError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { freePort } from '../helpers/nats-server.js';
import { startRegistry } from '../helpers/registry.js';
import { killIfSame, startTimeOf } from '../helpers/ts-child.js';

const logger = createLogger({ name: 'embedded-test' });
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const parentFixture = fileURLToPath(new URL('../fixtures/embedded-parent.ts', import.meta.url));

const dirs: string[] = [];
const tempDir = async (): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), 'jetsaga-embedded-test-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Gone means no such pid, or a zombie nobody reaps (a container's init may not). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone(pid)) return true;
    await sleep(50);
  }
  return gone(pid);
}

/**
 * Live watchdog shells that `parentPid` started for `childPid`, found by their argv (`sh -c
 * <script> jetsaga-watchdog:<name> <parent pid> <child pid> <grace>`). Both pids must match:
 * other test files and processes run watchdogs too, and pids are reused quickly.
 */
function watchdogsFor(childPid: number, parentPid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const at = argv.findIndex((a) => a.startsWith('jetsaga-watchdog:'));
      if (at >= 0 && argv[at + 1] === String(parentPid) && argv[at + 2] === String(childPid) && !gone(Number(entry))) found.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  // A watchdog's shell forks briefly (a subshell, a sleep) and the forks carry its argv: count
  // only the watchdogs whose parent is not one of them.
  return found.filter((pid) => !found.includes(parentOf(pid)));
}

function parentOf(pid: number): number {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

async function fakeBin(script: string, mode = 0o755): Promise<string> {
  const path = join(await tempDir(), 'fake-bin');
  await writeFile(path, script);
  await chmod(path, mode);
  return path;
}

describe('embedded nats-server', () => {
  it('starts with JetStream on loopback and stops without leaving a process', async () => {
    const port = await freePort();
    const dataDir = await tempDir();
    const nats = await startEmbeddedNats({ dataDir, port, logger });
    expect(nats.url).toBe(`nats://127.0.0.1:${port}`);
    expect(nats.process.running).toBe(true);
    // Never open: the data dir's nkey (and its config, naming the public key) only for the owner.
    expect((await stat(join(dataDir, EMBEDDED_SEED_FILE))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, EMBEDDED_CONFIG_FILE))).mode & 0o777).toBe(0o600);
    await expect(connect({ servers: nats.url, reconnect: false })).rejects.toThrow(/Authorization Violation/);
    const nc = await connect({ servers: nats.url, authenticator: nats.auth.authenticator });
    const info = await (await jetstreamManager(nc)).getAccountInfo();
    expect(info.streams).toBe(0);
    await nc.close();
    const watchdogs = watchdogsFor(nats.process.pid, process.pid);
    expect(watchdogs).toHaveLength(1);

    const stopping = nats.stop();
    expect(nats.stop()).toBe(stopping);
    await stopping;
    expect(nats.process.running).toBe(false);
    expect(gone(nats.process.pid)).toBe(true);
    expect((await nats.process.exited).signal).not.toBe('SIGKILL');
    expect(await isListening('127.0.0.1', port, 500)).toBe(false);
    // The watchdog goes with the child.
    for (const w of watchdogs) expect(await waitGone(w, 20_000)).toBe(true);
  });

  it('keeps its streams across a stop and start on the same data dir', async () => {
    const dataDir = await tempDir();
    let nats: EmbeddedNats = await startEmbeddedNats({ dataDir, port: await freePort(), logger });
    const firstAuth = nats.auth;
    let nc = await connect({ servers: nats.url, authenticator: firstAuth.authenticator });
    await (await jetstreamManager(nc)).streams.add({ name: 'KEEP', subjects: ['keep.>'] });
    await jetstream(nc).publish('keep.one', 'persisted');
    await nc.close();
    await nats.stop();

    nats = await startEmbeddedNats({ dataDir, port: await freePort(), logger });
    try {
      // The same nkey after a restart: what a client read before still gets in.
      nc = await connect({ servers: nats.url, authenticator: firstAuth.authenticator });
      const msg = await (await jetstreamManager(nc)).streams.getMessage('KEEP', { seq: 1 });
      expect(msg?.subject).toBe('keep.one');
      expect(msg?.string()).toBe('persisted');
      await nc.close();
    } finally {
      await nats.stop();
    }
  });

  it('refuses a port that is already taken instead of probing a stranger', async () => {
    const srv = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => srv.once('listening', r));
    const addr = srv.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    try {
      await expect(startEmbeddedNats({ dataDir: await tempDir(), port, logger })).rejects.toBeInstanceOf(PortInUseError);
    } finally {
      srv.close();
    }
  });
});

describe('embedded docker-registry', () => {
  it('answers /v2/, binds loopback only, and stops', async () => {
    const port = await freePort();
    const reg = await startEmbeddedRegistry({ dataDir: await tempDir(), port, logger });
    expect(reg.url).toBe(`http://127.0.0.1:${port}`);
    const res = await fetch(`${reg.url}/v2/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect(readFileSync(reg.configPath, 'utf8')).toContain(`addr: "127.0.0.1:${port}"`);
    await reg.stop();
    expect(gone(reg.process.pid)).toBe(true);
    expect(await isListening('127.0.0.1', port, 500)).toBe(false);
  });

  it('test helper keeps blobs across kill and restart on the same port', async () => {
    const reg = await startRegistry();
    const blob = Buffer.from('hello registry');
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const start = await fetch(`${reg.url}/v2/t/blob/blobs/uploads/`, { method: 'POST' });
    expect(start.status).toBe(202);
    const location = new URL(start.headers.get('location') ?? '', reg.url);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream' } });
    expect(put.status).toBe(201);

    const firstPid = reg.pid;
    await reg.kill();
    expect(gone(firstPid)).toBe(true);
    await reg.restart();
    expect(reg.pid).not.toBe(firstPid);
    const head = await fetch(`${reg.url}/v2/t/blob/blobs/${digest}`, { method: 'HEAD' });
    expect(head.status).toBe(200);

    const { pid, dataDir } = reg;
    await reg.stop();
    await reg.stop();
    expect(gone(pid)).toBe(true);
    expect(readdirSync(tmpdir())).not.toContain(dataDir.split('/').pop());
  });
});

describe('start-up failures', () => {
  it('a missing binary rejects with MissingBinaryError and the install hint', async () => {
    const err = await startEmbeddedNats({ dataDir: await tempDir(), port: await freePort(), logger, bin: '/nonexistent/nats-server' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MissingBinaryError);
    expect(err).toMatchObject({ code: 'MISSING_BINARY' });
    expect((err as Error).message).toBe(
      'nats-server not found at /nonexistent/nats-server: install it (Debian: apt-get install nats-server) or set JETSAGA_NATS_SERVER_BIN',
    );
  });

  it('a binary that is not executable rejects with MissingBinaryError too', async () => {
    const bin = await fakeBin('#!/bin/sh\nexit 0\n', 0o644);
    const err = await startEmbeddedRegistry({ dataDir: await tempDir(), port: await freePort(), logger, bin }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MissingBinaryError);
    expect((err as Error).message).toContain('not executable');
    expect((err as Error).message).toContain('apt-get install docker-registry');
    expect((err as Error).message).toContain('JETSAGA_REGISTRY_BIN');
  });

  it('the env variable picks the binary', async () => {
    const before = process.env.JETSAGA_NATS_SERVER_BIN;
    process.env.JETSAGA_NATS_SERVER_BIN = '/nonexistent/from-env';
    try {
      await expect(startEmbeddedNats({ dataDir: await tempDir(), port: await freePort(), logger })).rejects.toThrow(/not found at \/nonexistent\/from-env/);
    } finally {
      if (before === undefined) delete process.env.JETSAGA_NATS_SERVER_BIN;
      else process.env.JETSAGA_NATS_SERVER_BIN = before;
    }
  });

  it('a process that exits during start-up rejects with its last output', async () => {
    const bin = await fakeBin('#!/bin/sh\ni=1\nwhile [ $i -le 30 ]; do echo "line $i"; i=$((i+1)); done\necho "fatal: cannot open store" >&2\nexit 3\n');
    // A start that waited for its ready timeout instead of seeing the exit would outlast the test.
    const err = await startEmbeddedNats({ dataDir: await tempDir(), port: await freePort(), logger, bin, readyTimeoutMs: 600_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProcessExitedError);
    const e = err as ProcessExitedError;
    expect(e.code).toBe('PROCESS_EXITED');
    expect(e.exit).toEqual({ code: 3, signal: null });
    expect(e.message).toContain('nats-server exited during start-up (code 3)');
    // The last 20 lines it printed, in order, and only those.
    expect(e.output).toEqual([...Array.from({ length: 19 }, (_, i) => `line ${i + 12}`), 'fatal: cannot open store']);
    expect(e.message).toContain(`last output:\n${e.output.join('\n')}`);
    expect(e.message).not.toContain('line 11\n');
  });

  it('a real docker-registry start-up failure reports the registry\'s own words', async () => {
    // The wrapper makes the real binary fail as it would on a broken install (config unreadable).
    const bin = await fakeBin(`#!/bin/sh\nexec /usr/bin/docker-registry serve /nonexistent/config.yml\n`);
    const err = await startEmbeddedRegistry({ dataDir: await tempDir(), port: await freePort(), logger, bin }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProcessExitedError);
    expect((err as Error).message).toMatch(/no such file or directory/i);
  });
});

describe('port probes and stop()', () => {
  it('waitListening times out with a TIMEOUT error and honours abort', async () => {
    const port = await freePort();
    expect(await isListening('127.0.0.1', port, 300)).toBe(false);
    const err = await waitListening('127.0.0.1', port, { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SagaError);
    expect(err).toMatchObject({ code: 'TIMEOUT', retryable: true });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('gave up')), 100);
    await expect(waitListening('127.0.0.1', port, { timeoutMs: 10_000, signal: ac.signal })).rejects.toThrow('gave up');
  });

  it('stop() sends SIGTERM, then SIGKILL once the timeout has passed if SIGTERM is ignored', async () => {
    // After SIGTERM the child ticks, so that the test can see it is still alive.
    const proc = await spawnManaged({
      name: 'stubborn',
      bin: process.execPath,
      args: ['-e', "let n = 0; process.on('SIGTERM', () => { console.log('ignoring SIGTERM'); setInterval(() => console.log(`tick ${++n}`), 20); }); console.log('ready'); setInterval(() => {}, 1000)"],
      logger,
    });
    const lastTick = (): number => Math.max(0, ...proc.recentOutput().map((l) => Number(/^tick (\d+)$/.exec(l)?.[1] ?? 0)));
    try {
      await waitFor(() => proc.recentOutput().includes('ready'));
      // The escalation timer runs on a fake clock (our waits do not use it): the timeout
      // passes when the test says so, however slow the machine.
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const stopping = proc.stop({ timeoutMs: 300 });
      await waitFor(() => proc.recentOutput().includes('ignoring SIGTERM'));
      vi.advanceTimersByTime(299);
      // Still alive just before the timeout: it goes on ticking.
      const seen = lastTick();
      await waitFor(() => lastTick() > seen);
      expect(proc.running).toBe(true);
      vi.advanceTimersByTime(1);
      await stopping;
      expect(await proc.exited).toEqual({ code: null, signal: 'SIGKILL' });
      expect(gone(proc.pid)).toBe(true);
    } finally {
      vi.useRealTimers();
      proc.kill('SIGKILL');
    }
  });
});

describe('orphan safety', () => {
  async function startParent(ctx: TestContext, mode: 'wait' | 'exit'): Promise<{ parentPid: number; natsPid: number; port: number }> {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', parentFixture, await tempDir(), String(port), mode], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const started: { parentPid?: number; natsPid?: number; natsStart?: string } = {};
    // Whatever the test did, the parent, its nats-server and that server's watchdog (its own
    // process group, with its sleep) are gone when it ends.
    ctx.onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      const { parentPid, natsPid, natsStart } = started;
      if (parentPid === undefined || natsPid === undefined) return;
      for (const w of watchdogsFor(natsPid, parentPid)) killIfSame(w, startTimeOf(w), true);
      killIfSame(natsPid, natsStart);
    });
    let out = '';
    let errOut = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (errOut += c));
    const deadline = Date.now() + 20_000;
    while (!out.includes('\n')) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`parent fixture did not report (exit ${child.exitCode}): ${errOut}`);
      }
      await sleep(20);
    }
    const pids = JSON.parse(out.split('\n')[0]!) as { parentPid: number; natsPid: number };
    Object.assign(started, pids, { natsStart: startTimeOf(pids.natsPid) });
    return { ...pids, port };
  }

  it('a SIGKILLed parent does not leave its nats-server running', async (ctx) => {
    const { parentPid, natsPid, port } = await startParent(ctx, 'wait');
    expect(gone(natsPid)).toBe(false);
    expect(await isListening('127.0.0.1', port, 5_000)).toBe(true);
    const watchdogs = watchdogsFor(natsPid, parentPid);
    expect(watchdogs).toHaveLength(1);
    process.kill(parentPid, 'SIGKILL');
    expect(await waitGone(natsPid, 20_000)).toBe(true);
    for (const w of watchdogs) expect(await waitGone(w, 20_000)).toBe(true);
    expect(await isListening('127.0.0.1', port, 5_000)).toBe(false);
  }, 60_000);

  it('a parent that exits without stop() takes its nats-server along', async (ctx) => {
    const { parentPid, natsPid, port } = await startParent(ctx, 'exit');
    expect(await waitGone(parentPid, 20_000)).toBe(true);
    expect(await waitGone(natsPid, 20_000)).toBe(true);
    expect(await isListening('127.0.0.1', port, 5_000)).toBe(false);
  }, 60_000);
});

/** Waits for `cond`; the timeout only bounds a wait for something that is not coming. */
async function waitFor(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

/**
 * Starts a real nats-server with JetStream for a test file, on loopback only, and makes sure it
 * never outlives the test process: children are tracked and killed on exit, and a tiny detached
 * watchdog kills the server if this process dies without running its exit hooks (SIGKILL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type ConnectionOptions } from '@nats-io/transport-node';

const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 10_000;

export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** The pid of the current server process (changes on restart). */
  readonly pid: number;
  /** SIGTERM, wait for exit, remove the store dir unless the caller supplied it. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit; the store dir stays so that `restart` can reuse it. */
  kill(): Promise<void>;
  /** Starts again on the same port and store dir (stopping the running server first, gently). */
  restart(): Promise<void>;
}

export interface StartNatsServerOptions {
  storeDir?: string;
  port?: number;
  /** More server configuration (e.g. `authorization { … }`, `tls { … }`), written to a config file. */
  config?: string;
  /** What the readiness probe needs to get in (credentials, TLS) when `config` asks for it. */
  probe?: Pick<ConnectionOptions, 'authenticator' | 'tls'>;
}

/** A port that was free a moment ago; prefer `port: undefined` (the server picks one itself). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

export async function startNatsServer(opts: StartNatsServerOptions = {}): Promise<NatsServerHandle> {
  const ownsStore = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? (await mkdtemp(join(tmpdir(), 'jetsaga-nats-store-')));
  // The ports file lives apart from the store so that a caller's store dir is left untouched.
  const runDir = await mkdtemp(join(tmpdir(), 'jetsaga-nats-run-'));
  const owned = ownsStore ? [runDir, storeDir] : [runDir];
  for (const d of owned) ownedDirs.add(d);
  const removeOwned = async (): Promise<void> => {
    for (const d of owned) {
      await rm(d, { recursive: true, force: true });
      ownedDirs.delete(d);
    }
  };
  let proc: RunningServer;
  try {
    if (opts.config !== undefined) await writeFile(join(runDir, 'extra.conf'), opts.config, { mode: 0o600 });
    proc = await launch(storeDir, runDir, opts, opts.port, owned);
  } catch (err) {
    await removeOwned();
    throw err;
  }
  const port = proc.port;
  let stopped = false;

  const handle: NatsServerHandle = {
    url: `nats://${HOST}:${port}`,
    port,
    storeDir,
    get pid() {
      return proc.child.pid ?? -1;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await terminate(proc, 'SIGTERM');
      await removeOwned();
    },
    async kill() {
      await terminate(proc, 'SIGKILL');
    },
    async restart() {
      if (stopped) throw new Error('nats-server handle was stopped');
      await terminate(proc, 'SIGTERM');
      proc = await launch(storeDir, runDir, opts, port, owned);
    },
  };
  return handle;
}

interface RunningServer {
  readonly child: ChildProcess;
  port: number;
  readonly exited: Promise<void>;
  readonly watchdog: ChildProcess | undefined;
}

const live = new Set<RunningServer>();
/** Directories to remove if the process exits without `stop()`; only ones we created. */
const ownedDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const s of live) {
      s.child.kill('SIGKILL');
      s.watchdog?.kill('SIGKILL');
    }
    for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
  });
}

async function launch(storeDir: string, runDir: string, opts: StartNatsServerOptions, port: number | undefined, cleanup: readonly string[]): Promise<RunningServer> {
  installExitHook();
  // Flags win over the config file: address, port and store stay the helper's.
  const config = opts.config === undefined ? [] : ['-c', join(runDir, 'extra.conf')];
  const args = [...config, '-js', '-a', HOST, '-p', String(port ?? -1), '-sd', storeDir, '--ports_file_dir', runDir];
  const child = spawn(NATS_SERVER_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    // Keep the tail only: enough to explain a failed start.
    stderr = (stderr + chunk).slice(-8_000);
  });
  let exitedFlag = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exitedFlag = true;
      resolve();
    });
  });
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  spawnError.catch(() => undefined);

  const pid = child.pid;
  const running: RunningServer = {
    child,
    port: 0,
    exited,
    watchdog: pid === undefined ? undefined : startWatchdog(pid, cleanup),
  };
  live.add(running);
  void exited.then(() => {
    live.delete(running);
    running.watchdog?.kill('SIGKILL');
  });

  try {
    if (pid === undefined) await spawnError;
    const portsFile = join(runDir, `nats-server_${pid}.ports`);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    const actualPort = await Promise.race([
      waitForPortsFile(portsFile, deadline, () => exitedFlag),
      spawnError,
    ]);
    await waitForJetStream(actualPort, deadline, () => exitedFlag, opts.probe);
    running.port = actualPort;
    return running;
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`nats-server did not start (${reason}); stderr tail:\n${stderr}`, { cause: err });
  }
}

async function waitForPortsFile(file: string, deadline: number, hasExited: () => boolean): Promise<number> {
  while (Date.now() < deadline) {
    if (hasExited()) throw new Error('process exited');
    try {
      const parsed = JSON.parse(await readFile(file, 'utf8')) as { nats?: string[] };
      const url = parsed.nats?.[0];
      const port = url ? Number(new URL(url).port) : NaN;
      if (Number.isInteger(port) && port > 0) return port;
    } catch {
      // not written yet (or half-written)
    }
    await sleep(20);
  }
  throw new Error('timed out waiting for the ports file');
}

async function waitForJetStream(port: number, deadline: number, hasExited: () => boolean, probe: StartNatsServerOptions['probe']): Promise<void> {
  while (!(await tcpOpen(port))) {
    if (hasExited()) throw new Error('process exited');
    if (Date.now() > deadline) throw new Error('timed out waiting for the TCP port');
    await sleep(20);
  }
  const nc = await connect({ servers: `${HOST}:${port}`, maxReconnectAttempts: 0, name: 'nats-server-probe', ...probe });
  try {
    while (Date.now() < deadline) {
      if (hasExited()) throw new Error('process exited');
      try {
        const m = await nc.request('$JS.API.INFO', '', { timeout: 500 });
        const info = m.json<{ error?: unknown }>();
        if (!info.error) return;
      } catch {
        // no responders until JetStream is up
      }
      await sleep(20);
    }
    throw new Error('timed out waiting for JetStream');
  } finally {
    await nc.close();
  }
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: HOST, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Kills the server (and removes the temp dirs) if this process disappears; exits by itself
 * when the server does. A killed parent lingers as a zombie until reaped, and `kill -0`
 * succeeds on zombies, so liveness is read from /proc. The server's pid is re-checked once a
 * second, so pid reuse is not a practical risk.
 */
export function startWatchdog(serverPid: number, cleanup: readonly string[]): ChildProcess | undefined {
  const script =
    'alive() { st=$(sed -n "s/^[0-9]* (.*) \\(.\\) .*/\\1/p" "/proc/$1/stat" 2>/dev/null); ' +
    '[ -n "$st" ] && [ "$st" != Z ]; }; ' +
    'parent=$1; server=$2; shift 2; ' +
    'while alive "$parent" && alive "$server"; do sleep 1; done; ' +
    'if ! alive "$parent"; then kill -9 "$server" 2>/dev/null; sleep 0.2; rm -rf "$@"; fi';
  try {
    const args = ['-c', script, 'jetsaga-nats-watchdog', String(process.pid), String(serverPid), ...cleanup];
    const w = spawn('sh', args, {
      detached: true,
      stdio: 'ignore',
    });
    w.on('error', () => undefined);
    w.unref();
    return w;
  } catch {
    return undefined;
  }
}

async function terminate(s: RunningServer, signal: NodeJS.Signals): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  s.child.kill(signal);
  const timer = setTimeout(() => s.child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await s.exited;
  } finally {
    clearTimeout(timer);
  }
}

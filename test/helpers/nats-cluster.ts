/**
 * Starts a three-node nats-server JetStream cluster on loopback for a test file, with the
 * configuration of notes/nats.md §8 (server_name, cluster name, every route listed, a fresh
 * store dir per node) on free ports, and waits until a meta leader is elected (a JetStream API
 * call succeeds). Nodes are tracked, killed on exit and watched by the same detached watchdog
 * as single servers, so none outlives the test process even when it is SIGKILLed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { freePort, startWatchdog } from './nats-server.js';

const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const HOST = '127.0.0.1';
const SIZE = 3;
/** A meta leader was measured 2.3–5.3 s after start; generous for a loaded machine. */
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;

export interface ClusterNode {
  /** `n1`, `n2`, `n3`: the server_name, which stream info reports as leader/replica names. */
  readonly name: string;
  readonly url: string;
  readonly port: number;
  /** The pid of the running process, or undefined while the node is down. */
  readonly pid: number | undefined;
  readonly running: boolean;
}

export interface NatsClusterHandle {
  readonly nodes: readonly ClusterNode[];
  /** Every node's client URL. */
  readonly urls: readonly string[];
  /** The URLs comma-separated, as `--nats` takes them. */
  readonly servers: string;
  /** The temp dir holding every node's config and store (removed by `stop`). */
  readonly dir: string;
  /** The index of the node called `name` (a stream's `cluster.leader`). */
  indexOf(name: string): number;
  /** SIGKILL node `i` and wait for it to exit; its store stays for `restart`. */
  kill(i: number): Promise<void>;
  /** Starts node `i` again on its ports and store (stopping it gently first if it runs). */
  restart(i: number): Promise<void>;
  /** Resolves once a JetStream API call succeeds (a meta leader is elected). */
  waitForMetaLeader(): Promise<void>;
  /** SIGTERM every node, wait for them, remove the store dirs. Idempotent. */
  stop(): Promise<void>;
}

interface NodeState {
  readonly name: string;
  readonly port: number;
  readonly conf: string;
  child: ChildProcess | undefined;
  exited: Promise<void> | undefined;
  watchdog: ChildProcess | undefined;
  stderr: string;
}

const liveChildren = new Set<ChildProcess>();
const ownedRoots = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of liveChildren) c.kill('SIGKILL');
    for (const dir of ownedRoots) rmSync(dir, { recursive: true, force: true });
  });
}

export async function startNatsCluster(): Promise<NatsClusterHandle> {
  installExitHook();
  const root = await mkdtemp(join(tmpdir(), 'jetsaga-nats-cluster-'));
  ownedRoots.add(root);
  const nodes: NodeState[] = [];
  let stopped = false;

  const stopAll = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => terminate(n, 'SIGTERM')));
    await rm(root, { recursive: true, force: true });
    ownedRoots.delete(root);
  };

  try {
    const ports = await distinctFreePorts(SIZE * 3);
    const client = ports.slice(0, SIZE);
    const route = ports.slice(SIZE, SIZE * 2);
    const http = ports.slice(SIZE * 2);
    for (let i = 0; i < SIZE; i++) {
      const name = `n${i + 1}`;
      const store = join(root, name);
      await mkdir(store, { recursive: true });
      const conf = join(root, `${name}.conf`);
      await writeFile(conf, nodeConfig({ name, port: client[i]!, http: http[i]!, route: route[i]!, routes: route, store }));
      nodes.push({ name, port: client[i]!, conf, child: undefined, exited: undefined, watchdog: undefined, stderr: '' });
    }
    await Promise.all(nodes.map((n) => launch(n, root)));
    await waitForMetaLeader(nodes);
  } catch (err) {
    const tails = nodes.map((n) => `--- ${n.name}:\n${n.stderr.slice(-2_000)}`).join('\n');
    await stopAll();
    throw new Error(`the nats-server cluster did not start (${(err as Error).message})\n${tails}`, { cause: err });
  }

  const view = (n: NodeState): ClusterNode => ({
    name: n.name,
    url: `nats://${HOST}:${n.port}`,
    port: n.port,
    get pid() {
      return n.child?.pid;
    },
    get running() {
      return isRunning(n);
    },
  });
  const node = (i: number): NodeState => {
    const n = nodes[i];
    if (!n) throw new Error(`no cluster node ${i}`);
    return n;
  };
  const urls = nodes.map((n) => `nats://${HOST}:${n.port}`);
  return {
    nodes: nodes.map(view),
    urls,
    servers: urls.join(','),
    dir: root,
    indexOf(name) {
      const i = nodes.findIndex((n) => n.name === name);
      if (i < 0) throw new Error(`no cluster node named ${name}`);
      return i;
    },
    async kill(i) {
      await terminate(node(i), 'SIGKILL');
    },
    async restart(i) {
      if (stopped) throw new Error('the cluster was stopped');
      const n = node(i);
      await terminate(n, 'SIGTERM');
      await launch(n, root);
    },
    waitForMetaLeader: () => waitForMetaLeader(nodes),
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopAll();
    },
  };
}

function nodeConfig(o: { name: string; port: number; http: number; route: number; routes: readonly number[]; store: string }): string {
  return [
    `server_name: ${o.name}`,
    `listen: ${HOST}:${o.port}`,
    `http: ${HOST}:${o.http}`,
    '',
    'jetstream {',
    `  store_dir: ${JSON.stringify(o.store)}`,
    '  max_file_store: 1GB',
    '  max_memory_store: 256MB',
    '}',
    '',
    'cluster {',
    '  name: saga-cluster',
    `  listen: ${HOST}:${o.route}`,
    '  routes: [',
    ...o.routes.map((p) => `    nats-route://${HOST}:${p}`),
    '  ]',
    '}',
    '',
  ].join('\n');
}

/** Free ports, distinct from each other (a port freed a moment ago may be handed out twice). */
async function distinctFreePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort());
  return [...out];
}

function isRunning(n: NodeState): boolean {
  return n.child !== undefined && n.child.exitCode === null && n.child.signalCode === null;
}

/** Spawns the node and waits until its client port accepts a NATS connection. */
async function launch(n: NodeState, root: string): Promise<void> {
  const child = spawn(NATS_SERVER_BIN, ['-c', n.conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  n.child = child;
  n.stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    n.stderr = (n.stderr + chunk).slice(-8_000);
  });
  liveChildren.add(child);
  n.exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void n.exited.then(() => {
    liveChildren.delete(child);
    n.watchdog?.kill('SIGKILL');
  });
  child.once('error', () => undefined);
  n.watchdog = child.pid === undefined ? undefined : startWatchdog(child.pid, [root]);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (!isRunning(n)) throw new Error(`node ${n.name} exited: ${n.stderr.slice(-1_000)}`);
    try {
      const nc = await connect({ servers: `${HOST}:${n.port}`, maxReconnectAttempts: 0, timeout: 1_000, name: 'nats-cluster-probe' });
      await nc.close();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`node ${n.name} did not accept connections`);
      await sleep(50);
    }
  }
}

/**
 * `$JS.API.INFO` is answered by the meta leader only: no responders or a 503 ("JetStream
 * system temporarily unavailable") until one is elected.
 */
async function waitForMetaLeader(nodes: readonly NodeState[]): Promise<void> {
  const servers = nodes.filter(isRunning).map((n) => `${HOST}:${n.port}`);
  const nc: NatsConnection = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 100, name: 'nats-cluster-probe' });
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      try {
        const m = await nc.request('$JS.API.INFO', '', { timeout: 1_000 });
        if (!m.json<{ error?: unknown }>().error) return;
      } catch {
        // no responders until a meta leader exists
      }
      await sleep(100);
    }
    throw new Error('timed out waiting for a JetStream meta leader');
  } finally {
    await nc.close();
  }
}

async function terminate(n: NodeState, signal: NodeJS.Signals): Promise<void> {
  const child = n.child;
  if (!child || !isRunning(n)) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await n.exited;
  } finally {
    clearTimeout(timer);
  }
}

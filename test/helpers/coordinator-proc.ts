/**
 * Runs test/fixtures/crash-coordinator.ts as a child process: spawn, wait for `ready`, send
 * commands, SIGKILL, wait for exit, read the step calls it recorded. Every child is killed
 * when the test process exits, and a child kills itself when its stdin closes, so none
 * outlives the test run (even one whose parent was SIGKILLed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'vitest';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { CallRecord, CoordinatorCommand, CoordinatorOptions } from '../fixtures/crash-coordinator.js';
import { orderBinding } from '../fixtures/order-saga.js';
import { slowOrderBinding } from '../fixtures/slow-retry-saga.js';
import { readJsonLines } from './json-lines.js';
import { until as waitUntil } from './until.js';

export type { CallRecord };

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'crash-coordinator.ts');
const READY_TIMEOUT_MS = 20_000;

export interface CoordinatorSpec extends CoordinatorOptions {
  readonly url: string;
  readonly namespace: string;
  readonly owner: string;
  readonly leaseTtlMs?: number;
  /** `<point>:<event type prefix>` (src/runtime/crash-points.ts). */
  readonly crashAt?: string;
  /** Another entry point that speaks this protocol (default: test/fixtures/crash-coordinator.ts). */
  readonly script?: string;
  /** Where the child records its step calls (default: a file in a temp dir removed at exit). */
  readonly callsFile?: string;
  /** Extra environment variables for the child. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface CoordinatorProc {
  readonly owner: string;
  readonly pid: number;
  readonly callsFile: string;
  /** Resolves on `ready`; rejects if the process exits first or takes too long. */
  readonly ready: Promise<void>;
  readonly exited: Promise<ExitInfo>;
  /** Step calls recorded so far (a line cut short by a kill is skipped). */
  calls(): CallRecord[];
  /** Sends a command; resolves with its result, rejects with `{ code, message, retryable? }` or on exit. */
  request<T = unknown>(cmd: CoordinatorCommand): Promise<T>;
  /** SIGKILL (if still running) and wait for the exit. */
  kill(): Promise<ExitInfo>;
  /** The tail of its stderr, to explain a failure. */
  stderr(): string;
}

const children = new Set<ChildProcess>();
const tmpDirs = new Set<string>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const c of children) c.kill('SIGKILL');
    for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
  });
}

let tmpRoot: string | undefined;
function callsDir(): string {
  if (!tmpRoot) {
    tmpRoot = mkdtempSync(join(tmpdir(), 'jetsaga-crash-calls-'));
    tmpDirs.add(tmpRoot);
  }
  return tmpRoot;
}

let seq = 0;

export function spawnCoordinator(spec: CoordinatorSpec): CoordinatorProc {
  hookExit();
  const callsFile = spec.callsFile ?? join(callsDir(), `${spec.namespace}-${spec.owner}-${seq++}.jsonl`);
  const options: CoordinatorOptions = { start: spec.start, recoverIntervalMs: spec.recoverIntervalMs, recoverOnStart: spec.recoverOnStart, clockSkewMs: spec.clockSkewMs, replicas: spec.replicas, gracefulOnSigterm: spec.gracefulOnSigterm };
  const env: NodeJS.ProcessEnv = { ...process.env, ...spec.env, JETSAGA_CALLS_FILE: callsFile };
  delete env.JETSAGA_CRASH_AT;
  if (spec.crashAt) env.JETSAGA_CRASH_AT = spec.crashAt;
  const args = ['--import', 'tsx', spec.script ?? SCRIPT, spec.url, spec.namespace, spec.owner, String(spec.leaseTtlMs ?? 10_000), JSON.stringify(options)];
  const child = spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);

  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-8_000)));
  // A write to a child that just died must not crash the test process.
  child.stdin!.on('error', () => undefined);

  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });

  const pendingRequests = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let nextId = 1;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`coordinator ${spec.owner} not ready after ${READY_TIMEOUT_MS} ms; stderr:\n${stderr}`)), READY_TIMEOUT_MS);
    markReady = () => {
      clearTimeout(timer);
      resolve();
    };
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`coordinator ${spec.owner} exited (${e.signal ?? e.code}) before ready; stderr:\n${stderr}`));
    });
  });
  // Awaiting it is optional (a child told to crash may never be ready).
  ready.catch(() => undefined);

  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line === 'ready') return markReady();
    let msg: { id?: number; ok?: boolean; result?: unknown; error?: { code: string; message: string; retryable?: boolean } };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return; // not ours
    }
    const p = msg.id === undefined ? undefined : pendingRequests.get(msg.id);
    if (!p) return;
    pendingRequests.delete(msg.id!);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(Object.assign(new Error(msg.error?.message ?? 'failed'), { code: msg.error?.code, retryable: msg.error?.retryable }));
  });
  // The outcome of a command in flight is unknown: the caller may retry it elsewhere.
  let exit: ExitInfo | undefined;
  const gone = (e: ExitInfo): Error => Object.assign(new Error(`coordinator ${spec.owner} exited (${e.signal ?? e.code})`), { code: 'COORDINATOR_EXITED', retryable: true });
  void exited.then((e) => {
    exit = e;
    for (const p of pendingRequests.values()) p.reject(gone(e));
    pendingRequests.clear();
  });

  return {
    owner: spec.owner,
    pid: child.pid!,
    callsFile,
    ready,
    exited,
    calls: () => readCalls(callsFile),
    request<T>(cmd: CoordinatorCommand): Promise<T> {
      const id = nextId++;
      // Nothing would ever answer a command written to a child that is gone.
      if (exit) return Promise.reject(gone(exit));
      return new Promise<T>((resolve, reject) => {
        pendingRequests.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.stdin!.write(`${JSON.stringify({ id, ...cmd })}\n`);
      });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
    stderr: () => stderr,
  };
}

/** Kills every child still running and waits for them (for afterAll / afterEach). */
export async function killAllCoordinators(): Promise<void> {
  const running = [...children];
  for (const c of running) c.kill('SIGKILL');
  await Promise.all(running.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
}

export function readCalls(file: string): CallRecord[] {
  return readJsonLines<CallRecord>(file);
}

export interface Scenario {
  readonly namespace: string;
  /**
   * A runtime in the test process that only reads (`get`, `events`, `wait`): it never
   * recovers, so it never takes a saga over.
   */
  readonly observer: Runtime;
  /** Spawns a coordinator on this scenario's server and namespace; killed when the test ends. */
  spawn(spec: Omit<CoordinatorSpec, 'url' | 'namespace'>): CoordinatorProc;
  /** `spawn`, then wait for `ready`. */
  coordinator(spec: Omit<CoordinatorSpec, 'url' | 'namespace'>): Promise<CoordinatorProc>;
}

let nsCounter = 0;

/**
 * A fresh namespace with an observer runtime, for one test (concurrent tests included): its
 * children are killed and its observer closed when the test finishes; their stderr is printed
 * if it failed.
 */
export async function scenario(ctx: TestContext, url: string): Promise<Scenario> {
  const namespace = `c${process.pid}x${nsCounter++}`;
  const observer = await createRuntime({
    servers: url,
    namespace,
    owner: 'observer',
    machines: [orderBinding(), slowOrderBinding()],
    recoverOnStart: false,
    recoverIntervalMs: 0,
  });
  const procs: CoordinatorProc[] = [];
  ctx.onTestFailed(() => {
    for (const p of procs) console.error(`--- coordinator ${p.owner} (pid ${p.pid}) stderr tail:\n${p.stderr()}`);
  });
  ctx.onTestFinished(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    await observer.close();
  });
  const spawn = (spec: Omit<CoordinatorSpec, 'url' | 'namespace'>): CoordinatorProc => {
    const p = spawnCoordinator({ ...spec, url, namespace });
    procs.push(p);
    return p;
  };
  return {
    namespace,
    observer,
    spawn,
    async coordinator(spec) {
      const p = spawn(spec);
      await p.ready;
      return p;
    },
  };
}

/** `until` (helpers/until.ts) with the description first, as these tests read best. */
export function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  return waitUntil(cond, timeoutMs, what);
}

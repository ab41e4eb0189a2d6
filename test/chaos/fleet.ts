/**
 * The chaos coordinators: one child process per slot at a time, each a `createRuntime` over
 * the test's nats-server (test/chaos/chaos-coordinator.ts, run through
 * test/helpers/coordinator-proc.ts, whose exit hook kills every child). SIGKILL, replace under
 * the same or a new owner name, and stall past the lease TTL (SIGSTOP … SIGCONT), each logged
 * with pid and time.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CoordinatorCommand } from '../fixtures/crash-coordinator.js';
import { spawnCoordinator, type CoordinatorProc } from '../helpers/coordinator-proc.js';
import type { ChaosLog } from './chaos-log.js';
import type { Slot } from './schedule.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'chaos-coordinator.ts');

export interface FleetOptions {
  readonly url: string;
  readonly namespace: string;
  readonly leaseTtlMs: number;
  readonly recoverIntervalMs: number;
  /** Where run logs and coordinator logs go. */
  readonly dir: string;
  readonly log: ChaosLog;
}

/** One coordinator process, with where it writes. */
export interface Member {
  readonly slot: Slot;
  readonly owner: string;
  readonly proc: CoordinatorProc;
  readonly runFile: string;
  readonly logFile: string;
}

export class Fleet {
  /** Every process started, in order (their run logs are read at the end). */
  readonly members: Member[] = [];
  private readonly current = new Map<Slot, Member>();
  private readonly generation = new Map<Slot, number>();
  private readonly killed = new Set<number>();
  private readonly stalls = new Set<ReturnType<typeof spawn>>();
  private stopped = false;

  constructor(private readonly opts: FleetOptions) {}

  /** Starts a process in `slot` under `owner` (not waiting for it to be ready). */
  spawn(slot: Slot, owner: string): Member {
    if (this.stopped) throw new Error('the fleet was stopped');
    const n = this.members.length;
    const runFile = join(this.opts.dir, `runs-${n}-${owner}.jsonl`);
    const logFile = join(this.opts.dir, `log-${n}-${owner}.jsonl`);
    const proc = spawnCoordinator({
      script: SCRIPT,
      url: this.opts.url,
      namespace: this.opts.namespace,
      owner,
      leaseTtlMs: this.opts.leaseTtlMs,
      recoverIntervalMs: this.opts.recoverIntervalMs,
      callsFile: runFile,
      env: { JETSAGA_CHAOS_LOG: logFile },
    });
    const m: Member = { slot, owner, proc, runFile, logFile };
    this.members.push(m);
    this.current.set(slot, m);
    this.opts.log.add({ kind: 'spawn', t: Date.now(), slot, owner, pid: proc.pid });
    void proc.exited.then((e) => {
      if (this.killed.has(proc.pid)) return;
      // Not our doing: the runtime closed itself, or the process crashed. Record it and put a
      // process back in the slot, as a supervisor would.
      this.opts.log.add({ kind: 'exit', t: Date.now(), slot, owner, pid: proc.pid, code: e.code, signal: e.signal });
      if (!this.stopped && this.current.get(slot) === m) setTimeout(() => !this.stopped && this.current.get(slot) === m && this.spawn(slot, owner), 300);
    });
    return m;
  }

  /** A fresh owner name for a slot's replacement: A → A1 → A2 … */
  nextOwner(slot: Slot): string {
    const g = (this.generation.get(slot) ?? 0) + 1;
    this.generation.set(slot, g);
    return `${slot}${g}`;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  member(slot: Slot): Member | undefined {
    return this.current.get(slot);
  }

  /** Slots whose process runs (ready or still starting). */
  liveSlots(): Slot[] {
    return [...this.current.entries()].filter(([, m]) => !this.killed.has(m.proc.pid)).map(([s]) => s);
  }

  request<T>(slot: Slot, cmd: CoordinatorCommand): Promise<T> {
    const m = this.current.get(slot);
    if (!m) return Promise.reject(Object.assign(new Error(`no coordinator in slot ${slot}`), { code: 'NO_COORDINATOR', retryable: true }));
    return m.proc.request<T>(cmd);
  }

  /** SIGKILLs the slot's process and waits for it to be gone. */
  async kill(slot: Slot, why: 'chaos' | 'burst' | 'shutdown'): Promise<void> {
    const m = this.current.get(slot);
    if (!m || this.killed.has(m.proc.pid)) return;
    this.killed.add(m.proc.pid);
    this.opts.log.add({ kind: 'kill', t: Date.now(), slot, owner: m.owner, pid: m.proc.pid, why });
    await m.proc.kill();
  }

  /**
   * SIGSTOP, wait, SIGCONT. A shell does both signals, so the SIGCONT comes even if this
   * process dies meanwhile (the stopped child then sees its stdin closed and exits).
   */
  async stall(slot: Slot, ms: number): Promise<void> {
    const m = this.current.get(slot);
    if (!m || this.killed.has(m.proc.pid)) return;
    const t = Date.now();
    const sh = spawn('sh', ['-c', 'kill -STOP "$1" && sleep "$2"; kill -CONT "$1" 2>/dev/null', 'jetsaga-chaos-stall', String(m.proc.pid), (ms / 1000).toFixed(3)], { stdio: 'ignore' });
    this.stalls.add(sh);
    await new Promise<void>((resolve) => sh.once('exit', () => resolve()));
    this.stalls.delete(sh);
    this.opts.log.add({ kind: 'stall', t, until: Date.now(), slot, owner: m.owner, pid: m.proc.pid });
  }

  /** Kills every process (and pending stalls); no more replacements. */
  async stop(why: 'shutdown'): Promise<void> {
    this.stopped = true;
    for (const sh of this.stalls) sh.kill('SIGKILL');
    await Promise.all([...this.current.keys()].map((slot) => this.kill(slot, why)));
    // Processes replaced in their slot are dead already; this only waits for stragglers.
    await Promise.all(this.members.map((m) => m.proc.kill()));
  }
}

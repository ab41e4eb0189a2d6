/**
 * The clients: start sagas and cancel some, through whichever coordinator is up, as a caller
 * of the runtime would. A start that fails with a retryable error (the journal unavailable,
 * the coordinator gone mid-request, no answer in time) is retried, on another coordinator if
 * there is one; `start` is idempotent for an id. Every attempt and its outcome is recorded: a
 * start counts as acknowledged once any attempt returned without error, however late.
 */
import type { SagaInfo, SendResult } from '../../src/runtime/types.js';
import type { Fleet } from './fleet.js';
import { Prng } from './prng.js';
import type { Slot } from './schedule.js';
import { CHAOS_MACHINE, type ChaosInput } from './chaos-saga.js';
import { sleep, withTimeout } from './waiting.js';

/** A request not answered in this long counts as failed (it may still succeed later). */
const REQUEST_TIMEOUT_MS = 8_000;
const RETRY_PAUSE_MS: readonly [number, number] = [150, 500];
/** Codes of failures a caller may retry; the rest are final. */
const RETRYABLE = new Set(['JOURNAL_UNAVAILABLE', 'NOT_OWNER', 'COORDINATOR_EXITED', 'NO_COORDINATOR', 'REQUEST_TIMEOUT', 'CLOSED']);

export interface Attempt {
  readonly id: string;
  readonly n: number;
  readonly slot: Slot | undefined;
  readonly owner: string | undefined;
  readonly t: number;
  /** When it settled (late answers included). */
  tDone?: number;
  outcome: 'pending' | 'ok' | 'error';
  code?: string;
  message?: string;
  /** What an acknowledged start answered: the saga's status, entries (0: none) and owner. */
  status?: string;
  seq?: number;
  sagaOwner?: string;
  /** An answer that came after the attempt had been given up on (timeout). */
  late?: boolean;
}

export interface CancelRecord {
  readonly id: string;
  readonly t: number;
  readonly owner: string | undefined;
  outcome: 'accepted' | 'ignored' | 'error';
  code?: string;
}

export class Traffic {
  readonly starts = new Map<string, Attempt[]>();
  readonly cancels: CancelRecord[] = [];
  private readonly jobs = new Set<Promise<void>>();
  private readonly rng: Prng;
  private draining = false;

  constructor(
    private readonly fleet: Fleet,
    seed: number,
  ) {
    // Routing follows real timing (which coordinator is up), so it is seeded but not replayable.
    this.rng = new Prng(seed).fork(7);
  }

  /** Ids with at least one acknowledged start. */
  acked(): string[] {
    return [...this.starts].filter(([, a]) => a.some((x) => x.outcome === 'ok')).map(([id]) => id);
  }

  /** Starts `id`, retrying retryable failures until acknowledged or drained. */
  start(id: string, input: ChaosInput, first?: Slot): void {
    this.track(this.startJob(id, input, first));
  }

  /** Sends the same start to `slot` once, without retrying (a burst's second copy). */
  startOnce(id: string, input: ChaosInput, slot: Slot): Promise<boolean> {
    return this.attempt(id, input, slot).then((a) => a.outcome === 'ok');
  }

  /** Sends `saga.cancel`; a coordinator that does not own the saga passes it to the other. */
  cancel(id: string): void {
    this.track(this.cancelJob(id));
  }

  /** Stops retrying and waits (bounded) for the requests in flight. */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.jobs]), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  private track(p: Promise<void>): void {
    this.jobs.add(p);
    void p.finally(() => this.jobs.delete(p));
  }

  private pickSlot(prefer?: Slot): Slot | undefined {
    const live = this.fleet.liveSlots();
    if (prefer && live.includes(prefer)) return prefer;
    return live.length ? this.rng.pick(live) : undefined;
  }

  private async startJob(id: string, input: ChaosInput, first?: Slot): Promise<void> {
    for (let n = 0; ; n++) {
      const slot = this.pickSlot(n === 0 ? first : undefined);
      const a = await this.attempt(id, input, slot);
      if (a.outcome === 'ok' || (a.code !== undefined && !RETRYABLE.has(a.code))) return;
      if (this.starts.get(id)!.some((x) => x.outcome === 'ok')) return; // a late answer came
      if (this.draining || this.fleet.isStopped) return;
      await sleep(this.rng.int(...RETRY_PAUSE_MS));
    }
  }

  private async attempt(id: string, input: ChaosInput, slot: Slot | undefined): Promise<Attempt> {
    const list = this.starts.get(id) ?? [];
    this.starts.set(id, list);
    const a: Attempt = { id, n: list.length + 1, slot, owner: slot && this.fleet.member(slot)?.owner, t: Date.now(), outcome: 'pending' };
    list.push(a);
    if (!slot) {
      Object.assign(a, { outcome: 'error', code: 'NO_COORDINATOR', tDone: Date.now() });
      return a;
    }
    const req = this.fleet.request<SagaInfo>(slot, { op: 'start', machine: CHAOS_MACHINE, sagaId: id, input });
    let timedOut = false;
    req.then(
      (info) => Object.assign(a, { outcome: 'ok', status: info.status, seq: info.entryNo, sagaOwner: info.owner, tDone: Date.now(), late: timedOut }),
      (e: unknown) => {
        const err = e as { code?: string; message?: string };
        if (!timedOut) Object.assign(a, { outcome: 'error', code: err.code ?? 'INTERNAL', message: err.message, tDone: Date.now() });
      },
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([req.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, REQUEST_TIMEOUT_MS)))]);
    clearTimeout(timer);
    if (a.outcome === 'pending') {
      timedOut = true;
      // Given up on, but left to answer: a late success still acknowledges the start.
      Object.assign(a, { outcome: 'error', code: 'REQUEST_TIMEOUT', tDone: Date.now() });
    }
    return a;
  }

  private async cancelJob(id: string): Promise<void> {
    const tried = new Set<Slot>();
    for (;;) {
      const live = this.fleet.liveSlots().filter((s) => !tried.has(s));
      if (live.length === 0) return;
      const slot = this.rng.pick(live);
      tried.add(slot);
      const rec: CancelRecord = { id, t: Date.now(), owner: this.fleet.member(slot)?.owner, outcome: 'error' };
      this.cancels.push(rec);
      try {
        const r = await withTimeout(this.fleet.request<SendResult>(slot, { op: 'send', sagaId: id, event: { type: 'saga.cancel' } }), REQUEST_TIMEOUT_MS, 'cancel');
        rec.outcome = r.accepted ? 'accepted' : 'ignored';
        return;
      } catch (e) {
        rec.code = (e as { code?: string }).code ?? 'INTERNAL';
        if (rec.code !== 'NOT_OWNER') return;
      }
    }
  }
}

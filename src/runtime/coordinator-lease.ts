/**
 * The coordinator's lease: one KV record per coordinator (`owner`), renewed by CAS well
 * before it expires. A saga's lease is its index owner plus that owner's heartbeat, so the
 * renewal cost is one write per coordinator per period, not one per saga in flight. Another
 * coordinator may take over a saga only once its owner's lease has expired (or was released
 * on a clean shutdown), and then only by CAS on the saga's index record.
 *
 * nats-server 2.9 ignores per-key TTLs, so the expiry lives in the value.
 */
import { hostname } from 'node:os';
import { KvConflictError, OwnerInUseError } from '../errors.js';
import type { KvStore } from '../journal/kv-store.js';
import type { Logger } from '../log.js';
import { abortable, sleep } from '../nats/retry.js';

export interface CoordinatorRecord {
  readonly owner: string;
  /** Random per process: tells a restarted coordinator from its previous life. */
  readonly incarnation: string;
  readonly startedAt: number;
  readonly renewedAt: number;
  readonly expiresAt: number;
  readonly machines: readonly string[];
  /** Where the holder runs, for the error a second process with the same name gets. */
  readonly host?: string;
  readonly pid?: number;
  /**
   * No saga this coordinator drives has a journal entry below this seq: a recovery of its
   * sagas scans the journal from here rather than reading each saga on its own.
   */
  readonly lowWaterSeq?: number;
}

export type LeaseLoss = 'superseded' | 'expired';

export interface LeaseOptions {
  readonly kv: KvStore;
  readonly owner: string;
  readonly incarnation: string;
  readonly ttlMs: number;
  readonly machines: readonly string[];
  readonly now: () => number;
  readonly logger: Logger;
  /** The low-water seq to publish with each renewal. */
  readonly lowWater?: () => number | undefined;
  /**
   * `superseded`: another process now holds this owner name; stop everything.
   * `expired`: renewals lapsed (a pause, a partition); others may have taken our sagas.
   */
  readonly onLost: (why: LeaseLoss) => void;
  /** Ends a wait for a previous holder's lease to lapse (the runtime closing). */
  readonly signal?: AbortSignal;
}

/** How soon a failed renewal is tried again. */
const RETRY_AFTER_FAILURE_MS = 1_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class CoordinatorLease {
  private revision = 0;
  private expiresAt = 0;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private renewing: Promise<void> | undefined;
  /** Fires just before the lease would lapse in others' eyes, unless a renewal moved it on. */
  private watchdog: NodeJS.Timeout | undefined;
  /** Set when the watchdog found the lease about to lapse; cleared by the next renewal. */
  private lapsing = false;
  /** The previous incarnation's record, as found at `acquire` (for its low-water seq). */
  previous: CoordinatorRecord | null = null;

  constructor(private readonly opts: LeaseOptions) {}

  /**
   * Takes the owner's record. A previous holder's record is replaced only once it has lapsed
   * (or was released on a clean shutdown): a restart after a crash waits out the rest of the
   * dead process's lease; a holder that renews meanwhile is alive, and this process refuses to
   * run under its name (`OwnerInUseError`) rather than drive its sagas a second time.
   */
  async acquire(): Promise<void> {
    const { kv, owner, logger } = this.opts;
    this.startedAt = this.opts.now();
    let seen: number | undefined;
    for (;;) {
      const current = await kv.get(owner);
      const prev = current ? decode(current.value) : null;
      this.previous = prev;
      const now = this.opts.now();
      if (current && prev && prev.incarnation !== this.opts.incarnation && prev.expiresAt > now) {
        if (seen !== undefined && current.revision !== seen) {
          throw new OwnerInUseError(owner, { incarnation: prev.incarnation, host: prev.host, pid: prev.pid, renewedAt: prev.renewedAt });
        }
        if (seen === undefined) {
          logger.warn(
            { owner, holder: prev.incarnation, host: prev.host, pid: prev.pid, lapsesInMs: prev.expiresAt - now },
            'coordinator name is held by another process; waiting for its lease to lapse (it will be refused if the holder is alive)',
          );
        }
        seen = current.revision;
        // A live holder renews every third of its TTL: look again well before it would lapse.
        await sleep(Math.max(20, Math.min(prev.expiresAt - now + 20, this.opts.ttlMs / 6)), [this.opts.signal]);
        continue;
      }
      const record = this.record();
      try {
        this.revision = current ? await kv.update(owner, encode(record), current.revision) : await kv.create(owner, encode(record));
        this.expiresAt = record.expiresAt;
        break;
      } catch (e) {
        if (!(e instanceof KvConflictError)) throw e;
      }
    }
    this.schedule();
    this.armWatchdog();
  }

  /**
   * Whether this process may act under its name now, by its own clock: the lease was renewed
   * and is not about to lapse. False from the moment the watchdog gave up on it until the next
   * renewal succeeds.
   */
  valid(): boolean {
    return !this.closed && !this.lapsing && this.opts.now() < this.expiresAt - this.margin();
  }

  /** True when `owner`'s lease is held and unexpired (this coordinator's own always is). */
  async isAlive(owner: string): Promise<boolean> {
    if (owner === this.opts.owner) return true;
    const rec = await this.read(owner);
    return rec !== null && rec.expiresAt > this.opts.now();
  }

  /**
   * Whether this process holds its lease right now (read from the store, not remembered): a
   * process that was stalled past its TTL may have been replaced under its own name, and must
   * not claim sagas before it learns so. Finding another holder ends this lease at once.
   */
  async holds(): Promise<boolean> {
    if (this.closed) return false;
    const rec = await this.read(this.opts.owner);
    if (rec && rec.incarnation !== this.opts.incarnation) {
      this.supersede(rec.incarnation);
      return false;
    }
    return rec !== null && rec.expiresAt > this.opts.now();
  }

  /** A coordinator's current record, or null. */
  async read(owner: string): Promise<CoordinatorRecord | null> {
    const e = await this.opts.kv.get(owner);
    return e ? decode(e.value) : null;
  }

  /** Renews now (also used by tests to close the window after a pause). */
  renew(): Promise<void> {
    this.renewing ??= this.doRenew().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  /**
   * Stops renewing. `release` marks the lease expired at once, so others may take over without
   * waiting; the record stays, with its low-water seq, for whoever recovers our sagas.
   */
  async close(release: boolean): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.watchdog);
    await this.renewing?.catch(() => undefined);
    if (release && this.revision) {
      const record = { ...this.record(), expiresAt: 0 };
      await this.opts.kv.update(this.opts.owner, encode(record), this.revision).catch(() => undefined);
    }
  }

  private supersede(holder: string): void {
    if (this.closed) return;
    this.opts.logger.error({ owner: this.opts.owner, holder }, 'another process holds this coordinator name');
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.watchdog);
    this.opts.onLost('superseded');
  }

  /**
   * How long before the lease's expiry this process stops acting when it could not renew: other
   * coordinators take its sagas over once the expiry has passed on their clocks, and by then it
   * must have stopped (a fifth of the TTL, at most a second, of room for clock skew and lag).
   */
  private margin(): number {
    return Math.min(Math.floor(this.opts.ttlMs / 5), 1_000);
  }

  private armWatchdog(): void {
    clearTimeout(this.watchdog);
    if (this.closed) return;
    const delay = Math.max(0, this.expiresAt - this.margin() - this.opts.now());
    this.watchdog = setTimeout(() => this.onWatchdog(), delay);
    this.watchdog.unref();
  }

  /**
   * No renewal got through in time (the server is away, or this process was starved): stop
   * driving every saga now rather than go on past the expiry beside a coordinator that takes
   * them over. The next successful renewal says so again, and the sagas still ours come back.
   */
  private onWatchdog(): void {
    if (this.closed || this.lapsing) return;
    if (this.opts.now() < this.expiresAt - this.margin()) return this.armWatchdog();
    this.lapsing = true;
    this.opts.logger.warn({ owner: this.opts.owner, expiresAt: this.expiresAt }, 'lease about to lapse without a renewal; stopping every saga until it is renewed');
    this.opts.onLost('expired');
  }

  /**
   * Renews every third of the TTL; after a failure, again within a second rather than a third
   * of the TTL later: a NATS leader election makes renewals fail for 5–7 s, and two full
   * periods lost to it would let the lease lapse while this process is alive.
   */
  private schedule(afterFailure = false): void {
    if (this.closed) return;
    const period = Math.max(50, Math.floor(this.opts.ttlMs / 3));
    this.timer = setTimeout(() => {
      let failed = false;
      this.renew()
        .catch((e: unknown) => {
          failed = true;
          this.opts.logger.warn({ err: (e as Error).message }, 'lease renewal failed; retrying');
        })
        .finally(() => this.schedule(failed));
    }, afterFailure ? Math.min(period, RETRY_AFTER_FAILURE_MS) : period);
  }

  private async doRenew(): Promise<void> {
    if (this.closed) return;
    const lapsed = this.lapsing || this.opts.now() >= this.expiresAt;
    const record = this.record();
    try {
      // A renewal that waits longer than a third of the TTL is of no use: give up on it and
      // try again (if it lands after all, the next one meets a changed revision, below).
      this.revision = await abortable(this.opts.kv.update(this.opts.owner, encode(record), this.revision), [AbortSignal.timeout(Math.max(50, Math.floor(this.opts.ttlMs / 3)))]);
    } catch (e) {
      if (!(e instanceof KvConflictError)) throw e;
      const current = await this.opts.kv.get(this.opts.owner);
      const holder = current ? decode(current.value) : null;
      if (holder && holder.incarnation !== this.opts.incarnation) {
        this.supersede(holder.incarnation);
        return;
      }
      // Our record vanished (a clean-up) or moved under us: write it again.
      this.revision = current ? await this.opts.kv.update(this.opts.owner, encode(record), current.revision) : await this.opts.kv.create(this.opts.owner, encode(record));
    }
    this.expiresAt = record.expiresAt;
    this.lapsing = false;
    this.armWatchdog();
    if (lapsed) {
      this.opts.logger.warn({ owner: this.opts.owner }, 'lease had expired before renewal; re-checking ownership of every saga');
      this.opts.onLost('expired');
    }
  }

  private record(): CoordinatorRecord {
    const now = this.opts.now();
    return {
      owner: this.opts.owner,
      incarnation: this.opts.incarnation,
      startedAt: this.startedAt,
      renewedAt: now,
      expiresAt: now + this.opts.ttlMs,
      machines: this.opts.machines,
      host: hostname(),
      pid: process.pid,
      lowWaterSeq: this.opts.lowWater?.(),
    };
  }
}

function encode(r: CoordinatorRecord): Uint8Array {
  return encoder.encode(JSON.stringify(r));
}

export function decode(value: Uint8Array): CoordinatorRecord | null {
  try {
    const r = JSON.parse(decoder.decode(value)) as CoordinatorRecord;
    return typeof r.expiresAt === 'number' && typeof r.incarnation === 'string' ? r : null;
  } catch {
    return null;
  }
}

/**
 * The deployment lock: at most one saga deploys an app at a time. One record per app
 * (`lock.<app>`: holder, since, expiresAt, renewedAt, ttlMs), taken, renewed, released and
 * stolen only by compare-and-set on its revision. nats-server 2.9 ignores per-key TTLs, so the
 * expiry lives in the value and is judged by the reader's clock.
 *
 * It can never go stale: a lock is taken over when it has expired, or when the injected
 * `isFinished` says its holder saga is terminal or unknown; `reconcile` releases every lock of
 * a finished holder (run it on recovery). A stored value that cannot be read counts as free.
 */
import { InvalidArgumentError, serializeError, type SerializedError } from '../errors.js';
import { sleep } from '../nats/retry.js';
import { forEachLimit } from '../util/for-each-limit.js';
import { DeployLockLostError, DeployLockedError } from './deploy-lock-errors.js';
import { EntitiesUnavailableError } from './entity-errors.js';
import { EntityKeys, lastToken } from './entity-keys.js';
import { asJson, keep, remove, write, type Change, type Stored } from './entity-kv.js';
import { assertAppName, assertMillis, assertSagaId } from './names.js';
import { DeployLockSchema, type DeployLockRecord } from './records.js';
import type { StoreContext } from './store-context.js';

/** Whether a saga is finished (terminal) or unknown: its locks may be taken over. */
export type IsFinished = (sagaId: string) => Promise<boolean>;

/** A lock's default lifetime: long enough for a build step, renewed by long sagas. */
export const DEFAULT_DEPLOY_LOCK_TTL_MS = 10 * 60_000;

/** Defaults of a `DeployLock`. */
export interface DeployLockOptions {
  /** Default TTL of `acquire` (DEFAULT_DEPLOY_LOCK_TTL_MS). */
  readonly ttlMs?: number;
  /** Default predicate of `acquire`, `waitFor` and `reconcile`. */
  readonly isFinished?: IsFinished;
}

/** Options of one `acquire`. */
export interface AcquireOptions {
  /** How long the lock lasts unless renewed (the store's default otherwise). */
  readonly ttlMs?: number;
  /** The time to judge expiry by and to stamp (epoch ms; the store's clock otherwise). */
  readonly now?: number;
  readonly isFinished?: IsFinished;
}

/** Why a lock was taken from its holder. */
export type StealReason = 'expired' | 'finished' | 'unreadable';

/** What a successful `acquire` answers. */
export interface AcquireResult {
  readonly lock: DeployLockRecord;
  /** `acquired`: it was free; `renewed`: this saga held it already; `stolen`: see `stolenFrom`. */
  readonly outcome: 'acquired' | 'renewed' | 'stolen';
  readonly stolenFrom?: { readonly holder: string | null; readonly since: number | null; readonly expiresAt: number | null; readonly reason: StealReason };
}

/** A lock `reconcile` released, as it was. */
export interface ReleasedLock {
  readonly app: string;
  /** Null when the stored value could not be read. */
  readonly holder: string | null;
  readonly since: number | null;
  readonly expiresAt: number | null;
}

/** What `reconcile` did. */
export interface ReconcileReport {
  /** Locks released because their holder is finished or gone (or the value was unreadable). */
  readonly released: ReleasedLock[];
  /** Locks whose check failed (e.g. the predicate threw); left as they were. */
  readonly failed: Array<{ readonly app: string; readonly error: SerializedError }>;
}

/** Options of `waitFor`. */
export interface WaitForOptions {
  readonly signal?: AbortSignal;
  /** How often to look again (default 1 000 ms). */
  readonly pollMs?: number;
  readonly isFinished?: IsFinished;
  /** A lock held by this saga counts as free. */
  readonly sagaId?: string;
}

type Judged = { readonly kind: 'free' } | { readonly kind: 'unreadable' } | { readonly kind: 'held'; readonly lock: DeployLockRecord };

/** Per-app deployment locks (`lock.<app>`). Get it from `createEntityStores`. */
export class DeployLock {
  readonly #ctx: StoreContext;
  readonly #ttlMs: number;
  readonly #isFinished: IsFinished | undefined;

  constructor(ctx: StoreContext, options: DeployLockOptions = {}) {
    if (options.ttlMs !== undefined) assertMillis(options.ttlMs, 'ttlMs', true);
    this.#ctx = ctx;
    this.#ttlMs = options.ttlMs ?? DEFAULT_DEPLOY_LOCK_TTL_MS;
    this.#isFinished = options.isFinished;
  }

  /**
   * Takes the app's lock for `sagaId`, or throws `DeployLockedError` (DEPLOY_LOCKED, 409,
   * retryable) naming the holder. Idempotent for the holder: acquiring again renews it (same
   * `since`). A lock that expired, or whose holder `isFinished`, is taken over. Of several
   * sagas racing for a free lock exactly one wins.
   */
  async acquire(app: string, sagaId: string, options: AcquireOptions = {}): Promise<AcquireResult> {
    assertAppName(app);
    assertSagaId(sagaId);
    const ttlMs = options.ttlMs ?? this.#ttlMs;
    assertMillis(ttlMs, 'ttlMs', true);
    if (options.now !== undefined) assertMillis(options.now, 'now');
    const isFinished = options.isFinished ?? this.#isFinished;
    const result = await this.#ctx.kv.change(EntityKeys.lock(app), asJson, async (cur): Promise<Change<DeployLockRecord, AcquireResult>> => {
      const now = options.now ?? this.#ctx.now();
      const fresh: DeployLockRecord = { app, holder: sagaId, since: now, expiresAt: now + ttlMs, renewedAt: now, ttlMs };
      const j = judge(cur);
      if (j.kind === 'free') return write(fresh, { lock: fresh, outcome: 'acquired' });
      if (j.kind === 'unreadable') {
        return write(fresh, { lock: fresh, outcome: 'stolen', stolenFrom: { holder: null, since: null, expiresAt: null, reason: 'unreadable' } });
      }
      const held = j.lock;
      if (held.holder === sagaId) {
        const renewed: DeployLockRecord = { ...held, expiresAt: now + ttlMs, renewedAt: now, ttlMs };
        return write(renewed, { lock: renewed, outcome: 'renewed' });
      }
      const reason: StealReason | null = held.expiresAt <= now ? 'expired' : isFinished && (await isFinished(held.holder)) ? 'finished' : null;
      if (reason === null) throw new DeployLockedError(app, held);
      return write(fresh, { lock: fresh, outcome: 'stolen', stolenFrom: { holder: held.holder, since: held.since, expiresAt: held.expiresAt, reason } });
    });
    if (result.stolenFrom) this.#ctx.logger.warn({ app, sagaId, from: result.stolenFrom }, 'deploy lock taken over');
    return result;
  }

  /**
   * Extends the lock `sagaId` holds by its TTL (or `ttlMs`), from now. Throws
   * `DeployLockLostError` (DEPLOY_LOCK_LOST, not retryable) when the saga no longer holds it.
   */
  async renew(app: string, sagaId: string, options: { readonly ttlMs?: number; readonly now?: number } = {}): Promise<DeployLockRecord> {
    assertAppName(app);
    assertSagaId(sagaId);
    if (options.ttlMs !== undefined) assertMillis(options.ttlMs, 'ttlMs', true);
    if (options.now !== undefined) assertMillis(options.now, 'now');
    return this.#ctx.kv.change(EntityKeys.lock(app), asJson, (cur) => {
      const j = judge(cur);
      if (j.kind !== 'held' || j.lock.holder !== sagaId) throw new DeployLockLostError(app, sagaId, j.kind === 'held' ? j.lock.holder : null);
      const now = options.now ?? this.#ctx.now();
      const ttlMs = options.ttlMs ?? j.lock.ttlMs;
      const renewed: DeployLockRecord = { ...j.lock, expiresAt: now + ttlMs, renewedAt: now, ttlMs };
      return write(renewed, renewed);
    });
  }

  /**
   * Releases the lock if `sagaId` holds it; answers whether it did. Idempotent, and a no-op on
   * a lock another saga holds (say, one that took it over after this one's expired).
   */
  async release(app: string, sagaId: string): Promise<boolean> {
    assertAppName(app);
    assertSagaId(sagaId);
    const released = await this.#ctx.kv.change(EntityKeys.lock(app), asJson, (cur) => {
      const j = judge(cur);
      return j.kind === 'held' && j.lock.holder === sagaId ? remove(true) : keep(false);
    });
    if (released) this.#ctx.logger.debug({ app, sagaId }, 'deploy lock released');
    return released;
  }

  /** The app's lock as stored (expired or not), or null when free or unreadable. */
  async get(app: string): Promise<DeployLockRecord | null> {
    assertAppName(app);
    const j = judge(await this.#ctx.kv.read(EntityKeys.lock(app), asJson));
    return j.kind === 'held' ? j.lock : null;
  }

  /** Every readable lock, by app. */
  async list(): Promise<DeployLockRecord[]> {
    const all = await this.#ctx.kv.list(EntityKeys.locks, asJson);
    const held = all.flatMap((r) => {
      const j = judge(r);
      return j.kind === 'held' ? [j.lock] : [];
    });
    return held.sort((a, b) => byApp(a, b));
  }

  /**
   * For recovery: releases every lock whose holder is finished or gone (by `isFinished`), and
   * every unreadable one. A lock whose check fails is reported and left alone; each release is
   * a compare-and-set, so a lock renewed or taken meanwhile is judged again.
   */
  async reconcile(isFinished: IsFinished | undefined = this.#isFinished): Promise<ReconcileReport> {
    if (!isFinished) throw new InvalidArgumentError('reconcile needs an isFinished predicate (given here or to the store)');
    const keys = await this.#ctx.kv.list(EntityKeys.locks, asJson);
    const released: ReleasedLock[] = [];
    const failed: Array<{ app: string; error: SerializedError }> = [];
    await forEachLimit(keys, 8, async ({ key }) => {
      const app = lastToken(key);
      try {
        const r = await this.#ctx.kv.change(EntityKeys.lock(app), asJson, async (cur): Promise<Change<never, ReleasedLock | null>> => {
          const j = judge(cur);
          if (j.kind === 'free') return keep(null);
          if (j.kind === 'unreadable') return remove<ReleasedLock>({ app, holder: null, since: null, expiresAt: null });
          if (!(await isFinished(j.lock.holder))) return keep(null);
          return remove<ReleasedLock>({ app, holder: j.lock.holder, since: j.lock.since, expiresAt: j.lock.expiresAt });
        });
        if (r) released.push(r);
      } catch (e) {
        failed.push({ app, error: serializeError(e) });
      }
    });
    released.sort(byApp);
    failed.sort(byApp);
    if (released.length || failed.length) this.#ctx.logger.info({ released, failed }, 'deploy locks reconciled');
    return { released, failed };
  }

  /**
   * Resolves once the app's lock could be taken: it is free, expired, unreadable, its holder is
   * finished, or `sagaId` holds it. It does not take it (call `acquire`, which may still lose a
   * race). The store being unreachable does not end the wait; `signal` does (rejecting with its
   * reason).
   */
  async waitFor(app: string, options: WaitForOptions = {}): Promise<void> {
    assertAppName(app);
    if (options.sagaId !== undefined) assertSagaId(options.sagaId);
    const pollMs = options.pollMs ?? 1_000;
    assertMillis(pollMs, 'pollMs', true);
    const isFinished = options.isFinished ?? this.#isFinished;
    for (;;) {
      options.signal?.throwIfAborted();
      try {
        const j = judge(await this.#ctx.kv.read(EntityKeys.lock(app), asJson));
        if (j.kind !== 'held') return;
        const l = j.lock;
        if (l.holder === options.sagaId || l.expiresAt <= this.#ctx.now()) return;
        if (isFinished && (await isFinished(l.holder))) return;
      } catch (e) {
        if (!(e instanceof EntitiesUnavailableError)) throw e;
        this.#ctx.logger.debug({ app, err: e.message }, 'waiting for a deploy lock: store unavailable; looking again');
      }
      await sleep(pollMs, [options.signal]);
    }
  }
}

/** What a stored lock value means; one that does not parse counts as free to take over. */
function judge(cur: Stored<unknown> | null): Judged {
  if (!cur) return { kind: 'free' };
  const r = DeployLockSchema.safeParse(cur.value);
  return r.success ? { kind: 'held', lock: r.data } : { kind: 'unreadable' };
}

/** Plain code-unit order (not the locale's), the same on every host. */
function byApp(a: { readonly app: string }, b: { readonly app: string }): number {
  return a.app < b.app ? -1 : a.app > b.app ? 1 : 0;
}

/**
 * Keeps deployment locks honest: a lock whose holder is a build this process drives is renewed
 * (so a long build never loses it to expiry), and a lock whose holder is finished or unknown is
 * released (reconcile), at start-up — right after recovery began — and then periodically. A
 * crashed deploy's lock therefore never blocks the next deploy: either its saga is recovered
 * and releases it on its way to the end, or the saga is gone and the reconcile frees it.
 */
import type { EntityStores } from '../entities/index.js';
import { DEFAULT_DEPLOY_LOCK_TTL_MS } from '../entities/index.js';
import type { Logger } from '../log.js';

export interface LockKeeperOptions {
  readonly entities: EntityStores;
  /** Ids of the sagas this process drives now (the runtime's loaded sagas). */
  readonly drivenHere: () => readonly string[];
  readonly logger: Logger;
  /** The locks' TTL: renewals come every third of it (at most every minute). */
  readonly lockTtlMs?: number;
}

export class LockKeeper {
  readonly #o: LockKeeperOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: LockKeeperOptions) {
    this.#o = options;
  }

  /** Runs a pass now and then every period until `stop`. */
  start(): void {
    const period = Math.min(60_000, Math.max(1_000, Math.floor((this.#o.lockTtlMs ?? DEFAULT_DEPLOY_LOCK_TTL_MS) / 3)));
    const tick = (): void => {
      if (this.#stopped) return;
      this.#running = this.pass().then(() => {
        if (!this.#stopped) this.#timer = setTimeout(tick, period);
      });
    };
    tick();
  }

  /** One pass: reconcile, then renew what this process's builds hold. Never throws. */
  async pass(): Promise<{ released: string[]; renewed: string[] }> {
    const released: string[] = [];
    const renewed: string[] = [];
    const { entities, logger } = this.#o;
    try {
      const report = await entities.locks.reconcile();
      for (const r of report.released) released.push(r.app);
      if (released.length) logger.info({ apps: released }, 'released deployment locks whose builds are finished or gone');
      const driven = new Set(this.#o.drivenHere());
      for (const lock of await entities.locks.list()) {
        if (!driven.has(lock.holder)) continue;
        try {
          await entities.locks.renew(lock.app, lock.holder);
          renewed.push(lock.app);
        } catch (err) {
          logger.warn({ app: lock.app, holder: lock.holder, err: (err as Error).message }, 'deployment lock not renewed');
        }
      }
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'deployment lock pass failed; trying again later');
    }
    return { released, renewed };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }
}

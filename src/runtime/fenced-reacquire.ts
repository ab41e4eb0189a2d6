/**
 * Picking up again a saga whose copy here fenced itself on a write of its own (e.g. an append
 * of an older copy of this process landed late). Such a saga's record still names this
 * coordinator and nobody drives it; left alone it would wait for the next periodic recovery
 * pass, which may be off. Backs off if it keeps happening; a saga another coordinator took is
 * left to it.
 */
import { isTerminalStatus, type IndexStore } from '../journal/index-store.js';
import type { Logger } from '../log.js';
import { sleep } from '../nats/retry.js';
import type { CoordinatorLease } from './coordinator-lease.js';
import type { SagaInstance } from './saga-instance.js';
import type { SagaLoader } from './saga-loader.js';

/** A copy fenced again and again is picked up again after at most this long. */
const REACQUIRE_MAX_DELAY_MS = 10_000;

export interface FencedReacquireOptions {
  readonly index: IndexStore;
  readonly owner: string;
  readonly logger: Logger;
  readonly closing: AbortSignal;
  readonly lease: Pick<CoordinatorLease, 'holds'>;
  readonly loader: Pick<SagaLoader, 'acquire'>;
  closed(): boolean;
  isLoaded(sagaId: string): boolean;
  track(p: Promise<unknown>): void;
}

export class FencedReacquire {
  /** How often each saga's copy fenced itself lately (backs off re-acquiring). */
  private readonly refenced = new Map<string, number>();

  constructor(private readonly opts: FencedReacquireOptions) {}

  /** The copy `inst` fenced itself: take its saga back once the copy has settled. */
  fenced(inst: SagaInstance): void {
    const { opts } = this;
    const id = inst.id;
    const n = (this.refenced.get(id) ?? 0) + 1;
    this.refenced.set(id, n);
    const delay = n <= 1 ? 0 : Math.min(50 * 2 ** n, REACQUIRE_MAX_DELAY_MS);
    opts.track(
      (async () => {
        await inst.settled();
        if (delay > 0) await sleep(delay, [opts.closing]);
        if (opts.closed() || opts.isLoaded(id)) return;
        // A process replaced under its own name (it was stalled) must not take anything back.
        if (!(await opts.lease.holds())) return;
        const entry = await opts.index.get(id);
        if (!entry || entry.record.owner !== opts.owner || isTerminalStatus(entry.record.status)) return;
        const outcome = await opts.loader.acquire(entry);
        opts.logger.info({ sagaId: id, outcome }, 'picked up again a saga whose copy was fenced by a write of its own');
      })(),
    );
  }

  /** The saga finished: its count starts afresh should it ever be driven again. */
  forget(sagaId: string): void {
    this.refenced.delete(sagaId);
  }
}

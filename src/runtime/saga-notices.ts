/**
 * What the runtime tells about the sagas it drives, as they move: transition listeners
 * (`subscribe`), callers waiting for a status (`wait`), and the infos of sagas that just
 * finished or parked, which `get` answers from memory until the index has caught up (and
 * afterwards, up to RECENT_MAX of them, without a read).
 */
import { isTerminalStatus } from '../journal/index-store.js';
import type { Logger } from '../log.js';
import type { FoldedSaga } from './fold.js';
import type { Commit, SagaInstance } from './saga-instance.js';
import { statusOf } from './status.js';
import type { SagaInfo, TransitionNotice } from './types.js';
import { Waiters } from './waiters.js';

/** Finished sagas answered from memory (`get`) without a read. */
const RECENT_MAX = 1000;

export class SagaNotices {
  private readonly listeners = new Set<(n: TransitionNotice) => void>();
  private readonly waiters = new Waiters();
  private readonly recentInfos = new Map<string, SagaInfo>();

  constructor(
    private readonly owner: string,
    private readonly logger: Logger,
  ) {}

  subscribe(listener: (notice: TransitionNotice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A saga driven here journaled a transition: listeners hear of it, waiters of an unfinished status. */
  transition(inst: SagaInstance, c: Commit): void {
    if (this.listeners.size > 0) {
      this.tell({ sagaId: inst.id, machine: inst.binding.id, entryNo: c.no, at: c.at, event: c.event, status: c.status, state: inst.snapshot.value });
    }
    if (this.waiters.has(inst.id) && !isTerminalStatus(c.status)) this.waiters.notify(inst.info(this.owner));
  }

  /**
   * Recovery found a saga finished in its journal that nobody had marked finished: listeners
   * hear of its last entry as if it had just been journaled (its driver may never have told
   * them). They may hear of that entry twice, from two processes; what they write is keyed by
   * the entry number.
   */
  foundFinished(folded: FoldedSaga): void {
    if (this.listeners.size === 0) return;
    const status = statusOf(folded.snapshot);
    this.tell({ sagaId: folded.sagaId, machine: folded.binding.id, entryNo: folded.no, at: folded.lastAt, event: undefined, status, state: folded.snapshot.value });
  }

  private tell(notice: TransitionNotice): void {
    for (const l of this.listeners) {
      try {
        l(notice);
      } catch (e) {
        this.logger.warn({ err: (e as Error).message }, 'transition listener threw');
      }
    }
  }

  /** The saga is now as `info` says (finished, parked): waiters for that status are answered. */
  reached(info: SagaInfo): void {
    this.waiters.notify(info);
  }

  /** See Waiters.wait. */
  wait(...args: Parameters<Waiters['wait']>): Promise<SagaInfo> {
    return this.waiters.wait(...args);
  }

  /** Keeps the info of a saga no longer driven here, for `get`. */
  remember(info: SagaInfo): void {
    this.recentInfos.set(info.id, info);
    if (this.recentInfos.size > RECENT_MAX) this.recentInfos.delete(this.recentInfos.keys().next().value!);
  }

  recent(sagaId: string): SagaInfo | undefined {
    return this.recentInfos.get(sagaId);
  }

  /** Drops the remembered info of a saga (only if it is still `info`, when given). */
  forget(sagaId: string, info?: SagaInfo): void {
    if (info === undefined || this.recentInfos.get(sagaId) === info) this.recentInfos.delete(sagaId);
  }

  /** The runtime closed: every wait ends with `e`. */
  close(e: unknown): void {
    this.waiters.rejectAll(e);
  }
}

/**
 * The coordinator's low-water journal seq, published in its lease record: no open saga of this
 * coordinator that lacks a stored checkpoint has an entry below it. Whoever recovers the
 * coordinator's sagas restores those with a checkpoint from it (their journals unread) and
 * folds the others from one scan of the journal from this seq, instead of reading saga by saga.
 * Leaving checkpointed sagas out keeps the scan short: in a coordinator that runs for days,
 * the sagas that wait (and are checkpointed) are the old ones, and the few moving at a crash
 * are recent.
 *
 * The mark must never be too high for the sagas it covers (a saga the scan cannot assemble is
 * read on its own: slower, never wrong): it stays at a previous life's mark until that life's
 * sagas are recovered, and at the first seq of uncheckpointed sagas handed back (lease lapse,
 * close) until they are recovered too. A saga's checkpoint is never deleted while it is open,
 * and a new saga begins past every seq seen, so a mark published earlier stays low enough.
 */
import type { CoordinatorRecord } from './coordinator-lease.js';

export interface LowWaterOptions {
  /** The previous incarnation's lease record, if any (its mark is inherited). */
  previous(): CoordinatorRecord | null;
  /** First journal seqs of the sagas driven here now that have no stored checkpoint. */
  driven(): Iterable<{ readonly firstSeq: number }>;
}

export class LowWater {
  /** Highest journal seq this coordinator has seen (bounds the mark from above). */
  private maxSeen = 0;
  /** Sagas of a previous life not yet recovered: keep the previous low-water seq until they are. */
  private inherit = true;
  /** Lowest first seq of sagas unloaded after our lease lapsed, until they are recovered. */
  private retained: number | undefined;

  constructor(private readonly opts: LowWaterOptions) {}

  /** The journal's last seq when the runtime opens. */
  opened(lastSeq: number): void {
    this.maxSeen = lastSeq;
  }

  /** A saga driven here reached journal seq `seq`. */
  seen(seq: number): void {
    if (seq > this.maxSeen) this.maxSeen = seq;
  }

  /** A saga starting at `firstSeq` is handed back unrecovered. */
  retain(firstSeq: number): void {
    this.retained = Math.min(this.retained ?? Infinity, firstSeq);
  }

  /** A recovery pass left nothing behind: inherited and retained sagas are all driven again. */
  recovered(): void {
    this.inherit = false;
    this.retained = undefined;
  }

  /**
   * The lowest first seq of the sagas driven here, of those still to recover, and at most one
   * past the last seq seen; undefined while a previous life's mark is needed but unknown.
   */
  value(): number | undefined {
    let low = this.maxSeen + 1;
    const previous = this.opts.previous();
    const inherited = this.inherit ? previous?.lowWaterSeq : undefined;
    if (this.inherit && previous && inherited === undefined) return undefined;
    if (inherited !== undefined) low = Math.min(low, inherited);
    if (this.retained !== undefined) low = Math.min(low, this.retained);
    for (const saga of this.opts.driven()) if (saga.firstSeq < low) low = saga.firstSeq;
    return low;
  }
}

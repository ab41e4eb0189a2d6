/**
 * Riding out a NATS outage on the client's side: on a cluster a stream's leader election makes
 * its store answer "unavailable" (or not at all) for 5–8 s, and a request made then should
 * not fail a user's command. Only requests that are safe to repeat go through here (a deploy
 * repeats its upload under the same build id, and its start is idempotent under that id).
 */
import { ErrorCode, SagaError } from '../errors.js';
import { EntityErrorCode } from '../entities/entity-errors.js';
import { isTransient } from '../nats/nats-errors.js';
import { backoffMs, sleep } from '../nats/retry.js';

/** What a store or a coordinator says while NATS is away or electing a leader. */
const TRANSIENT_CODES = new Set<string>([ErrorCode.JournalUnavailable, EntityErrorCode.EntitiesUnavailable, ErrorCode.Timeout]);

/** No coordinator answers (none runs, or none has its service subscriptions back yet). */
const NO_COORDINATOR_CODES = new Set<string>(['NO_COORDINATOR', 'NOT_ADMITTED']);

/**
 * Whether `e` says "NATS is away for now": worth the same request again. Not NO_COORDINATOR or
 * NOT_ADMITTED: no coordinator is there to answer, which the caller reports at once — unless
 * an outage has been seen already (`duringOutage`): coordinators reconnecting after one answer
 * a little after the client does.
 */
export function isTransientFailure(e: unknown, duringOutage = false): boolean {
  if (e instanceof SagaError) return TRANSIENT_CODES.has(e.code) || (duringOutage && NO_COORDINATOR_CODES.has(e.code));
  return isTransient(e);
}

export interface TransientRetryOptions {
  /** How long to keep trying (default 60 s: a leader election takes 5–8 s). */
  readonly forMs?: number;
  /** Or until when (epoch ms): one deadline for all the requests of a command. */
  readonly until?: number;
  readonly signal?: AbortSignal;
  /** Told of each failure that will be tried again. */
  readonly onRetry?: (e: Error) => void;
  /** Shared by the requests of one command: set once one of them met the outage. */
  readonly outage?: { seen: boolean };
}

/** Runs `fn` until it succeeds, fails for good, `forMs` has passed or `signal` aborts. */
export async function retryTransient<T>(fn: () => Promise<T>, options: TransientRetryOptions = {}): Promise<T> {
  const deadline = options.until ?? Date.now() + (options.forMs ?? 60_000);
  const outage = options.outage ?? { seen: false };
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const wait = backoffMs(attempt + 3);
      if (!isTransientFailure(e, outage.seen) || options.signal?.aborted || Date.now() + wait > deadline) throw e;
      outage.seen = true;
      options.onRetry?.(e as Error);
      await sleep(wait, [options.signal]);
    }
  }
}

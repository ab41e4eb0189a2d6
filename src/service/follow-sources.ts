/**
 * What the follow endpoints stream (see stream-session.ts for how).
 *
 * Builds: the build's progress stream, live (`ProgressLog.read` with `follow`), to its `result`
 * record. Progress is written after the fact by whichever process drives the build, and a line
 * lost while NATS was away is not written again; so a quiet stream also checks, now and then,
 * whether the saga itself is over, and ends with the saga's status when its result record has
 * still not come a while later.
 *
 * Sagas: the journal from the entry after `afterEntry`, then live until the saga's status is
 * terminal (`blocked` and `parked` are not: an operator may still move them). New entries are
 * noticed through a core subscription on the saga's journal subject — a JetStream publish is
 * a plain NATS message to any subscriber, so the wake costs no consumer on the server — and
 * read with direct gets from the last stream sequence seen. A wake lost across a reconnect is
 * covered by a cheap poll (two direct gets) every `POLL_MS`. The status is read *before* the
 * entries, so once it is terminal the read that follows holds every entry up to that status.
 */
import { RESULT_GRACE_MS } from '../build/follow-build.js';
import type { ProgressLog } from '../build/progress.js';
import type { Coordinator } from '../coordinator.js';
import { isTerminalStatus } from '../journal/index-store.js';
import { abortable, sleep } from '../nats/retry.js';
import { natsNames } from '../runtime/nats-stores.js';
import type { SourceEvent, StreamSpec } from './stream-session.js';

/** How often a quiet saga follower reads the journal in case a wake was missed. */
const POLL_MS = 1_000;
/** A status read that lags the entries just read (a commit in flight) is read again this soon… */
const STALE_RETRY_MS = 50;
/** …this many times, before waiting as usual. */
const STALE_RETRIES = 20;
/**
 * A quiet build follower asks the saga's status at most this often, and ends once the saga has
 * been finished for RESULT_GRACE_MS without its result record.
 */
const RESULT_CHECK_MS = 5_000;

export function buildProgressSource(c: Coordinator, progress: ProgressLog, id: string, afterSeq: number | undefined): Pick<StreamSpec, 'source' | 'idle'> {
  let checkedAt = 0;
  let terminalSince: number | undefined;
  return {
    async *source(signal: AbortSignal): AsyncGenerator<SourceEvent> {
      for await (const p of progress.read(id, { follow: true, afterSeq, signal })) {
        yield { kind: 'item', item: p, seq: p.seq };
        if (p.kind === 'result') {
          yield { kind: 'end', status: p.status };
          return;
        }
      }
    },
    async idle() {
      const now = Date.now();
      if (now - checkedAt < RESULT_CHECK_MS) return undefined;
      checkedAt = now;
      const info = await c.runtime.get(id);
      if (!isTerminalStatus(info.status)) {
        terminalSince = undefined;
        return undefined;
      }
      terminalSince ??= now;
      return now - terminalSince >= RESULT_GRACE_MS ? info.status : undefined;
    },
  };
}

export function sagaJournalSource(c: Coordinator, id: string, afterEntry: number | undefined): Pick<StreamSpec, 'source'> {
  return {
    async *source(signal: AbortSignal): AsyncGenerator<SourceEvent> {
      const wake = new Wake(c, `${natsNames(c.config.namespace).eventsPrefix}.${id}`);
      try {
        let fromSeq = 1;
        let seenNo = 0;
        let stale = 0;
        const newEntries = async (): Promise<void> => {
          while (!(await wake.next(POLL_MS, signal))) {
            if ((await c.runtime.events(id, { fromSeq })).length > 0) return;
          }
        };
        for (;;) {
          signal.throwIfAborted();
          const info = await c.runtime.get(id);
          for (const e of await c.runtime.events(id, { fromSeq })) {
            fromSeq = e.streamSeq + 1;
            seenNo = Math.max(seenNo, e.entryNo);
            if (afterEntry !== undefined && e.entryNo <= afterEntry) continue;
            yield { kind: 'item', item: e, seq: e.entryNo };
          }
          if (info.entryNo >= seenNo) {
            stale = 0;
            if (isTerminalStatus(info.status)) {
              yield { kind: 'end', status: info.status };
              return;
            }
            await newEntries();
          } else if (stale++ < STALE_RETRIES) {
            // The entries ran ahead of the status (the driver commits just after its append).
            await sleep(STALE_RETRY_MS, [signal]);
          } else {
            stale = 0;
            await newEntries();
          }
        }
      } finally {
        wake.close();
      }
    },
  };
}

/** A flag raised by any message on a subject, waited for with a timeout. */
class Wake {
  readonly #sub;
  #raised = false;
  #waiter: (() => void) | undefined;

  constructor(c: Coordinator, subject: string) {
    this.#sub = c.nats.subscribe(subject, {
      callback: () => {
        this.#raised = true;
        this.#waiter?.();
      },
    });
  }

  /** True when a message came since the last call (at once if one already had), false after `ms`. */
  async next(ms: number, signal: AbortSignal): Promise<boolean> {
    if (!this.#raised) {
      let timer: NodeJS.Timeout | undefined;
      const woke = new Promise<boolean>((resolve) => {
        this.#waiter = () => resolve(true);
        timer = setTimeout(() => resolve(false), ms);
      });
      try {
        if (!(await abortable(woke, [signal]))) return false;
      } finally {
        clearTimeout(timer);
        this.#waiter = undefined;
      }
    }
    this.#raised = false;
    return true;
  }

  close(): void {
    this.#sub.unsubscribe();
  }
}

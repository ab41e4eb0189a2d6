/**
 * Keeps the pages that selected a saga up to date: follows its journal (`sagas.follow`, which
 * resumes through another coordinator, or the same one restarted, from the last entry seen) and
 * after each new entry sends the saga's detail again. Bursts of entries are coalesced into one
 * refresh at a time, and a refresh that changes nothing sends nothing. An entry is streamed as
 * soon as it is journaled, which may be just before the coordinator has applied it: a detail
 * that lags the entries seen is read again shortly. A follow that fails is taken up again.
 */
import { SagaError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { sleep } from '../../nats/retry.js';
import type { LiveBackend } from './live-backend.js';
import { frame } from './sse-frame.js';

export class SagaWatcher {
  readonly #abort = new AbortController();
  #latest: string | undefined;
  #entryNo: number | undefined;
  /** The highest entry number streamed so far. */
  #seen = 0;
  /** The last detail read shows a finished saga. */
  #final = false;
  #refreshing: Promise<void> | undefined;
  #again = false;
  #done: Promise<void> = Promise.resolve();

  constructor(
    readonly sagaId: string,
    private readonly live: LiveBackend,
    private readonly send: (text: string) => void,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.#done = this.#run();
  }

  /** Sends the latest detail to a page that joins (later ones come with everybody's). */
  greet(write: (text: string) => void): void {
    if (this.#latest) write(this.#latest);
  }

  /** Refreshes soon: now, or right after the refresh in flight. */
  poke(): void {
    if (this.#abort.signal.aborted) return;
    if (this.#refreshing) {
      this.#again = true;
      return;
    }
    this.#refreshing = (async () => {
      do {
        this.#again = false;
        await this.#refresh();
      } while (this.#again && !this.#abort.signal.aborted);
    })().finally(() => (this.#refreshing = undefined));
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#done;
  }

  async #refresh(): Promise<void> {
    try {
      const saga = await this.live.detail(this.sagaId);
      if (this.#abort.signal.aborted) return;
      this.#entryNo = saga.entryNo;
      this.#final = TERMINAL.has(saga.status);
      // Persist, then act: the entry was streamed before the coordinator applied it.
      if (saga.entryNo < this.#seen) this.#pokeSoon();
      const text = frame({ type: 'saga', saga });
      if (text === this.#latest) return;
      this.#latest = text;
      this.send(text);
    } catch (e) {
      this.logger.debug({ sagaId: this.sagaId, err: (e as Error).message }, 'selected saga not refreshed');
    }
  }

  #pokeSoon(): void {
    const t = setTimeout(() => this.poke(), LAG_RETRY_MS);
    t.unref();
  }

  async #run(): Promise<void> {
    this.poke();
    await this.#refreshing;
    const signal = this.#abort.signal;
    for (let failures = 0; !signal.aborted; ) {
      try {
        const entries = this.live.client.followSagaEvents(this.sagaId, {
          signal,
          ...(this.#entryNo === undefined ? {} : { afterEntry: this.#entryNo }),
          // Back after a coordinator restart: what happened meanwhile may be more than one entry.
          onStatus: (s) => s.state === 'resumed' && this.poke(),
        });
        for await (const entry of entries) {
          const no = (entry as { entryNo?: unknown }).entryNo;
          if (typeof no === 'number' && no > this.#seen) this.#seen = no;
          this.poke();
        }
        // The saga finished: its last detail. The follow ends on the journaled terminal entry,
        // which the coordinator may not have applied yet: read until the detail says so too.
        for (let i = 0; i < FINAL_READS && !signal.aborted; i++) {
          this.poke();
          await this.#refreshing;
          if (this.#final) return;
          await sleep(LAG_RETRY_MS, [signal]).catch(() => undefined);
        }
        return;
      } catch (e) {
        if (signal.aborted) return;
        // A saga that is gone (purged, another namespace's) is not followed again.
        if (e instanceof SagaError && !e.retryable) {
          this.logger.debug({ sagaId: this.sagaId, err: e.message }, 'selected saga no longer followed');
          return;
        }
        this.logger.debug({ sagaId: this.sagaId, err: (e as Error).message }, 'following the selected saga failed; following it again');
        this.poke();
        await sleep(Math.min(5_000, 250 * 2 ** failures++), [signal]).catch(() => undefined);
      }
    }
  }
}

/** How soon a detail that lags the streamed entries is read again. */
const LAG_RETRY_MS = 150;
/** Reads of a finished saga's detail until it shows the end (about 6 s). */
const FINAL_READS = 40;
const TERMINAL: ReadonlySet<string> = new Set(['completed', 'compensated', 'cancelled']);

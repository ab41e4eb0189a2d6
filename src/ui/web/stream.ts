/**
 * The live feed: an EventSource on `/api/stream`, reopened with a growing delay whenever it
 * breaks (a restarting server, a dropped connection) and when nothing — not even a heartbeat —
 * arrived for a while. The server sends the whole current picture on every connect, so a
 * reconnect catches the page up without extra requests.
 */
import type { StreamEvent } from '../api-types.js';

export type StreamState = 'connecting' | 'open' | 'reconnecting';

const TYPES: ReadonlyArray<StreamEvent['type']> = ['sagas', 'saga', 'boot', 'info', 'heartbeat'];
const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;
/** Longer than any sensible heartbeat interval: silence this long means a dead connection. */
const SILENCE_MS = 60_000;

export interface StreamHandlers {
  readonly onEvent: (event: StreamEvent) => void;
  readonly onState: (state: StreamState) => void;
}

export class LiveStream {
  private source: EventSource | null = null;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private silence: ReturnType<typeof setTimeout> | undefined;
  private delay = MIN_DELAY_MS;
  private saga: string | null = null;

  constructor(
    private readonly urlFor: (saga: string | null) => string,
    private readonly handlers: StreamHandlers,
  ) {}

  /** (Re)connects, asking for `saga`'s details too (null: the list only). */
  follow(saga: string | null): void {
    if (this.source !== null && saga === this.saga) return;
    this.saga = saga;
    this.connect('connecting');
  }

  close(): void {
    clearTimeout(this.retry);
    clearTimeout(this.silence);
    this.source?.close();
    this.source = null;
  }

  private connect(state: StreamState): void {
    this.close();
    this.handlers.onState(state);
    const es = new EventSource(this.urlFor(this.saga));
    this.source = es;
    this.watch(es);
    es.onopen = () => {
      this.delay = MIN_DELAY_MS;
      this.handlers.onState('open');
    };
    es.onerror = () => this.broken(es);
    for (const type of TYPES) {
      es.addEventListener(type, (msg) => {
        if (this.source !== es) return;
        this.watch(es);
        let event: StreamEvent;
        try {
          event = JSON.parse((msg as MessageEvent<string>).data) as StreamEvent;
        } catch {
          return;
        }
        this.handlers.onEvent({ ...event, type } as StreamEvent);
      });
    }
  }

  /** Our own backoff instead of EventSource's: it gives up for good on a non-200 answer. */
  private broken(es: EventSource): void {
    if (this.source !== es) return;
    es.close();
    this.source = null;
    clearTimeout(this.silence);
    this.handlers.onState('reconnecting');
    this.retry = setTimeout(() => this.connect('reconnecting'), this.delay);
    this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
  }

  private watch(es: EventSource): void {
    clearTimeout(this.silence);
    this.silence = setTimeout(() => this.broken(es), SILENCE_MS);
  }
}

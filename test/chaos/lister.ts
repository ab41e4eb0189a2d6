/**
 * A client that lists every saga (`runtime.list()`, all pages, every status) every few seconds
 * while the chaos runs, from a runtime of its own that never recovers anything. An answer that
 * does not come at all is what matters: a listing must fail or succeed, never hang. Listings
 * that fail during an outage are recorded, as are sagas shown twice in one listing (a violation:
 * paging through all sagas while some finish must show each once).
 */
import type { Runtime } from '../../src/runtime/runtime.js';
import { TimedOut, withTimeout } from './waiting.js';

/** A listing not answered in this long counts as hung. */
export const LIST_HANG_MS = 15_000;

export interface Listing {
  readonly t: number;
  readonly outcome: 'ok' | 'error' | 'hung';
  readonly ms: number;
  readonly sagas: number;
  /** Ids shown more than once. */
  readonly twice: readonly string[];
  readonly code?: string;
  readonly message?: string;
}

export class Lister {
  readonly listings: Listing[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly runtime: Runtime,
    private readonly everyMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      const p = this.once();
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
    }, this.everyMs);
  }

  /** Stops listing; waits for the listings in flight (each is bounded by LIST_HANG_MS). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.allSettled([...this.inflight]);
  }

  private async once(): Promise<void> {
    const t = Date.now();
    const ids: string[] = [];
    const all = async (): Promise<void> => {
      let after: string | undefined;
      do {
        const page = await this.runtime.list({ after, limit: 100 });
        ids.push(...page.sagas.map((s) => s.id));
        after = page.next;
      } while (after);
    };
    try {
      await withTimeout(all(), LIST_HANG_MS, 'list()');
      this.listings.push({ t, outcome: 'ok', ms: Date.now() - t, sagas: ids.length, twice: ids.filter((id, i) => ids.indexOf(id) !== i) });
    } catch (e) {
      const hung = e instanceof TimedOut;
      const err = e as { code?: string; name?: string; message?: string };
      const code = hung ? undefined : (err.code ?? 'INTERNAL');
      this.listings.push({ t, outcome: hung ? 'hung' : 'error', ms: Date.now() - t, sagas: ids.length, twice: [], ...(code ? { code, message: `${err.name}: ${err.message}` } : {}) });
    }
  }
}

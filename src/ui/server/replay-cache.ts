/**
 * Replayed journals of the sagas the page looks at, kept between requests. A journal only grows
 * and replay is deterministic, so the steps already replayed never change: a refresh asks the
 * coordinator (`sagas.replay`) only for the entries after the last one kept. Concurrent askers
 * share one refresh.
 */
import type { ReplayStep } from '../../runtime/replay-saga.js';

export interface ReplayPage {
  readonly machine: string;
  readonly version: number;
  readonly entries: number;
  readonly steps: readonly ReplayStep[];
  readonly next: number | null;
}

export type FetchReplayPage = (id: string, from: number) => Promise<ReplayPage>;

export interface ReplayedJournal {
  readonly machine: string;
  readonly version: number;
  /** Every entry replayed so far, void records (number 0) first; without contexts. */
  readonly steps: readonly ReplayStep[];
  /** The last entry number in `steps` (0: none yet). */
  readonly last: number;
}

/** Sagas whose replay is kept (the least recently used beyond are dropped). */
const MAX_SAGAS = 100;

export class ReplayCache {
  readonly #kept = new Map<string, ReplayedJournal>();
  readonly #refreshing = new Map<string, Promise<ReplayedJournal>>();

  constructor(private readonly fetchPage: FetchReplayPage) {}

  /** The replayed journal, refreshed unless what is kept reaches entry `atLeast` already. */
  async journal(id: string, atLeast?: number): Promise<ReplayedJournal> {
    const kept = this.#kept.get(id);
    if (kept && atLeast !== undefined && kept.last >= atLeast) {
      this.#kept.delete(id);
      this.#kept.set(id, kept);
      return kept;
    }
    let refresh = this.#refreshing.get(id);
    if (!refresh) {
      refresh = this.#refresh(id, kept).finally(() => this.#refreshing.delete(id));
      this.#refreshing.set(id, refresh);
    }
    return refresh;
  }

  forget(id: string): void {
    this.#kept.delete(id);
  }

  async #refresh(id: string, kept: ReplayedJournal | undefined): Promise<ReplayedJournal> {
    let base = kept;
    let steps = base ? [...base.steps] : [];
    let from = base ? base.last + 1 : 0;
    let page: ReplayPage;
    for (;;) {
      page = await this.fetchPage(id, from);
      // Fewer entries than kept: not the journal replayed before (purged, and the id used again).
      if (base && page.entries < base.last) {
        base = undefined;
        steps = [];
        from = 0;
        continue;
      }
      steps.push(...page.steps.map(withoutContext));
      if (page.next === null) break;
      from = page.next;
    }
    const journal: ReplayedJournal = { machine: page.machine, version: page.version, steps, last: steps.at(-1)?.no ?? 0 };
    this.#kept.delete(id);
    this.#kept.set(id, journal);
    while (this.#kept.size > MAX_SAGAS) this.#kept.delete(this.#kept.keys().next().value!);
    return journal;
  }
}

function withoutContext(step: ReplayStep): ReplayStep {
  if (step.context === undefined) return step;
  const { context: _context, ...rest } = step;
  return rest;
}

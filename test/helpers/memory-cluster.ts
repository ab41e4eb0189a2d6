/**
 * Coordinators of one "cluster" in a test process: runtimes on shared in-memory stores whose
 * journal a test can hold, fail or misreport appends of (ControlledJournal), each with its own
 * clock offset so that a test decides whose lease has lapsed in whose eyes. Closed after each
 * test by `closeAll`.
 */
import { initialTransition, transition, type AnyEventObject, type AnyStateMachine } from 'xstate';
import { expect } from 'vitest';
import { createRuntime, type RuntimeOptions } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { memoryStores, type RuntimeStores } from '../../src/runtime/stores.js';
import { ControlledJournal } from './controlled-journal.js';

export interface Cluster {
  readonly stores: RuntimeStores;
  readonly journal: ControlledJournal;
  /** Opens a coordinator; `skewMs` moves its clock (a lease looks lapsed to one ahead by its TTL). */
  open(owner: string, options?: Partial<RuntimeOptions> & { skewMs?: number }): Promise<Runtime>;
  /** Moves a coordinator's clock on (e.g. past its own lease's expiry). */
  advance(owner: string, ms: number): void;
  closeAll(): Promise<void>;
}

export function memoryCluster(make: (stores: RuntimeStores) => RuntimeStores = (s) => s): Cluster {
  const base = memoryStores();
  const journal = new ControlledJournal(base.journal);
  const stores = make({ ...base, journal });
  const skews = new Map<string, number>();
  const runtimes: Runtime[] = [];
  return {
    stores,
    journal,
    async open(owner, options = {}) {
      const { skewMs, ...rest } = options;
      skews.set(owner, skewMs ?? 0);
      const rt = await createRuntime({
        stores,
        owner,
        machines: [],
        recoverOnStart: false,
        recoverIntervalMs: 0,
        // Short enough for tests that wait a lease out, long enough not to lapse on a busy machine.
        leaseTtlMs: 1_000,
        now: () => Date.now() + (skews.get(owner) ?? 0),
        ...rest,
      });
      runtimes.push(rt);
      return rt;
    },
    advance(owner, ms) {
      skews.set(owner, (skews.get(owner) ?? 0) + ms);
    },
    async closeAll() {
      await Promise.all(runtimes.splice(0).map((r) => r.close().catch(() => undefined)));
    },
  };
}

/** The saga's live state (`get`) equals the fold of its journal through xstate's public functions. */
export async function expectLiveEqualsFold(rt: Runtime, sagaId: string, machine: AnyStateMachine): Promise<void> {
  const journal = await rt.events(sagaId);
  const init = journal.find((e) => e.init !== undefined);
  if (!init) throw new Error(`saga ${sagaId} has no init entry`);
  let [s] = initialTransition(machine, (init.init as { input: unknown }).input);
  for (const e of journal) if (e.event) [s] = transition(machine, s, { ...e.event, at: e.at } as AnyEventObject);
  const live = await rt.get(sagaId);
  expect({ state: live.state, context: live.context }).toEqual({ state: s.value, context: s.context });
}

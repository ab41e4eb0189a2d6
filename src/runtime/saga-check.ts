/**
 * `runtime.check(id)`: replays a saga's journal on the machine this coordinator runs now for
 * that machine id (its newest registered version, whatever version wrote the journal) and
 * checks it against what was recorded (replay-recorded.ts) — the determinism check to run
 * before rolling out a changed machine.
 */
import { UnknownSagaError } from '../errors.js';
import { SagaStatus, type IndexStore } from '../journal/index-store.js';
import type { Journal } from '../journal/journal.js';
import type { KvStore } from '../journal/kv-store.js';
import { loadCheckpoint } from './checkpoint.js';
import { journalView } from './journal-view.js';
import type { MachineRegistry } from './registry.js';
import { checkRecorded, type RecordedCheck, type RecordedFacts } from './replay-recorded.js';
import { initOf } from './replay-saga.js';

/** `checkRecorded`'s answer, with the saga and both machine versions named. */
export type SagaCheck = RecordedCheck & {
  readonly id: string;
  /** The machine checked: the one this coordinator runs now. */
  readonly machine: string;
  readonly version: number;
  /** The version that wrote the journal (its init entry). */
  readonly recordedVersion: number;
  /** The coordinator that checked (in a rolling upgrade, coordinators may run different versions). */
  readonly coordinator: string;
};

export interface SagaCheckDeps {
  readonly journal: Journal;
  readonly index: IndexStore;
  readonly checkpoints: KvStore;
  readonly registry: MachineRegistry;
  readonly owner: string;
  /** The copy of the saga driven here, if any: its status is fresher than the index's. */
  live(sagaId: string): { readonly no: number; readonly status: SagaStatus } | undefined;
}

export async function checkSaga(deps: SagaCheckDeps, sagaId: string): Promise<SagaCheck> {
  const [entries, record, checkpoint] = await Promise.all([
    deps.journal.read(sagaId),
    deps.index.get(sagaId),
    loadCheckpoint(deps.checkpoints, sagaId).catch(() => null),
  ]);
  const journal = entries.map(journalView);
  const first = journal.find((v) => v.init !== undefined);
  // Without an init entry there is nothing to replay (a start still under way, or no saga).
  if (!first) throw new UnknownSagaError(sagaId);
  const init = initOf(first);
  const candidate = deps.registry.latest(init.machine);
  const last = journal.at(-1)?.entryNo ?? 0;
  const live = deps.live(sagaId);
  const recorded: RecordedFacts = {
    // Parked is the host's word, not the machine's: no status to compare then.
    ...(live && live.no === last
      ? { status: live.status }
      : record && record.record.status !== SagaStatus.Parked
        ? { status: record.record.status }
        : {}),
    ...(checkpoint ? { checkpoint: { no: checkpoint.no, state: (checkpoint.snapshot as { value: never }).value } } : {}),
  };
  const result = checkRecorded({ candidate, sagaId, journal, recorded });
  return { ...result, id: sagaId, machine: candidate.id, version: candidate.version, recordedVersion: init.version, coordinator: deps.owner };
}

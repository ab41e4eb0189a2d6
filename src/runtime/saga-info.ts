/** `SagaInfo`, the answer of `runtime.get()`, from a saga's folded state or its index record alone. */
import { parentOf, type ParentRef } from '../../machines/kit/child-step.js';
import type { IndexRecord } from '../journal/index-store.js';
import type { FoldedSaga } from './fold.js';
import { parseMachineRef } from './machine-ref.js';
import { statusOf } from './status.js';
import type { SagaInfo } from './types.js';

/** The parts of a saga its info is made of: what a fold yields and what an instance holds. */
export type InfoSource = Pick<FoldedSaga, 'sagaId' | 'binding' | 'snapshot' | 'no' | 'lastAt' | 'book' | 'forkedFrom'>;

export function infoOf(f: InfoSource, owner: string | undefined): SagaInfo {
  const s = f.snapshot;
  return {
    id: f.sagaId,
    machine: f.binding.id,
    version: f.binding.version,
    status: statusOf(s),
    state: s.value,
    context: s.context,
    ...(s.status === 'done' ? { output: s.output } : {}),
    entryNo: f.no,
    owner,
    updatedAt: f.lastAt,
    pending: Object.values(f.book.pending).map((p) => ({ id: p.id, src: p.src, attempt: p.attempt, key: p.key })),
    timers: Object.values(f.book.timers).map((t) => ({ id: t.id, dueAt: t.dueAt })),
    ...(f.forkedFrom ? { forkedFrom: { sagaId: f.forkedFrom.sagaId, entry: f.forkedFrom.entry } } : {}),
    ...withParent(parentOf(s.context)),
  };
}

/** What the index alone says, for sagas whose journal is gone or cannot be folded here. */
export function summaryInfo(r: IndexRecord, problem?: string): SagaInfo {
  const { id: machine, version } = parseMachineRef(r.machine);
  const why = problem ?? r.problem;
  return {
    id: r.sagaId, machine, version, status: r.status, state: {}, context: undefined,
    entryNo: 0, owner: r.owner, updatedAt: r.updatedAt, pending: [], timers: [], ...(why ? { problem: why } : {}),
  };
}

/** A child's pointer to its parent, only when it has one (other infos keep their shape). */
function withParent(parent: ParentRef | undefined): { parent?: ParentRef } {
  return parent ? { parent } : {};
}

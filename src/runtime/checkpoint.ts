/**
 * Checkpoints: every N entries the host stores the persisted snapshot and the book, so a
 * recovery folds only the tail of a long journal. A checkpoint is an optimisation: if it is
 * missing, stale or unreadable, recovery folds the whole journal instead.
 */
import { createActor, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import type { ForkedFrom } from '../journal/codec.js';
import type { KvStore } from '../journal/kv-store.js';
import type { Book } from './book.js';

export interface Checkpoint {
  /** Entry number of the last entry folded into it. */
  readonly no: number;
  /** Journal seq of that entry; the tail starts after it. */
  readonly seq: number;
  readonly at: number;
  readonly createdAt: number;
  readonly machine: string;
  readonly version: number;
  readonly snapshot: unknown;
  readonly book: Book;
  readonly firstSeq: number;
  /** A fork's origin (a fold from this checkpoint never reads the init entry that holds it). */
  readonly forkedFrom?: ForkedFrom;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function makeCheckpoint(
  machine: AnyStateMachine,
  fields: Omit<Checkpoint, 'snapshot'> & { snapshot: AnyMachineSnapshot },
): Checkpoint {
  return { ...fields, snapshot: machine.getPersistedSnapshot(fields.snapshot) };
}

export async function saveCheckpoint(kv: KvStore, sagaId: string, cp: Checkpoint): Promise<void> {
  await kv.put(sagaId, encoder.encode(JSON.stringify(cp)));
}

export async function loadCheckpoint(kv: KvStore, sagaId: string): Promise<Checkpoint | null> {
  const e = await kv.get(sagaId);
  if (!e) return null;
  try {
    const cp = JSON.parse(decoder.decode(e.value)) as Checkpoint;
    // Without a snapshot, restoring would quietly yield the machine's initial state.
    const snapshot = (cp as { snapshot?: { value?: unknown } }).snapshot;
    const valid = Number.isInteger(cp.no) && Number.isInteger(cp.seq) && cp.book && typeof snapshot === 'object' && snapshot !== null && snapshot.value !== undefined;
    return valid ? cp : null;
  } catch {
    return null;
  }
}

/** Rebuilds a snapshot from its persisted form without starting anything. */
export function restoreSnapshot(machine: AnyStateMachine, persisted: unknown): AnyMachineSnapshot {
  // createActor(...).getSnapshot() revives the children too (resolveState would drop them, and
  // with them the stopChild actions that tell the book an invocation was abandoned).
  return createActor(machine, { snapshot: persisted as never }).getSnapshot() as AnyMachineSnapshot;
}

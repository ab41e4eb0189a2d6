/**
 * Checkpoints: every N entries the host stores the persisted snapshot and the book, so a
 * recovery folds only the tail of a long journal. A checkpoint is an optimisation: if it is
 * missing, stale or unreadable, recovery folds the whole journal instead.
 */
import type { AnyMachineSnapshot, AnyStateMachine } from 'xstate';
import type { ForkedFrom } from '../journal/codec.js';
import type { KvStore } from '../journal/kv-store.js';
import { forEachLimit } from '../util/for-each-limit.js';
import type { Book } from './book.js';
import { pureTransitions } from './pure-transition.js';

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
  return { ...fields, snapshot: persistSnapshot(machine, fields.snapshot) };
}

/**
 * The persisted form of a snapshot. A child stopped by a pure transition can be left as an
 * undefined entry of `children`, which XState's own persisting cannot read: it is gone, so it is
 * left out (the book, not `children`, says what is in flight).
 */
export function persistSnapshot(machine: AnyStateMachine, snapshot: AnyMachineSnapshot): unknown {
  const children = snapshot.children as Record<string, unknown>;
  if (Object.values(children).every((c) => c !== undefined)) return machine.getPersistedSnapshot(snapshot);
  const live = Object.fromEntries(Object.entries(children).filter(([, c]) => c !== undefined));
  return machine.getPersistedSnapshot({ ...snapshot, children: live } as AnyMachineSnapshot);
}

export async function saveCheckpoint(kv: KvStore, sagaId: string, cp: Checkpoint): Promise<void> {
  await kv.put(sagaId, encoder.encode(JSON.stringify(cp)));
}

export async function loadCheckpoint(kv: KvStore, sagaId: string): Promise<Checkpoint | null> {
  const e = await kv.get(sagaId);
  return e ? parseCheckpoint(e.value) : null;
}

/**
 * The checkpoints of these sagas that exist, with one read of the store when it can (a bulk
 * recovery would otherwise read thousands one by one). Unreadable ones are left out.
 */
export async function loadCheckpoints(kv: KvStore, sagaIds: ReadonlySet<string> | 'all'): Promise<Map<string, Checkpoint>> {
  const out = new Map<string, Checkpoint>();
  if (kv.getMany) {
    for (const [id, e] of await kv.getMany(sagaIds)) {
      const cp = parseCheckpoint(e.value);
      if (cp) out.set(id, cp);
    }
    return out;
  }
  const present = (await kv.keys()).filter((k) => sagaIds === 'all' || sagaIds.has(k));
  await forEachLimit(present, 64, async (id) => {
    const cp = await loadCheckpoint(kv, id).catch(() => null);
    if (cp) out.set(id, cp);
  });
  return out;
}

/** A stored checkpoint, or null when it is not one (it is then ignored: the journal is folded). */
export function parseCheckpoint(value: Uint8Array): Checkpoint | null {
  try {
    const cp = JSON.parse(decoder.decode(value)) as Checkpoint;
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
  return pureTransitions(machine).restore(persisted);
}

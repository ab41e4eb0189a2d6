/**
 * Folding many sagas at once: one ordered scan of the journal from a low-water seq instead of
 * one read per saga. On nats-server 2.9 a per-saga read costs a server-side search per entry
 * once a saga's entries lie far apart in the stream (~1 ms each with thousands of messages
 * between them); a scan streams ~150k entries a second. Checkpoints still apply: a saga with
 * one folds only the entries after it. A saga whose history the scan cannot assemble (it
 * began before the low-water seq, or its checkpoint does not line up) is read on its own.
 */
import { performance } from 'node:perf_hooks';
import { peekEntryNo } from '../journal/codec.js';
import type { Journal, JournalEntry } from '../journal/journal.js';
import type { KvStore } from '../journal/kv-store.js';
import type { Logger } from '../log.js';
import { loadCheckpoints, type Checkpoint } from './checkpoint.js';
import { foldSaga, type FoldedSaga } from './fold.js';
import { forEachLimit } from '../util/for-each-limit.js';
import type { MachineRegistry } from './registry.js';

export interface BulkFoldDeps {
  readonly journal: Journal;
  readonly checkpoints: KvStore;
  readonly registry: MachineRegistry;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Folds one saga from its own reads (the fallback). */
  foldOne(sagaId: string): Promise<FoldedSaga | null>;
}

/** A saga's fold (null: no journal at all), or the error that prevented it. */
export type FoldOutcome = FoldedSaga | null | Error;

/** Called with each saga as soon as it is folded. */
export type OnFolded = (sagaId: string, outcome: FoldOutcome) => Promise<void>;

/** Sagas folded between two yields to the event loop, so that those folded already can act. */
const FOLD_CHUNK = 256;

/**
 * A scan pays for every entry from `fromSeq` on, the sagas' own or not; reading sagas one by
 * one pays ~1–3 ms each. Scan when it reads fewer than this many entries per saga wanted
 * (~1.3 ms of scanning at ~150k entries/s).
 */
const SCAN_ENTRIES_PER_SAGA = 200;

/**
 * Folds `sagaIds` and hands each to `onFolded` as soon as it is folded, yielding to the event
 * loop between chunks: the sagas folded first start appending (on the server's core) while the
 * rest are still folding (on ours).
 *
 * A saga with a checkpoint is restored from it at once, its journal unread: the fold is
 * marked `tailUnchecked`, and the caller must append (its takeover marker) on the checkpoint's
 * last seq before acting — a conflict there means entries came after the checkpoint, and the
 * saga is folded again from its own reads. With most waiting sagas checkpointed (idle
 * checkpoints), this skips the journal for nearly all of them; only the others are scanned.
 */
export async function foldMany(
  deps: BulkFoldDeps,
  sagaIds: readonly string[],
  fromSeq: number,
  onFolded: OnFolded,
  /** The checkpoints, when they were read already (a prefetch while the sagas were listed). */
  preloaded?: Promise<ReadonlyMap<string, Checkpoint>>,
): Promise<FoldStats> {
  const tc = performance.now();
  const checkpoints = await (preloaded ?? loadCheckpoints(deps.checkpoints, new Set(sagaIds))).catch(() => new Map<string, Checkpoint>());
  deps.logger.debug({ sagas: sagaIds.length, checkpoints: checkpoints.size, ms: Math.round(performance.now() - tc) }, 'checkpoints read for recovery');
  const settling: Promise<void>[] = [];
  const pace = chunked();
  const rest: string[] = [];
  let fromCheckpoints = 0;
  for (const id of sagaIds) {
    const cp = checkpoints.get(id);
    let folded: FoldedSaga | undefined;
    try {
      if (cp) folded = { ...foldSaga(deps.registry, id, [], cp), hasCheckpoint: true, tailUnchecked: true };
    } catch (e) {
      deps.logger.warn({ sagaId: id, err: (e as Error).message }, 'checkpoint unusable; folding the saga from its journal');
    }
    if (!folded) {
      rest.push(id);
      continue;
    }
    fromCheckpoints++;
    settling.push(onFolded(id, folded));
    await pace();
  }
  deps.logger.debug({ restored: fromCheckpoints, ms: Math.round(performance.now() - tc) }, 'sagas restored from checkpoints');
  if (rest.length === 0) {
    await Promise.all(settling);
    return { fromCheckpoints, scanned: 0, readAlone: 0 };
  }

  const lastSeq = await deps.journal.lastSeq();
  if (lastSeq - fromSeq + 1 > rest.length * SCAN_ENTRIES_PER_SAGA) {
    await Promise.all([...settling, foldEach(deps, rest, onFolded)]);
    return { fromCheckpoints, scanned: 0, readAlone: rest.length };
  }
  const t0 = performance.now();
  const entries = new Map<string, JournalEntry[]>();
  let scanned = 0;
  for await (const e of deps.journal.scan({ fromSeq, sagaIds: new Set(rest), signal: deps.signal })) {
    scanned++;
    let list = entries.get(e.sagaId);
    if (!list) entries.set(e.sagaId, (list = []));
    list.push(e);
  }
  deps.logger.debug({ fromSeq, scanned, sagas: rest.length, ms: Math.round(performance.now() - t0) }, 'journal scanned for recovery');

  const fallback: string[] = [];
  for (const id of rest) {
    const list = entries.get(id) ?? [];
    entries.delete(id);
    let folded: FoldedSaga | undefined;
    try {
      // Only a history from its init entry on can be folded: one that began before `fromSeq` is read.
      if (list.length > 0 && peekEntryNo(list[0]!.data) === 1) folded = foldSaga(deps.registry, id, list);
    } catch (e) {
      deps.logger.warn({ sagaId: id, err: (e as Error).message }, 'bulk fold failed; reading the saga on its own');
    }
    if (!folded) {
      fallback.push(id);
      continue;
    }
    settling.push(onFolded(id, folded));
    await pace();
  }
  if (fallback.length > 0) deps.logger.debug({ count: fallback.length }, 'sagas folded from their own reads');
  await Promise.all([...settling, foldEach(deps, fallback, onFolded)]);
  return { fromCheckpoints, scanned, readAlone: fallback.length };
}

/** Resolves at once, except after every FOLD_CHUNK calls, when it lets the event loop in first. */
function chunked(): () => Promise<void> {
  let since = 0;
  return async () => {
    if (++since < FOLD_CHUNK) return;
    since = 0;
    await new Promise((r) => setImmediate(r));
  };
}

/** How a bulk fold went: sagas restored from a checkpoint, entries scanned, sagas read on their own. */
export interface FoldStats {
  readonly fromCheckpoints: number;
  readonly scanned: number;
  readonly readAlone: number;
}

async function foldEach(deps: BulkFoldDeps, sagaIds: readonly string[], onFolded: OnFolded): Promise<void> {
  await forEachLimit(sagaIds, 16, async (id) => {
    let outcome: FoldOutcome;
    try {
      outcome = await deps.foldOne(id);
    } catch (e) {
      outcome = e as Error;
    }
    await onFolded(id, outcome);
  });
}

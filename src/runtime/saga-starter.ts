/**
 * Starting a saga, so that a start either returns a saga that runs or fails with an error that
 * says what to do — never an acknowledgement of a saga that will not exist.
 *
 * A start writes the index record first (create-only: no saga is ever missing from it), then
 * the init entry. Between the two, another start of the same id finds the record without an
 * init: it waits for the init while the starter's coordinator is alive (a retryable
 * `SAGA_STARTING` if that takes too long), and takes the record over — CAS on its revision —
 * and journals its own init once that coordinator's lease has lapsed. A start whose init is
 * refused (another init, or a void left by a recovery that gave up on it) goes round again.
 */
import { isChildSagaInput } from '../../machines/kit/child-step.js';
import {
  InvalidArgumentError,
  JournalConflictError,
  KvConflictError,
  SagaError,
  SagaExistsError,
  SagaStartingError,
  ErrorCode,
} from '../errors.js';
import { encodeRecord } from '../journal/codec.js';
import { isTerminalStatus, SagaStatus, type IndexEntry, type IndexRecord, type IndexStore } from '../journal/index-store.js';
import type { Journal } from '../journal/journal.js';
import { msgIdOf } from '../journal/msg-id.js';
import { sleep } from '../nats/retry.js';
import { canonicalJson } from '../util/canonical-json.js';
import { applyEntry, emptyBook } from './book.js';
import type { FoldedSaga } from './fold.js';
import { initOf, unstartedHead } from './journal-start.js';
import { machineRef, parseMachineRef } from './machine-ref.js';
import { pureTransitions } from './pure-transition.js';
import type { SagaInstance } from './saga-instance.js';
import type { SagaLoader } from './saga-loader.js';
import { infoOf } from './saga-info.js';
import type { SagaBinding, SagaInfo, StartResult } from './types.js';

export interface StarterHost {
  readonly journal: Journal;
  readonly index: IndexStore;
  readonly loader: SagaLoader;
  readonly owner: string;
  readonly closing: AbortSignal;
  /** How long to wait for a live coordinator's start of the same id to journal its init. */
  readonly startWaitMs: number;
  now(): number;
  isAlive(owner: string): Promise<boolean>;
  loaded(sagaId: string): SagaInstance | undefined;
  get(sagaId: string): Promise<SagaInfo>;
  newCopy(): string;
  generation(): number;
  leaseValid(): boolean;
  trackAppend(p: Promise<unknown>): void;
  /** Registers a live copy (not yet acting). */
  activate(folded: FoldedSaga, entry: IndexEntry, copy: string): SagaInstance;
  /** Lets a freshly started copy act: notices, steps, timers. */
  launch(inst: SagaInstance, input: unknown): void;
}

interface StartRequest {
  readonly binding: SagaBinding;
  readonly id: string;
  readonly input: unknown;
  /** `input` as canonical JSON, to tell a repeated start from a different one. */
  readonly inputKey: string;
}

/** Rounds of "someone else moved first" before a start gives up with a retryable error. */
const MAX_ROUNDS = 8;

export class SagaStarter {
  constructor(private readonly host: StarterHost) {}

  /** Call inside `loader.exclusive([id])`. */
  async start(binding: SagaBinding, id: string, input: unknown): Promise<StartResult> {
    const req: StartRequest = { binding, id, input, inputKey: canonicalJson(input) };
    const { host } = this;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      // A coordinator that cannot renew its lease takes no work: another may be taking its
      // sagas over right now.
      if (!host.leaseValid()) {
        throw new SagaError(ErrorCode.LeaseLapsed, `coordinator "${host.owner}" cannot renew its lease (is NATS away?); retry`, { status: 503, retryable: true });
      }
      const loaded = host.loaded(id);
      if (loaded) return this.existing(req, loaded.binding.id);
      const now = host.now();
      const record: IndexRecord = {
        sagaId: id,
        machine: machineRef(binding.id, binding.version),
        status: SagaStatus.Running,
        owner: host.owner,
        epoch: 1,
        createdAt: now,
        updatedAt: now,
        // A child names its parent, so that retention keeps it while the parent lives.
        ...(isChildSagaInput(input) ? { parent: input.$parent.sagaId } : {}),
      };
      // The index record goes first, create-only, so that no saga is ever missing from it.
      const { entry, created } = await host.index.create(record);
      if (created) {
        const r = await this.initialise(req, entry, 0);
        if (r !== 'conflict') return r;
        continue;
      }
      const existingMachine = parseMachineRef(entry.record.machine).id;
      if (existingMachine !== binding.id) throw new SagaExistsError(id, entry.record.machine, binding.id);
      if (isTerminalStatus(entry.record.status)) return this.existing(req, existingMachine);
      const head = await unstartedHead(host.journal, id);
      if (head === null) {
        // It has begun: drive it here if it is ours or its owner's lease lapsed, then answer.
        await host.loader.acquireLocked(entry);
        return this.existing(req, existingMachine);
      }
      // A start that has not journaled its init yet (or never will).
      const rec = entry.record;
      if (rec.owner !== host.owner && (await host.isAlive(rec.owner))) {
        await this.waitForStarter(entry);
        continue;
      }
      let claimed: IndexEntry;
      try {
        claimed = await host.index.update({ ...rec, machine: record.machine, owner: host.owner, epoch: rec.epoch + 1, updatedAt: now }, entry.revision);
      } catch (e) {
        if (e instanceof KvConflictError) continue;
        throw e;
      }
      const r = await this.initialise(req, claimed, head);
      if (r !== 'conflict') return r;
    }
    throw new SagaError(ErrorCode.SagaStarting, `saga "${id}" could not be started: other coordinators kept changing it; retry`, {
      status: 503,
      retryable: true,
      details: { sagaId: id },
    });
  }

  /**
   * Journals the init entry after `expectedSeq` (0, or the last void) and lets the saga act.
   * 'conflict' when another init or a void got there first.
   */
  private async initialise(req: StartRequest, entry: IndexEntry, expectedSeq: number): Promise<StartResult | 'conflict'> {
    const { host } = this;
    const { binding, id, input } = req;
    let first: ReturnType<ReturnType<typeof pureTransitions>['initial']>;
    try {
      // The same path replay takes: what the live start computes, a fold recomputes.
      first = pureTransitions(binding.machine).initial(input);
      if (first[0].status === 'error') throw first[0].error;
    } catch (e) {
      await host.index.remove(id, { revision: entry.revision }).catch(() => undefined);
      throw new InvalidArgumentError(`machine ${binding.id} refused the input of saga "${id}": ${e instanceof Error ? e.message : String(e)}`);
    }
    const [snapshot, actions] = first;
    const at = host.now();
    const copy = host.newCopy();
    const generation = host.generation();
    const data = encodeRecord({ no: 1, at, init: { machine: binding.id, version: binding.version, input, owner: host.owner } });
    let seq: number;
    try {
      const p = host.journal.append(id, data, { expectedLastSeq: expectedSeq, msgId: msgIdOf(id, 1, copy), signal: host.closing });
      host.trackAppend(p);
      ({ seq } = await p);
    } catch (e) {
      if (e instanceof JournalConflictError) return 'conflict';
      throw e;
    }
    const book = emptyBook();
    applyEntry(book, { sagaId: id, no: 1, at, event: undefined, final: snapshot.status === 'done' }, actions);
    const folded: FoldedSaga = { sagaId: id, binding, snapshot, book, no: 1, lastSeq: seq, firstSeq: seq, lastAt: at, createdAt: at };
    // The lease lapsed (or the runtime closed) while the init was in flight: the saga is
    // journaled and its record is ours, so recovery resumes it; this copy must not act.
    if (host.generation() !== generation || host.closing.aborted) return { ...infoOf(folded, host.owner), created: true };
    const inst = host.activate(folded, entry, copy);
    host.launch(inst, input);
    return { ...inst.info(host.owner), created: true };
  }

  /** What a start of an existing saga answers: the saga, if it was started with this input. */
  private async existing(req: StartRequest, existingMachine: string): Promise<StartResult> {
    const init = await initOf(this.host.journal, req.id);
    if (init !== undefined && canonicalJson(init.input) !== req.inputKey) {
      throw new SagaExistsError(req.id, `${init.machine}@${init.version}`, req.binding.id, 'input');
    }
    if (existingMachine !== req.binding.id) throw new SagaExistsError(req.id, existingMachine, req.binding.id);
    return { ...(await this.host.get(req.id)), created: false };
  }

  /** Waits while a live coordinator's start journals its init; returns to look again. */
  private async waitForStarter(entry: IndexEntry): Promise<void> {
    const { host } = this;
    const id = entry.record.sagaId;
    const deadline = host.now() + host.startWaitMs;
    for (let delay = 10; ; delay = Math.min(delay * 2, 250)) {
      await sleep(delay, [host.closing]);
      const now = await host.index.get(id);
      if (!now || now.revision !== entry.revision) return;
      if ((await unstartedHead(host.journal, id)) === null) return;
      if (!(await host.isAlive(entry.record.owner))) return;
      if (host.now() > deadline) throw new SagaStartingError(id, entry.record.owner);
    }
  }
}

/**
 * Forking a saga: a new saga whose journal starts as a copy of entries 1..n of another, driven
 * from there like a recovered saga — steps whose results are among the copies are not run
 * again, invocations in flight at entry n start again, later steps run as usual. For going on
 * from a point before things went wrong (after fixing what made a step fail), without
 * re-running what had succeeded before it.
 *
 * Effects. The fork's idempotency keys are its own (`<forkId>:<entry>:<invocation>`), so a
 * step the fork re-runs is a new attempt to the systems it calls, not a duplicate of the
 * source's. Two sagas must never drive the same effects, so a source that still runs (or that
 * recovery will resume: parked) is refused. Timers armed at entry n keep their deadlines (the
 * copies keep their `at`): an overdue one fires as soon as the fork runs.
 *
 * Writing. As a start does: the index record first (create-only), then the copies in order,
 * each expecting the one before. The init announces how many copies follow
 * (`forkedFrom.entries`), and a fold that finds fewer parks the saga instead of driving it
 * (saga-loader.ts): a coordinator that dies half-way through the copy leaves a parked,
 * never-driven fork, not a saga that resumes from a prefix of the state asked for. While the
 * copy runs, the fork is held `exclusive` in this process, so this coordinator's own recovery
 * cannot find it half-written; other coordinators leave it alone while this one's lease is live.
 */
import { randomBytes } from 'node:crypto';
import {
  ErrorCode,
  InvalidArgumentError,
  SagaError,
} from '../errors.js';
import { SagaStatus, type IndexEntry, type IndexRecord, type IndexStore } from '../journal/index-store.js';
import type { Journal, JournalEntry } from '../journal/journal.js';
import { msgIdOf } from '../journal/msg-id.js';
import { assertSagaId, SAGA_ID_PATTERN } from '../journal/saga-id.js';
import { foldJournal, incompleteForkProblem, type FoldedSaga } from './fold.js';
import { SagaActiveError } from './fork-errors.js';
import { draftFork, type ForkDraft, type ForkPlan } from './fork-plan.js';
import { initOf, unstartedHead } from './journal-start.js';
import { machineRef } from './machine-ref.js';
import type { MachineRegistry } from './registry.js';
import type { SagaInstance } from './saga-instance.js';
import type { SagaLoader } from './saga-loader.js';
import { statusOf } from './status.js';
import type { SagaInfo } from './types.js';

export interface ForkOptions {
  /** The source's entry number to fork from (1 = just the init entry). */
  readonly from: number;
  /** The fork's id; default `<sourceId>-f<n>-<6 random hex>`. */
  readonly id?: string;
  /** Answer what the fork would be, writing nothing. */
  readonly dryRun?: boolean;
}

/** What `runtime.fork` answers: the plan, and the fork itself unless it was a dry run. */
export interface ForkResult extends ForkPlan {
  readonly dryRun: boolean;
  /** The fork's id; null on a dry run that was not given one. */
  readonly id: string | null;
  /** False on a dry run, and when `id` names the same fork made before (a fork is idempotent by id). */
  readonly created: boolean;
  /** The fork as it is now; null on a dry run. */
  readonly saga: SagaInfo | null;
}

export interface ForkerHost {
  readonly journal: Journal;
  readonly index: IndexStore;
  readonly registry: MachineRegistry;
  readonly loader: SagaLoader;
  readonly owner: string;
  readonly closing: AbortSignal;
  now(): number;
  get(sagaId: string): Promise<SagaInfo>;
  newCopy(): string;
  generation(): number;
  leaseValid(): boolean;
  trackAppend(p: Promise<unknown>): void;
  /** Registers a live copy of the fork under its (our) index record, not acting yet. */
  activate(folded: FoldedSaga, entry: IndexEntry, copy: string): SagaInstance;
  /** Lets it act, as recovery does: its pending invocations and timers. */
  resume(inst: SagaInstance): void;
}

/** Sources a fork would run beside: they are driven, or recovery resumes them (parked). */
const ACTIVE = new Set<string>([SagaStatus.Running, SagaStatus.Compensating, SagaStatus.Parked]);

/** `<source>-f<n>-<random>`, the source part cut so the id stays a valid saga id. */
export function defaultForkId(sourceId: string, from: number): string {
  const suffix = `-f${from}-${randomBytes(3).toString('hex')}`;
  return `${sourceId.slice(0, 128 - suffix.length)}${suffix}`;
}

export class SagaForker {
  constructor(private readonly host: ForkerHost) {}

  async fork(sourceId: string, options: ForkOptions): Promise<ForkResult> {
    assertSagaId(sourceId);
    if (options.id !== undefined) assertSagaId(options.id);
    const from = options.from;
    if (!Number.isInteger(from) || from < 1) throw new InvalidArgumentError(`fork from entry ${String(from)}: an entry number is an integer from 1`, { from });
    const { host } = this;
    // The status first (UNKNOWN_SAGA for a saga nobody has), then the journal: a source that
    // is finished or blocked no longer changes by itself.
    const info = await host.get(sourceId);
    if (ACTIVE.has(info.status)) throw new SagaActiveError(sourceId, info.status);
    const source = await host.journal.read(sourceId);
    const id = options.id ?? defaultForkId(sourceId, from);
    if (!SAGA_ID_PATTERN.test(id)) throw new InvalidArgumentError(`fork id "${id}" is not a valid saga id`);
    if (id === sourceId) throw new InvalidArgumentError(`a fork needs an id of its own, not "${sourceId}"`);
    const draft = draftFork({ registry: host.registry, sourceId, source, from, forkId: id, owner: host.owner });
    if (options.dryRun) return { ...draft.plan, dryRun: true, id: options.id ?? null, created: false, saga: null };
    return host.loader.exclusive([id], () => this.write(id, draft));
  }

  /** Call inside `loader.exclusive([id])`. */
  private async write(id: string, draft: ForkDraft): Promise<ForkResult> {
    const { host } = this;
    if (!host.leaseValid()) {
      throw new SagaError(ErrorCode.LeaseLapsed, `coordinator "${host.owner}" cannot renew its lease (is NATS away?); retry`, { status: 503, retryable: true });
    }
    const { binding } = draft.folded;
    const now = host.now();
    const record: IndexRecord = {
      sagaId: id,
      machine: machineRef(binding.id, binding.version),
      status: statusOf(draft.folded.snapshot),
      owner: host.owner,
      epoch: 1,
      createdAt: now,
      updatedAt: now,
    };
    const { entry, created } = await host.index.create(record);
    if (!created) return this.existing(id, draft);
    // A new record, but perhaps void entries of an earlier start of this id that never landed.
    const head = await unstartedHead(host.journal, id);
    if (head === null) {
      // A journal under this id already begins with an init: not ours to write over.
      await host.index.remove(id, { revision: entry.revision }).catch(() => undefined);
      throw taken(id);
    }
    const copy = host.newCopy();
    const generation = host.generation();
    const written: JournalEntry[] = [];
    let expectedLastSeq = head;
    try {
      for (const [i, data] of draft.copies.entries()) {
        // The lease lapsed or the runtime closes: stop; what is written is parked below.
        if (host.generation() !== generation || host.closing.aborted) {
          throw new SagaError(ErrorCode.LeaseLapsed, `coordinator "${host.owner}" lost its lease while copying fork "${id}"; retry`, { status: 503, retryable: true });
        }
        const p = host.journal.append(id, data, { expectedLastSeq, msgId: msgIdOf(id, i + 1, copy), signal: host.closing });
        host.trackAppend(p);
        const { seq } = await p;
        written.push({ sagaId: id, seq, msgId: undefined, data });
        expectedLastSeq = seq;
      }
    } catch (e) {
      await this.abandon(id, entry, draft, written.length);
      throw e;
    }
    const folded = foldJournal(host.registry, id, written)!;
    const plan = { ...draft.plan, dryRun: false, id, created: true };
    // As a start: journaled and ours, but this process may no longer act on it; recovery will.
    if (host.generation() !== generation || host.closing.aborted) return { ...plan, saga: await host.get(id) };
    const inst = host.activate(folded, entry, copy);
    host.resume(inst);
    return { ...plan, saga: inst.info(host.owner) };
  }

  /**
   * The copy failed part-way (or not at all): no entry written — the record goes, as for a
   * start refused; some written — the record says parked and why (recovery finds the same and
   * leaves it parked). Best effort: if this fails too, recovery parks it.
   */
  private async abandon(id: string, entry: IndexEntry, draft: ForkDraft, held: number): Promise<void> {
    const { host } = this;
    try {
      if (held === 0) {
        await host.index.remove(id, { revision: entry.revision });
        return;
      }
      const forkedFrom = { sagaId: draft.plan.source, entry: draft.plan.from, entries: draft.plan.entries };
      await host.index.update({ ...entry.record, status: SagaStatus.Parked, problem: incompleteForkProblem(forkedFrom, held), updatedAt: host.now() }, entry.revision);
    } catch {
      // recovery will find it
    }
  }

  /** The id is taken: by this very fork made earlier (answered again), or by another saga. */
  private async existing(id: string, draft: ForkDraft): Promise<ForkResult> {
    const init = await initOf(this.host.journal, id);
    const f = init?.forkedFrom;
    if (!f || f.sagaId !== draft.plan.source || f.entry !== draft.plan.from) throw taken(id);
    return { ...draft.plan, dryRun: false, id, created: false, saga: await this.host.get(id) };
  }
}

function taken(id: string): SagaError {
  return new SagaError(ErrorCode.SagaExists, `saga "${id}" already exists; give the fork another id`, { status: 409, details: { sagaId: id } });
}

/**
 * Saga bundles (`jetsaga sagas export`) opened in the page: parsed, replayed once on the
 * machine definitions at hand (those this jetsaga ships), and kept in memory — the few most
 * recently used — so that the timeline and the scrubber work with no coordinator, no NATS at
 * all. A bundle's id is its digest: opening the same file twice gives the same bundle.
 */
import { createHash } from 'node:crypto';
import { isChildSagaInput } from '../../../machines/kit/child-step.js';
import { definitionFor, parseBundle, replaySaga, type SagaBundle } from '../../runtime/replay.js';
import type { ReplayStep } from '../../runtime/replay-saga.js';
import type { SagaDefinition } from '../../runtime/types.js';
import type { MachineGraph } from '../../viz/graph-types.js';
import { machineGraph } from '../../viz/machine-graph.js';
import type { BundleOpened, SagaAt, SagaDetail, Timeline } from '../api-types.js';
import { httpError, UiErrorCode } from './http-kit.js';
import { inFlight, sagaAt, sagaDetail, timelineOf } from './saga-view.js';

/** Bundles kept by default (each holds its journal and every entry's context). */
export const DEFAULT_MAX_BUNDLES = 8;

interface OpenBundle {
  readonly id: string;
  readonly bundle: SagaBundle;
  readonly graph: MachineGraph;
  /** Replayed with contexts. */
  readonly steps: readonly ReplayStep[];
  readonly detail: SagaDetail;
}

export class BundleStore {
  readonly #open = new Map<string, OpenBundle>();

  constructor(
    private readonly definitions: () => Promise<readonly SagaDefinition[]>,
    private readonly max = DEFAULT_MAX_BUNDLES,
  ) {}

  /** Parses and replays a bundle (INVALID_ARGUMENT naming the bad field; UNKNOWN_MACHINE for a machine not known here). */
  async open(text: string): Promise<BundleOpened> {
    const id = `b${createHash('sha256').update(text).digest('hex').slice(0, 20)}`;
    const known = this.#open.get(id);
    if (known) {
      this.#touch(known);
      return { bundleId: id, saga: known.detail };
    }
    const bundle = parseBundle(text);
    const { saga } = bundle;
    const definition = definitionFor(await this.definitions(), saga.id, saga.machine, saga.version);
    const steps = replaySaga(definition, bundle.journal, { sagaId: saga.id, withContext: true });
    const graph = machineGraph(definition.machine);
    const opened: OpenBundle = { id, bundle, graph, steps, detail: sagaDetail(factsOf(bundle, steps), graph, steps) };
    this.#touch(opened);
    return { bundleId: id, saga: opened.detail };
  }

  detail(bundleId: string): SagaDetail {
    return this.#get(bundleId).detail;
  }

  timeline(bundleId: string): Timeline {
    const b = this.#get(bundleId);
    return timelineOf(b.bundle.saga.id, b.steps);
  }

  at(bundleId: string, no: number): SagaAt {
    const b = this.#get(bundleId);
    const upTo = b.steps.filter((s) => s.no >= 1 && s.no <= no);
    const step = upTo.at(-1);
    if (!step || step.no !== no) {
      throw httpError('INVALID_ARGUMENT', 400, `saga "${b.bundle.saga.id}" has entries 1 to ${b.detail.entryNo}: there is no entry ${no}`, { entries: b.detail.entryNo });
    }
    return sagaAt(b.bundle.saga.id, b.bundle.saga.machine, b.graph, upTo, step, step.context ?? null);
  }

  #get(bundleId: string): OpenBundle {
    const b = this.#open.get(bundleId);
    if (!b) throw httpError(UiErrorCode.UnknownBundle, 404, `no bundle "${bundleId}" is open here (bundles are kept in memory: open it again)`, { bundleId });
    this.#touch(b);
    return b;
  }

  #touch(b: OpenBundle): void {
    this.#open.delete(b.id);
    this.#open.set(b.id, b);
    while (this.#open.size > this.max) this.#open.delete(this.#open.keys().next().value!);
  }
}

/** What the journal alone says of the saga after its last entry. */
function factsOf(bundle: SagaBundle, steps: readonly ReplayStep[]) {
  const entries = steps.filter((s) => s.no >= 1);
  const last = entries.at(-1);
  const init = bundle.journal.find((v) => v.init !== undefined)?.init as { owner?: string; input?: unknown; forkedFrom?: { sagaId: string; entry: number } } | undefined;
  const takeover = [...bundle.journal].reverse().find((v) => v.takeover !== undefined)?.takeover;
  const { pending, timers } = inFlight(entries);
  return {
    id: bundle.saga.id,
    machine: bundle.saga.machine,
    version: bundle.saga.version,
    status: last?.status ?? 'running',
    owner: takeover?.owner ?? init?.owner ?? null,
    state: last?.state ?? null,
    context: last?.context ?? null,
    entryNo: last?.no ?? 0,
    updatedAt: last?.at ?? 0,
    forkedFrom: init?.forkedFrom ? { sagaId: init.forkedFrom.sagaId, entry: init.forkedFrom.entry } : null,
    // A child's init entry records its parent; its children are other journals, not in the bundle.
    parent: isChildSagaInput(init?.input) ? init.input.$parent : null,
    children: [],
    pending,
    timers,
  };
}

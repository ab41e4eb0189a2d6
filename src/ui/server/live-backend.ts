/**
 * The visualizer's live data, over the service API (a JetsagaClient, like the CLI): sagas,
 * their details, timelines and re-folds, operator actions, forks and the boot view. Every call
 * also tells whether a coordinator answers, which the page shows and the event stream reports
 * when it changes (a coordinator restarting is unreachable for a while, then answers again).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { SagaError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { SagaDefinition, SagaSummary } from '../../runtime/types.js';
import type { JetsagaClient } from '../../service/client.js';
import type { ActionReply, BootView, ForkReply, ForkRequest, MachineList, SagaAt, SagaDetail, SagaList, SagaRow, Timeline } from '../api-types.js';
import { coordinatorsRunning } from '../../boot/coordinators-running.js';
import { bootCoordinators } from './boot-view.js';
import { GraphSource } from './graphs.js';
import { httpError } from './http-kit.js';
import { ReplayCache } from './replay-cache.js';
import { sagaAt, sagaDetail, timelineOf, type SagaFacts } from './saga-view.js';
import { activeIds, stateIndex } from './state-ids.js';

export const SagaAction = ['cancel', 'retry', 'skip', 'abandon'] as const;
export type SagaAction = (typeof SagaAction)[number];

export interface SagaQuery {
  readonly status?: readonly string[];
  readonly machine?: string;
  readonly limit?: number;
}

/** Running sagas the boot view looks through for ones that wait on a dependency. */
const WAITING_SCAN_LIMIT = 200;
const SCAN_CONCURRENCY = 4;

/** No coordinator answered (nobody listens, it timed out, or it is booting or stopping). */
export function isUnreachable(e: unknown): boolean {
  return e instanceof SagaError && (e.status === 503 || e.status === 504);
}

type SagaInfoReply = Awaited<ReturnType<JetsagaClient['getSaga']>>;

function factsOf(info: SagaInfoReply): SagaFacts {
  return {
    id: info.id,
    machine: info.machine,
    version: info.version,
    status: info.status,
    owner: info.owner ?? null,
    state: info.state,
    context: info.context,
    entryNo: info.entryNo,
    updatedAt: info.updatedAt,
    forkedFrom: info.forkedFrom ?? null,
    parent: info.parent ?? null,
    children: info.children ?? [],
    pending: info.pending ?? [],
    timers: info.timers ?? [],
  };
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export class LiveBackend {
  readonly graphs: GraphSource;
  readonly replays: ReplayCache;
  #reachable = false;
  readonly #listeners = new Set<(reachable: boolean) => void>();
  /** Per running saga: what it waited on at its last entry number seen (spares a replay per poll). */
  readonly #waiting = new Map<string, { entryNo: number; waiting: BootView['waiting'] }>();

  constructor(
    readonly client: JetsagaClient,
    private readonly nc: NatsConnection,
    private readonly namespace: string,
    definitions: () => Promise<readonly SagaDefinition[]>,
    private readonly logger: Logger,
  ) {
    this.graphs = new GraphSource(async (id, version) => {
      const r = await this.call(() => this.client.machineGraph(id, version));
      return { summary: { id: r.id, version: r.version, description: r.description }, graph: r.graph };
    }, definitions);
    this.replays = new ReplayCache((id, from) => this.call(() => this.client.replaySaga(id, { from })));
  }

  get reachable(): boolean {
    return this.#reachable;
  }

  /** Called with the new value whenever reachability changes. */
  onReachability(listener: (reachable: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #set(reachable: boolean): void {
    if (reachable === this.#reachable) return;
    this.#reachable = reachable;
    this.logger.info({ reachable }, reachable ? 'a coordinator answers' : 'no coordinator answers');
    for (const l of this.#listeners) l(reachable);
  }

  /** A request through the service API: its outcome says whether a coordinator answers. */
  async call<T>(request: () => Promise<T>): Promise<T> {
    try {
      const value = await request();
      this.#set(true);
      return value;
    } catch (e) {
      // Any answer, an error reply included, is a coordinator answering.
      this.#set(!isUnreachable(e));
      throw e;
    }
  }

  /** Asks a coordinator something cheap; resolves with whether one answered. */
  async ping(): Promise<boolean> {
    await this.call(() => this.client.listMachines()).catch(() => undefined);
    return this.#reachable;
  }

  async machines(): Promise<MachineList> {
    const { machines } = await this.call(() => this.client.listMachines());
    return { machines: machines.map((m) => ({ id: m.id, version: m.version, description: m.description })) };
  }

  async sagas(query: SagaQuery = {}): Promise<SagaList> {
    const request = {
      ...(query.status && query.status.length > 0 ? { status: query.status.length === 1 ? query.status[0] : [...query.status] } : {}),
      ...(query.machine ? { machine: query.machine } : {}),
      limit: query.limit ?? 500,
    };
    const { sagas } = await this.call(() => this.client.listSagas(request as never));
    return { sagas: sagas.map(rowOf) };
  }

  async detail(id: string): Promise<SagaDetail> {
    const info = await this.call(() => this.client.getSaga(id));
    const [found, journal] = await Promise.all([
      this.graphs.graphOrNull(info.machine, info.version),
      this.replays.journal(id, info.entryNo).catch((e: unknown) => {
        // Drawn without its path: e.g. a coordinator that does not run its machine answered.
        this.logger.debug({ sagaId: id, err: (e as Error).message }, 'saga not replayed');
        return null;
      }),
    ]);
    return sagaDetail(factsOf(info), found?.graph ?? null, journal?.steps ?? null);
  }

  async timeline(id: string): Promise<Timeline> {
    const journal = await this.replays.journal(id);
    return timelineOf(id, journal.steps);
  }

  async at(id: string, no: number): Promise<SagaAt> {
    const page = await this.call(() => this.client.replaySaga(id, { from: no, to: no }));
    const step = page.steps.find((s) => s.no === no);
    if (!step) throw httpError('INVALID_ARGUMENT', 400, `saga "${id}" has entries 1 to ${page.entries}: there is no entry ${no}`, { entries: page.entries });
    const [journal, found] = await Promise.all([this.replays.journal(id, no), this.graphs.graphOrNull(page.machine, page.version)]);
    const upTo = journal.steps.filter((s) => s.no >= 1 && s.no <= no);
    return sagaAt(id, page.machine, found?.graph ?? null, upTo, step, page.context);
  }

  async action(id: string, action: SagaAction): Promise<ActionReply> {
    const send = {
      cancel: () => this.client.cancelSaga(id),
      retry: () => this.client.retrySaga(id),
      skip: () => this.client.skipSaga(id),
      abandon: () => this.client.abandonSaga(id),
    }[action];
    const r = await this.call(send);
    return { id: r.id, accepted: r.accepted, status: r.status };
  }

  async fork(id: string, request: ForkRequest): Promise<ForkReply> {
    return (await this.call(() => this.client.forkSaga(id, { from: request.from, dryRun: request.dryRun }))) as unknown as ForkReply;
  }

  async boot(): Promise<BootView> {
    const { records } = await this.call(() => this.client.bootStatus());
    const running = await coordinatorsRunning(this.nc, this.namespace, new Set(records.map((r) => r.coordinator)));
    return { coordinators: bootCoordinators(records, running), waiting: await this.#waitingSagas() };
  }

  /** Open sagas in an `awaits:<dependency>` state, with since when. */
  async #waitingSagas(): Promise<BootView['waiting']> {
    const { sagas } = await this.call(() => this.client.listSagas({ status: 'running', limit: WAITING_SCAN_LIMIT }));
    const open = new Set(sagas.map((s) => s.id));
    for (const id of this.#waiting.keys()) if (!open.has(id)) this.#waiting.delete(id);
    const found = await mapLimit(sagas, SCAN_CONCURRENCY, async (s) => {
      try {
        return await this.#waitingOf(s.id);
      } catch (e) {
        this.logger.debug({ sagaId: s.id, err: (e as Error).message }, 'saga not looked at for the boot view');
        return [];
      }
    });
    return found.flat();
  }

  async #waitingOf(id: string): Promise<BootView['waiting']> {
    const info = await this.client.getSaga(id);
    const seen = this.#waiting.get(id);
    if (seen && seen.entryNo === info.entryNo) return seen.waiting;
    const found = await this.graphs.graphOrNull(info.machine, info.version);
    let waiting: BootView['waiting'] = [];
    if (found) {
      const index = stateIndex(found.graph);
      const awaits = activeIds(info.state, info.machine, index).some((n) => index.byId.get(n)?.tags.some((t) => t.startsWith('awaits:')));
      if (awaits) {
        const journal = await this.replays.journal(id, info.entryNo).catch(() => null);
        waiting = sagaDetail(factsOf(info), found.graph, journal?.steps ?? null).waiting.map((w) => ({
          sagaId: id,
          machine: info.machine,
          dependency: w.dependency,
          since: w.since,
        }));
      }
    }
    this.#waiting.set(id, { entryNo: info.entryNo, waiting });
    return waiting;
  }
}

function rowOf(s: SagaSummary): SagaRow {
  return { id: s.id, machine: s.machine, version: s.version, status: s.status, owner: s.owner, createdAt: s.createdAt, updatedAt: s.updatedAt, parentId: s.parentId ?? null };
}

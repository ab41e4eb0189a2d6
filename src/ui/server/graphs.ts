/**
 * Where machine graphs come from: the coordinator (`machines.graph`: the machines it runs,
 * custom ones included), else the definitions this jetsaga ships (build, rollback), which is
 * all there is offline. A graph asked for by version is kept: a machine version never changes.
 */
import { ErrorCode, SagaError, UnknownMachineError } from '../../errors.js';
import type { SagaDefinition } from '../../runtime/types.js';
import type { MachineGraph } from '../../viz/graph-types.js';
import { machineGraph } from '../../viz/machine-graph.js';
import type { MachineSummary } from '../api-types.js';

export interface GraphFound {
  readonly summary: MachineSummary;
  readonly graph: MachineGraph;
}

export type RemoteGraph = (id: string, version: number | undefined) => Promise<GraphFound>;

const MAX_KEPT = 256;

export function summaryOf(d: SagaDefinition): MachineSummary {
  return { id: d.id, version: d.version, description: (d.machine.root as { description?: string }).description ?? null };
}

export class GraphSource {
  readonly #kept = new Map<string, Promise<GraphFound>>();
  readonly #known = new Map<string, GraphFound>();

  constructor(
    private readonly remote: RemoteGraph | null,
    readonly definitions: () => Promise<readonly SagaDefinition[]>,
  ) {}

  /** The graph of `id`: the newest version, or the one that replays journals of `version`. */
  graph(id: string, version?: number): Promise<GraphFound> {
    if (version === undefined) return this.#fetch(id, undefined);
    const key = `${id}@${version}`;
    const kept = this.#kept.get(key);
    if (kept) return kept;
    const found = this.#fetch(id, version);
    this.#kept.set(key, found);
    found.catch(() => this.#kept.delete(key));
    while (this.#kept.size > MAX_KEPT) this.#kept.delete(this.#kept.keys().next().value!);
    return found;
  }

  /** The graph, or null when nobody knows the machine (views are then drawn without it). */
  graphOrNull(id: string, version?: number): Promise<GraphFound | null> {
    return this.graph(id, version).catch(() => null);
  }

  async #fetch(id: string, version: number | undefined): Promise<GraphFound> {
    if (!this.remote) return this.knownGraph(id, version);
    try {
      return await this.remote(id, version);
    } catch (e) {
      // A machine the coordinator does not run (or none answers): the shipped ones may have it.
      return this.knownGraph(id, version).catch(() => {
        throw e;
      });
    }
  }

  /** From the shipped definitions only. */
  async knownGraph(id: string, version?: number): Promise<GraphFound> {
    const defs = (await this.definitions()).filter((d) => d.id === id).sort((a, b) => b.version - a.version);
    if (defs.length === 0) throw new UnknownMachineError(id, [...new Set((await this.definitions()).map((d) => d.id))]);
    const def = version === undefined ? defs[0]! : (defs.find((d) => d.version === version) ?? defs.find((d) => d.resumesFrom?.includes(version)));
    if (!def) {
      throw new SagaError(ErrorCode.MachineVersionMismatch, `no definition of ${id}@${version} here (known: ${defs.map((d) => `${id}@${d.version}`).join(', ')})`, {
        status: 404,
        details: { machine: id, version },
      });
    }
    const key = `${def.id}@${def.version}`;
    let found = this.#known.get(key);
    if (!found) this.#known.set(key, (found = { summary: summaryOf(def), graph: machineGraph(def.machine) }));
    return found;
  }
}

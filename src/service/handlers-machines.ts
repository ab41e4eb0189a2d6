/**
 * `machines.list`, `machines.graph` and `sagas.replay`, over the coordinator's own machine
 * registry: the visualizer draws and replays the machines this coordinator runs, custom ones
 * included, without holding their definitions itself. The graph is the cheap part (a walk of
 * the state tree); its layout is left to the caller.
 */
import type { z } from 'zod';
import type { Coordinator } from '../coordinator.js';
import { ErrorCode, SagaError } from '../errors.js';
import { initOf, replaySteps, type ReplayStep } from '../runtime/replay-saga.js';
import type { SagaBinding } from '../runtime/types.js';
import { machineGraph } from '../viz/machine-graph.js';
import type { MachineGraph } from '../viz/graph-types.js';
import type { MachinesGraphRequest, MachinesListRequest, SagasReplayRequest } from './schemas-machines.js';

/** At most this many replay steps per `sagas.replay` reply (the request may ask for fewer). */
export const REPLAY_PAGE = 1000;
/** …and about this many bytes of them: with the context below, well under NATS's 1 MiB payload. */
export const REPLAY_PAGE_BYTES = 512 * 1024;
/** A context larger than this is left out of the reply (`contextOmitted`). */
export const REPLAY_CONTEXT_BYTES = 384 * 1024;

export interface MachineSummaryReply {
  readonly id: string;
  readonly version: number;
  readonly description: string | null;
  /** Older versions whose sagas this version replays. */
  readonly resumesFrom: readonly number[];
}

function summaryOf(b: SagaBinding): MachineSummaryReply {
  const description = (b.machine.root as { description?: string }).description;
  return { id: b.id, version: b.version, description: description ?? null, resumesFrom: [...(b.resumesFrom ?? [])] };
}

/** The registered binding that draws `id@version`: that version, or a newer one that resumes from it. */
function bindingFor(c: Coordinator, id: string, version: number | undefined): SagaBinding {
  const registry = c.runtime.registry;
  if (version === undefined) return registry.latest(id);
  const versions = registry.all().filter((b) => b.id === id);
  const found = versions.find((b) => b.version === version) ?? versions.find((b) => b.resumesFrom?.includes(version));
  if (found) return found;
  // registry.latest throws UNKNOWN_MACHINE (naming the known ones) when the id is not registered at all.
  registry.latest(id);
  throw new SagaError(ErrorCode.MachineVersionMismatch, `coordinator "${c.config.owner}" has no ${id}@${version} (it has ${versions.map((b) => `${id}@${b.version}`).join(', ')})`, {
    status: 404,
    details: { machine: id, version, available: versions.map((b) => b.version) },
  });
}

export interface ReplayReply {
  readonly id: string;
  /** The machine and version that wrote the journal. */
  readonly machine: string;
  readonly version: number;
  /** The version that replayed it here (a newer one when it resumes from `version`). */
  readonly replayedOn: number;
  /** The saga's last entry number. */
  readonly entries: number;
  /** Steps from `from` (void records, number 0, only with `from` 0, the default) up to `to`. */
  readonly steps: readonly ReplayStep[];
  /** The whole context after the last step in `steps` (null when there is none, or when omitted). */
  readonly context: unknown;
  /** True when the context was too large for the reply. */
  readonly contextOmitted: boolean;
  /** The `from` of the next page; null when this page reaches `to` (or the end). */
  readonly next: number | null;
}

async function replay(r: z.output<typeof SagasReplayRequest>, c: Coordinator): Promise<ReplayReply> {
  const journal = await c.runtime.events(r.id);
  const first = journal.find((v) => v.void === undefined);
  if (!first) throw new SagaError(ErrorCode.SagaStarting, `saga "${r.id}" has no init entry yet`, { status: 409, retryable: true, details: { sagaId: r.id } });
  const { machine, version } = initOf(first);
  const binding = c.runtime.registry.forReplay(r.id, machine, version);
  const from = r.from ?? 0;
  const limit = Math.min(r.limit ?? REPLAY_PAGE, REPLAY_PAGE);
  const entries = journal.at(-1)?.entryNo ?? 0;
  const steps: ReplayStep[] = [];
  let context: unknown = null;
  let counted = 0;
  let bytes = 0;
  let next: number | null = null;
  for (const step of replaySteps(binding, journal, { sagaId: r.id, withContext: true, ...(r.to === undefined ? {} : { to: r.to }) })) {
    if (step.no < from) continue;
    const { context: after, ...rest } = step;
    const size = JSON.stringify(rest).length;
    // Void records (all number 0) never count: a page boundary among them could not be resumed.
    if (step.no > 0 && counted > 0 && (counted >= limit || bytes + size > REPLAY_PAGE_BYTES)) {
      next = step.no;
      break;
    }
    steps.push(rest);
    context = after ?? null;
    if (step.no > 0) counted++;
    bytes += size;
  }
  const contextOmitted = JSON.stringify(context ?? null).length > REPLAY_CONTEXT_BYTES;
  return { id: r.id, machine, version, replayedOn: binding.version, entries, steps, context: contextOmitted ? null : context, contextOmitted, next };
}

export const machineHandlers = {
  'machines.list': async (_r: z.output<typeof MachinesListRequest>, c: Coordinator) => {
    const newest = new Map<string, SagaBinding>();
    for (const b of c.runtime.registry.all()) if ((newest.get(b.id)?.version ?? 0) < b.version) newest.set(b.id, b);
    const machines = [...newest.values()].sort((a, b) => a.id.localeCompare(b.id)).map(summaryOf);
    return { machines };
  },
  'machines.graph': async (r: z.output<typeof MachinesGraphRequest>, c: Coordinator): Promise<MachineSummaryReply & { graph: MachineGraph }> => {
    const binding = bindingFor(c, r.id, r.version);
    return { ...summaryOf(binding), graph: machineGraph(binding.machine) };
  },
  'sagas.replay': replay,
};

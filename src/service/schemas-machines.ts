/**
 * Requests and replies of the machine endpoints (`machines.list`, `machines.graph`) and of
 * `sagas.replay`: what the visualizer asks a coordinator for, because only the coordinator holds
 * the definitions of the machines it runs (custom ones included).
 */
import { z } from 'zod';
import { SAGA_ID_PATTERN } from '../journal/saga-id.js';

const sagaId = z.string().regex(SAGA_ID_PATTERN, 'a saga id is 1–128 of [A-Za-z0-9_-]');
const machineId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a machine id is 1–64 of [A-Za-z0-9_-]');

export const MachinesListRequest = z.strictObject({});

export const MachinesGraphRequest = z.strictObject({
  id: machineId,
  /** The version whose journals to draw: the registered one, or a newer one that resumes from it. Default: the newest. */
  version: z.int().min(1).optional(),
});

export const SagasReplayRequest = z.strictObject({
  id: sagaId,
  /** The first entry number to answer with (default 1; the fold always starts at the init entry). */
  from: z.int().min(0).optional(),
  /** The last entry number to replay (inclusive); default: all. */
  to: z.int().min(0).optional(),
  /** At most this many steps per reply (default and maximum 1,000). */
  limit: z.int().min(1).max(1000).optional(),
});

const machineSummary = z.looseObject({ id: z.string(), version: z.number(), description: z.string().nullable() });
export const MachinesListReply = z.looseObject({ machines: z.array(machineSummary) });
export const MachinesGraphReply = z.looseObject({
  id: z.string(),
  version: z.number(),
  graph: z.looseObject({ id: z.string(), nodes: z.array(z.looseObject({ id: z.string() })), edges: z.array(z.unknown()) }),
});
export const SagasReplayReply = z.looseObject({
  id: z.string(),
  machine: z.string(),
  version: z.number(),
  entries: z.number(),
  steps: z.array(z.looseObject({ no: z.number(), at: z.number(), kind: z.string() })),
  context: z.unknown(),
  next: z.number().nullable(),
});

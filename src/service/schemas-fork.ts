/**
 * Requests and replies of `sagas.fork` and `sagas.check` (README, "NATS service API"): forking a
 * finished saga from one of its entries, and checking a saga's journal against the machine the
 * coordinator runs now.
 */
import { z } from 'zod';
import { SAGA_ID_PATTERN } from '../journal/saga-id.js';

const sagaId = z.string().regex(SAGA_ID_PATTERN, 'a saga id is 1–128 of [A-Za-z0-9_-]');

export const SagasForkRequest = z.strictObject({
  /** The source saga. */
  id: sagaId,
  /** Its entry number to fork from (1 = the init entry). */
  from: z.int().min(1),
  /** The fork's id (default `<id>-f<from>-<6 hex>`). */
  newId: sagaId.optional(),
  /** Answer what the fork would do; write nothing. */
  dryRun: z.boolean().optional(),
});

const forkStep = z.looseObject({ id: z.string(), src: z.string() });
const forkResult = z.looseObject({ id: z.string(), src: z.string().nullable(), entry: z.number(), outcome: z.string() });
export const SagasForkReply = z.looseObject({
  source: z.string(),
  from: z.number(),
  dryRun: z.boolean(),
  id: z.string().nullable(),
  created: z.boolean(),
  machine: z.string(),
  version: z.number(),
  entries: z.number(),
  status: z.string(),
  willRun: z.array(forkStep),
  undosRun: z.array(forkResult),
  stepsAfter: z.array(forkResult),
  saga: z.looseObject({ id: z.string(), status: z.string() }).nullable(),
});

export const SagasCheckReply = z.looseObject({
  ok: z.boolean(),
  id: z.string(),
  machine: z.string(),
  version: z.number(),
  recordedVersion: z.number(),
  coordinator: z.string(),
  entries: z.number().optional(),
  entry: z.number().optional(),
  expected: z.string().optional(),
  actual: z.string().optional(),
});

/**
 * Operator actions on a `blocked` saga — an undo failed terminally or kept failing, and the
 * saga waits for someone to decide: `sagas.retry` (run the failed undo again, attempts start
 * over), `sagas.skip` (it was fixed by hand: give it up and undo the rest), `sagas.abandon`
 * (undo nothing more; the saga ends `cancelled` in state `abandoned`, its context naming what
 * was left). Each sends the kit's event to the saga, only while it is blocked.
 */
import type { z } from 'zod';
import { SagaEventType } from '../../machines/kit/tags.js';
import type { Coordinator } from '../coordinator.js';
import { SagaError } from '../errors.js';
import { SagaStatus } from '../journal/index-store.js';
import { ServiceErrorCode } from './errors.js';
import type * as S from './schemas.js';

type Action = typeof SagaEventType.Retry | typeof SagaEventType.Skip | typeof SagaEventType.Abandon;

const VERB: Record<Action, string> = {
  [SagaEventType.Retry]: 'retry',
  [SagaEventType.Skip]: 'skip',
  [SagaEventType.Abandon]: 'abandon',
};

function notBlocked(id: string, action: Action, status: string, state: unknown): SagaError {
  return new SagaError(ServiceErrorCode.NotBlocked, `saga "${id}" is ${status}, not blocked: only a blocked saga can be told to ${VERB[action]}`, {
    status: 409,
    details: { sagaId: id, status, state },
  });
}

async function act(c: Coordinator, id: string, action: Action) {
  // Read first: a saga that is not blocked is answered without loading (or taking over) it.
  const info = await c.runtime.get(id);
  if (info.status !== SagaStatus.Blocked) throw notBlocked(id, action, info.status, info.state);
  // Checked again in the saga's mailbox: it may have moved on since (another operator's action).
  const sent = await c.runtime.send(id, { type: action }, { onlyIn: [SagaStatus.Blocked] });
  if (!sent.accepted && sent.status !== SagaStatus.Blocked) throw notBlocked(id, action, sent.status, sent.state);
  return { id, ...sent };
}

export const blockedHandlers = {
  'sagas.retry': (r: z.output<typeof S.SagaIdRequest>, c: Coordinator) => act(c, r.id, SagaEventType.Retry),
  'sagas.skip': (r: z.output<typeof S.SagaIdRequest>, c: Coordinator) => act(c, r.id, SagaEventType.Skip),
  'sagas.abandon': (r: z.output<typeof S.SagaIdRequest>, c: Coordinator) => act(c, r.id, SagaEventType.Abandon),
};

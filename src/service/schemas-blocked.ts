/**
 * Replies of the operator actions on a blocked saga (`sagas.retry`, `sagas.skip`,
 * `sagas.abandon`): the shape `sagas.cancel` answers with. Their requests are `SagaIdRequest`.
 */
import { z } from 'zod';

/** `{ id, accepted, entryNo, status, state }`: what the event did (checked loosely, like every reply). */
export const SagaOperatorReply = z.looseObject({ id: z.string(), accepted: z.boolean(), entryNo: z.number(), status: z.string() });

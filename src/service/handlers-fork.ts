/** `sagas.fork` and `sagas.check`, over the coordinator's runtime (spread into handlers.ts). */
import type { z } from 'zod';
import type { Coordinator } from '../coordinator.js';
import type { SagaIdRequest } from './schemas.js';
import type { SagasForkRequest } from './schemas-fork.js';

export const forkHandlers = {
  'sagas.fork': async (r: z.output<typeof SagasForkRequest>, c: Coordinator) =>
    c.runtime.fork(r.id, { from: r.from, ...(r.newId === undefined ? {} : { id: r.newId }), ...(r.dryRun ? { dryRun: true } : {}) }),
  'sagas.check': async (r: z.output<typeof SagaIdRequest>, c: Coordinator) => c.runtime.check(r.id),
};

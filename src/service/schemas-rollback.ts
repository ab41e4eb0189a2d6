/** What `versions.rollback` takes and answers (see schemas.ts for the conventions). */
import { z } from 'zod';
import { APP_NAME_PATTERN } from '../entities/names.js';
import { SAGA_ID_PATTERN } from '../journal/saga-id.js';

export const VersionsRollbackRequest = z.strictObject({
  app: z.string().regex(APP_NAME_PATTERN, 'an app name is [a-z0-9][a-z0-9-]{0,62}'),
  /** The version number to make active again. */
  to: z.int().min(1).max(Number.MAX_SAFE_INTEGER),
  /** The rollback's (saga's) id; repeating a request with the same id starts nothing new. */
  id: z.string().regex(SAGA_ID_PATTERN, 'a saga id is 1–128 of [A-Za-z0-9_-]').optional(),
  waitForLock: z.boolean().optional(),
});

export const VersionsRollbackReply = z.looseObject({ id: z.string(), created: z.boolean(), status: z.string() });

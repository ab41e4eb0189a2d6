/**
 * `versions.rollback`: starts the rollback saga (machines/rollback.machine.ts). What can be told
 * up front is refused here with a 404 (an unknown app or version: versions are never deleted, so
 * the answer cannot change); whether the target may be made active (built, not the active one)
 * is decided by the saga itself, under the app's deployment lock, and reported as its error.
 */
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { ROLLBACK_MACHINE_ID, type RollbackInput } from '../../machines/rollback.machine.js';
import type { Coordinator } from '../coordinator.js';
import { SagaError } from '../errors.js';
import { ServiceErrorCode } from './errors.js';
import type { VersionsRollbackRequest } from './schemas-rollback.js';

/** A rollback id for `app`: sortable by time, unique by its random tail, telling what it is. */
export function newRollbackId(app: string): string {
  return `${app}-rollback-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** What a rollback saga did, in the shape of a build's summary (`builds.get`, the CLI's outcome). */
export function rollbackSummary(info: { status: string; context: unknown; output?: unknown }): {
  app: string;
  version: number | null;
  status: string;
  image: string | null;
  url: string | null;
} {
  const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});
  const ctx = obj(info.context);
  const input = obj(ctx.input) as Partial<RollbackInput>;
  const outputs = { ...obj(ctx.outputs), ...obj(obj(info.output).outputs) };
  const digest = obj(obj(outputs.check).image).digest;
  const url = obj(outputs.start).url;
  return {
    app: typeof input.app === 'string' ? input.app : '',
    version: typeof input.to === 'number' ? input.to : null,
    status: info.status,
    image: typeof digest === 'string' ? digest : null,
    url: info.status === 'completed' && typeof url === 'string' ? url : null,
  };
}

export const rollbackHandlers = {
  'versions.rollback': async (r: z.output<typeof VersionsRollbackRequest>, c: Coordinator) => {
    const entities = c.builds.entities;
    if (!(await entities.apps.get(r.app))) throw new SagaError(ServiceErrorCode.UnknownApp, `unknown app "${r.app}"`, { status: 404, details: { app: r.app } });
    if (!(await entities.versions.get(r.app, r.to))) {
      throw new SagaError(ServiceErrorCode.UnknownVersion, `app "${r.app}" has no version ${r.to}`, { status: 404, details: { app: r.app, version: r.to } });
    }
    const input: RollbackInput = { app: r.app, to: r.to, ...(r.waitForLock ? { waitForLock: true } : {}) };
    const started = await c.runtime.start(ROLLBACK_MACHINE_ID, input, { id: r.id ?? newRollbackId(r.app) });
    return { id: started.id, created: started.created, status: started.status, state: started.state };
  },
};

/** Looking up a saga that has build progress: a build, or a rollback (a deploy of an old version). */
import { BUILD_MACHINE_ID } from '../../machines/build.machine.js';
import { ROLLBACK_MACHINE_ID } from '../../machines/rollback.machine.js';
import type { Coordinator } from '../coordinator.js';
import { SagaError } from '../errors.js';
import type { SagaInfo } from '../runtime/types.js';
import { ServiceErrorCode } from './errors.js';

/** Sagas with a progress stream and a build summary. */
export const PROGRESS_MACHINES: readonly string[] = [BUILD_MACHINE_ID, ROLLBACK_MACHINE_ID];

/** The saga `id` if it has build progress (a build or a rollback), else UNKNOWN_BUILD. */
export async function buildInfo(coordinator: Coordinator, id: string): Promise<SagaInfo> {
  const info = await coordinator.runtime.get(id);
  if (!PROGRESS_MACHINES.includes(info.machine)) {
    throw new SagaError(ServiceErrorCode.UnknownBuild, `saga "${id}" is a ${info.machine} saga, not a build`, { status: 404, details: { sagaId: id } });
  }
  return info;
}


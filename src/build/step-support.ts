/**
 * What every build step uses beside its host: progress lines and the registry's unavailability
 * as the saga's own waiting state.
 */
import { DependencyUnavailableError } from '../errors.js';
import type { StepContext } from '../runtime/types.js';
import type { BuildHost } from './build-host.js';
import { RegistryUnavailableError } from './image/index.js';

/** Turns an unreachable registry into "wait for the registry", the saga's own state. */
export function registryStep<T>(work: () => Promise<T>): Promise<T> {
  return work().catch((err: unknown) => {
    if (err instanceof RegistryUnavailableError) throw new DependencyUnavailableError('registry', err.message, { cause: err });
    throw err;
  });
}

/** Progress lines are best-effort: a lost line never fails a step (the journal is the truth). */
export function say(host: BuildHost, ctx: StepContext, step: string, text: string): void {
  void host.progress.publish(ctx.sagaId, { kind: 'log', step, stream: 'info', text, key: ctx.idempotencyKey }).catch(() => undefined);
}

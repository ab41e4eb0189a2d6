/**
 * Delivers readiness events to sagas that wait for a boot dependency. A saga waits by being
 * in a state tagged `awaits:<dependency>` (machines/kit/tags.ts); after every commit and
 * after a saga is resumed, the gate looks at its tags and either delivers
 * `{ type: 'boot.ready', dependency }` at once (the dependency is ready) or parks the saga
 * until the dependency's next change to ready. The event goes through the saga's mailbox and
 * is journaled like any input, so a replay takes the same path without asking the graph.
 */
import type { AnyEventObject } from 'xstate';
import { AWAITS_TAG_PREFIX, SagaEventType } from '../../machines/kit/tags.js';
import { ErrorCode, isSerializedError } from '../errors.js';
import type { Logger } from '../log.js';

/** Where readiness comes from: the coordinator's boot graph implements it. */
export interface ReadinessSource {
  isReady(dependency: string): boolean;
  onChange(listener: (status: { readonly name: string; readonly ready: boolean }) => void): () => void;
  /** A step failed with DEPENDENCY_UNAVAILABLE for this dependency: treat it as lost now. */
  reportUnavailable?(dependency: string, error: string): void;
}

export class ReadinessGate {
  /** dependency → ids of the sagas parked on it. */
  private readonly parked = new Map<string, Set<string>>();
  private readonly off: () => void;

  constructor(
    private readonly source: ReadinessSource | undefined,
    private readonly deliver: (sagaId: string, event: AnyEventObject) => void,
    private readonly logger: Logger,
  ) {
    this.off = source?.onChange((s) => s.ready && this.released(s.name)) ?? (() => undefined);
  }

  /** Call with a saga's current tags after it committed or resumed. */
  sync(sagaId: string, tags: ReadonlySet<string>): void {
    if (tags.size === 0) return;
    for (const tag of tags) {
      if (!tag.startsWith(AWAITS_TAG_PREFIX)) continue;
      const dependency = tag.slice(AWAITS_TAG_PREFIX.length);
      // Without a boot graph (plain library use) every dependency counts as ready.
      if (!this.source || this.source.isReady(dependency)) {
        this.deliver(sagaId, { type: SagaEventType.Ready, dependency });
      } else {
        let set = this.parked.get(dependency);
        if (!set) this.parked.set(dependency, (set = new Set()));
        if (!set.has(sagaId)) this.logger.info({ sagaId, dependency }, 'saga waits for a boot dependency');
        set.add(sagaId);
      }
    }
  }

  /** Call with every journaled step error: DEPENDENCY_UNAVAILABLE marks the dependency lost. */
  observeError(sagaId: string, event: AnyEventObject | undefined): void {
    const error = (event as { error?: unknown } | undefined)?.error;
    if (!isSerializedError(error) || error.code !== ErrorCode.DependencyUnavailable) return;
    const dependency = error.details?.dependency;
    if (typeof dependency !== 'string') return;
    this.logger.warn({ sagaId, dependency, err: error.message }, 'a step found a boot dependency unavailable');
    this.source?.reportUnavailable?.(dependency, error.message);
  }

  forget(sagaId: string): void {
    for (const set of this.parked.values()) set.delete(sagaId);
  }

  close(): void {
    this.off();
    this.parked.clear();
  }

  private released(dependency: string): void {
    const set = this.parked.get(dependency);
    if (!set || set.size === 0) return;
    this.parked.delete(dependency);
    for (const sagaId of set) this.deliver(sagaId, { type: SagaEventType.Ready, dependency });
  }
}

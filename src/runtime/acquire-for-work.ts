/**
 * Taking a saga over so that a caller's input can be delivered here (`send` to a saga no
 * copy of this coordinator drives). Acquiring is the loader's job; this turns each way it can
 * come back empty-handed into the error the caller should see: who owns the saga, whether it
 * exists, whether a retry may help.
 */
import { ErrorCode, NotOwnerError, SagaError, UnknownSagaError } from '../errors.js';
import type { IndexStore } from '../journal/index-store.js';
import type { SagaInstance } from './saga-instance.js';
import type { SagaLoader } from './saga-loader.js';

export interface AcquireForWorkDeps {
  readonly index: IndexStore;
  readonly loader: Pick<SagaLoader, 'acquire'>;
  /** The copy of a saga driven here now. */
  loaded(sagaId: string): SagaInstance | undefined;
}

/** The copy now driven here; undefined if none is (the saga finished, or was parked), so the caller answers from its state. */
export async function acquireForWork(deps: AcquireForWorkDeps, sagaId: string): Promise<SagaInstance | undefined> {
  const entry = await deps.index.get(sagaId);
  if (!entry) throw new UnknownSagaError(sagaId);
  const outcome = await deps.loader.acquire(entry);
  const inst = deps.loaded(sagaId);
  if (inst) return inst;
  switch (outcome) {
    case 'liveOwner':
      throw new NotOwnerError(sagaId, entry.record.owner);
    case 'lostRace': {
      const now = await deps.index.get(sagaId);
      throw new NotOwnerError(sagaId, now?.record.owner ?? 'unknown');
    }
    case 'foreignMachine':
      throw new SagaError(ErrorCode.UnknownMachine, `saga "${sagaId}" runs ${entry.record.machine}, which this coordinator does not have`, { status: 404 });
    case 'empty':
      throw new UnknownSagaError(sagaId);
    case 'abandoned':
      throw new SagaError(ErrorCode.NotOwner, `this coordinator lost its lease while loading saga "${sagaId}"; retry`, { status: 503, retryable: true });
    default:
      return undefined;
  }
}

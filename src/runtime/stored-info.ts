/**
 * The info of a saga no copy here drives, read from the stores: folded from its journal
 * (through its checkpoint), or, if the journal cannot be folded or is empty, told from its
 * index record alone, so that `get` answers for every saga the index knows.
 */
import { ensureError, UnknownSagaError } from '../errors.js';
import { isTerminalStatus, SagaStatus, type IndexStore } from '../journal/index-store.js';
import { infoOf, summaryInfo } from './saga-info.js';
import type { SagaLoader } from './saga-loader.js';
import type { SagaInfo } from './types.js';

export interface StoredInfoDeps {
  readonly index: IndexStore;
  readonly loader: Pick<SagaLoader, 'fold'>;
}

export async function storedInfo(deps: StoredInfoDeps, sagaId: string): Promise<SagaInfo> {
  const [entry, folded] = await Promise.all([deps.index.get(sagaId), deps.loader.fold(sagaId).catch(ensureError)]);
  if (folded instanceof Error) {
    if (!entry) throw folded;
    return summaryInfo(entry.record, folded.message);
  }
  if (!folded) {
    if (!entry) throw new UnknownSagaError(sagaId);
    return summaryInfo(entry.record);
  }
  const info = infoOf(folded, entry?.record.owner);
  // A parked saga is not loaded anywhere; its record says why.
  if (entry?.record.status === SagaStatus.Parked && !isTerminalStatus(info.status)) {
    return { ...info, status: SagaStatus.Parked, ...(entry.record.problem ? { problem: entry.record.problem } : {}) };
  }
  return info;
}

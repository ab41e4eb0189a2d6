/** A saga's status, derived from its snapshot by the tag convention of machines/kit/tags.ts. */
import type { AnyMachineSnapshot } from 'xstate';
import { SagaTag } from '../../machines/kit/tags.js';
import { SagaStatus } from '../journal/index-store.js';

export function statusOf(snapshot: AnyMachineSnapshot): SagaStatus {
  if (snapshot.status === 'done') {
    if (snapshot.hasTag(SagaTag.Cancelled)) return SagaStatus.Cancelled;
    if (snapshot.hasTag(SagaTag.Compensated)) return SagaStatus.Compensated;
    return SagaStatus.Completed;
  }
  if (snapshot.hasTag(SagaTag.Blocked)) return SagaStatus.Blocked;
  if (snapshot.hasTag(SagaTag.Compensating)) return SagaStatus.Compensating;
  return SagaStatus.Running;
}

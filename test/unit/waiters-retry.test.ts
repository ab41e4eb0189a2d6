/**
 * `runtime.wait` outlives a store that is briefly away: a retryable error from a read (a NATS
 * leader election, a reconnect) is read again at the next poll; any other error ends the wait.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, JournalUnavailableError, SagaError } from '../../src/errors.js';
import { SagaStatus } from '../../src/journal/index-store.js';
import type { SagaInfo } from '../../src/runtime/types.js';
import { Waiters } from '../../src/runtime/waiters.js';

const info = (status: SagaStatus): SagaInfo =>
  ({ id: 's', machine: 'm', version: 1, status, state: 'x', context: null, entryNo: 1, owner: 'a', updatedAt: 0, pending: [], timers: [] }) as SagaInfo;

describe('Waiters', () => {
  it('reads again after a retryable error and resolves once the saga is there', async () => {
    const answers: Array<() => Promise<SagaInfo>> = [
      () => Promise.reject(new JournalUnavailableError('the saga index is unavailable (NATS): timeout')),
      () => Promise.reject(new SagaError(ErrorCode.Timeout, 'slow', { status: 504, retryable: true })),
      () => Promise.resolve(info(SagaStatus.Running)),
      () => Promise.resolve(info(SagaStatus.Completed)),
    ];
    let reads = 0;
    const got = await new Waiters().wait('s', new Set([SagaStatus.Completed]), () => answers[Math.min(reads++, answers.length - 1)]!(), {
      pollMs: 5,
      local: () => false,
      timeoutMs: 60_000,
    });
    expect(got.status).toBe(SagaStatus.Completed);
    expect(reads).toBeGreaterThanOrEqual(4);
  });

  it('ends at once on an error that is not retryable', async () => {
    const wait = new Waiters().wait('s', new Set([SagaStatus.Completed]), () => Promise.reject(new SagaError(ErrorCode.UnknownSaga, 'unknown saga "s"', { status: 404 })), {
      pollMs: 5,
      local: () => false,
      timeoutMs: 60_000,
    });
    await expect(wait).rejects.toMatchObject({ code: ErrorCode.UnknownSaga });
  });
});

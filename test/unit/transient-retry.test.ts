/**
 * Which failures a client waits out (NATS away or electing a leader) and which it reports at
 * once (nobody to answer, a refusal, a bad request).
 */
import { describe, expect, it } from 'vitest';
import { JetStreamApiError } from '@nats-io/jetstream';
import { JournalUnavailableError, SagaError } from '../../src/errors.js';
import { EntitiesUnavailableError } from '../../src/entities/entity-errors.js';
import { isTransientFailure, retryTransient } from '../../src/service/transient-retry.js';

describe('isTransientFailure', () => {
  it('is true for a store or coordinator saying "not now"', () => {
    expect(isTransientFailure(new JournalUnavailableError('down'))).toBe(true);
    expect(isTransientFailure(new EntitiesUnavailableError('cannot list', { cause: new Error('timeout') }))).toBe(true);
    expect(isTransientFailure(new SagaError('TIMEOUT', 'no reply', { status: 504, retryable: true }))).toBe(true);
    expect(isTransientFailure(new JetStreamApiError({ code: 503, err_code: 10008, description: 'JetStream system temporarily unavailable' }))).toBe(true);
  });

  it('is false when nobody is there to answer, or the request was refused', () => {
    expect(isTransientFailure(new SagaError('NO_COORDINATOR', 'no coordinator', { status: 503, retryable: true }))).toBe(false);
    expect(isTransientFailure(new SagaError('NOT_ADMITTED', 'booting', { status: 503, retryable: true }))).toBe(false);
    expect(isTransientFailure(new SagaError('DEPLOY_LOCKED', 'held by b1', { status: 409 }))).toBe(false);
    expect(isTransientFailure(new Error('ENOENT'))).toBe(false);
  });
});

describe('retryTransient', () => {
  it('repeats a transient failure until it succeeds, telling each one', async () => {
    let calls = 0;
    const told: string[] = [];
    const got = await retryTransient(
      async () => {
        if (++calls < 3) throw new JournalUnavailableError(`attempt ${calls}`);
        return 'ok';
      },
      { onRetry: (e) => told.push(e.message) },
    );
    expect(got).toBe('ok');
    expect(told).toEqual(['attempt 1', 'attempt 2']);
  });

  it('waits out "no coordinator" only once an outage was seen: coordinators reconnect after the client', async () => {
    const noCoordinator = new SagaError('NO_COORDINATOR', 'no coordinator answers', { status: 503, retryable: true });
    let first = 0;
    await expect(
      retryTransient(async () => {
        first++;
        throw noCoordinator;
      }),
    ).rejects.toBe(noCoordinator);
    expect(first).toBe(1);

    // The outage is seen by one request of the command (the upload), "no coordinator" by the next (the start).
    const outage = { seen: false };
    await expect(retryTransient(async () => Promise.reject(new JournalUnavailableError('down')), { outage, forMs: 0 })).rejects.toBeDefined();
    expect(outage.seen).toBe(false);
    let calls = 0;
    await retryTransient(
      async () => {
        if (++calls === 1) throw new JournalUnavailableError('down');
        if (calls === 2) throw noCoordinator;
        return 'started';
      },
      { outage },
    );
    expect(outage.seen).toBe(true);
    expect(calls).toBe(3);
    let next = 0;
    await expect(
      retryTransient(
        async () => {
          if (++next === 1) throw noCoordinator;
          return 'started';
        },
        { outage },
      ),
    ).resolves.toBe('started');
  });

  it('throws any other failure at once', async () => {
    let calls = 0;
    const refused = new SagaError('DEPLOY_LOCKED', 'held by b1', { status: 409 });
    await expect(
      retryTransient(async () => {
        calls++;
        throw refused;
      }),
    ).rejects.toBe(refused);
    expect(calls).toBe(1);
  });

  // No time left: for a call (forMs 0), or for the whole command (a deadline passed, whatever forMs says).
  it.each([
    ['with no time to wait', { forMs: 0 }],
    ['past a deadline given for the whole command', { until: Date.now() - 1, forMs: 60_000 }],
  ])('%s, throws the transient failure too', async (_what, options) => {
    let calls = 0;
    await expect(
      retryTransient(async () => {
        calls++;
        throw new JournalUnavailableError('down');
      }, options),
    ).rejects.toMatchObject({ code: 'JOURNAL_UNAVAILABLE' });
    expect(calls).toBe(1);
  });

  it('stops once its signal has aborted, with the last failure', async () => {
    const stop = new AbortController();
    let calls = 0;
    await expect(
      retryTransient(
        async () => {
          calls++;
          stop.abort(new Error('stopped'));
          throw new JournalUnavailableError('down');
        },
        { signal: stop.signal },
      ),
    ).rejects.toMatchObject({ code: 'JOURNAL_UNAVAILABLE' });
    expect(calls).toBe(1);
  });
});

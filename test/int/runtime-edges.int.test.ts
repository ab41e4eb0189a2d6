/**
 * Edges of the runtime that only a real nats-server shows (issue 7, items 3 and 5): listing
 * open sagas while they finish never hangs, however many listings run at once, and a step
 * whose output is larger than the server's max payload fails as the step's own error instead
 * of leaving the saga running forever.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from '../../src/nats/connect.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { SagaBinding } from '../../src/runtime/types.js';
import { SagaStatus } from '../../src/journal/index-store.js';
import { orderBinding } from '../fixtures/order-saga.js';
import { doneActors, expectWellFormed } from '../helpers/journal-checks.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';

let server: NatsServerHandle;
let nc: NatsConnection;
const runtimes: Runtime[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: 'runtime-edges-test' });
});
afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.close()));
  await nc?.close();
  await server?.stop();
});

async function runtime(namespace: string, machines: SagaBinding[]): Promise<Runtime> {
  const rt = await createRuntime({ nats: nc, namespace, owner: 'edges', machines, recoverOnStart: false, recoverIntervalMs: 0 });
  runtimes.push(rt);
  return rt;
}

/** Resolves as `p` does, or rejects if it has not settled by then: a hang detector, not a timing assertion. */
const settlesWithin = <T>(p: Promise<T>, ms: number): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms).unref())]);

describe('listing open sagas while they finish', () => {
  it('20 concurrent listings of 100 sagas that finish meanwhile all end, each with sagas that exist', async () => {
    const rt = await runtime('listing', [orderBinding()]);
    const ids = Array.from({ length: 100 }, (_, i) => `l${String(i).padStart(3, '0')}`);
    for (const id of ids) await rt.start('order', { order: id, delayMs: { reserveStock: 50 + (Number(id.slice(1)) % 10) * 20 } }, { id });
    const listings = Array.from({ length: 20 }, async (_, i) => {
      await new Promise((r) => setTimeout(r, i * 15));
      return (await rt.list({ status: [SagaStatus.Running, SagaStatus.Completed], limit: 1000 })).sagas;
    });
    const lists = await settlesWithin(Promise.all(listings), 60_000);
    for (const list of lists) {
      // Each listing shows every saga exactly once (open or finished by then).
      expect(list.map((s) => s.id).sort()).toEqual(ids);
    }
    const done = await Promise.all(ids.map((id) => rt.wait(id, { timeoutMs: 30_000 })));
    expect(done.every((d) => d.status === SagaStatus.Completed)).toBe(true);
    // A recovery pass over what is left (nothing open) ends too.
    expect(await settlesWithin(rt.recover(), 60_000)).toMatchObject({ listed: 0 });
  });
});

describe('paging through every saga while they finish', () => {
  it('shows each saga exactly once across the pages, open or finished by the time its page is read', async () => {
    const rt = await runtime('paging', [orderBinding()]);
    const ids = Array.from({ length: 60 }, (_, i) => `p${String(i).padStart(3, '0')}`);
    for (const id of ids) await rt.start('order', { order: id, delayMs: { reserveStock: 20 + (Number(id.slice(1)) % 7) * 40 } }, { id });
    const walks = Array.from({ length: 6 }, async (_, w) => {
      await new Promise((r) => setTimeout(r, w * 40));
      const seen: string[] = [];
      let after: string | undefined;
      do {
        const page = await rt.list({ after, limit: 7 });
        seen.push(...page.sagas.map((s) => s.id));
        after = page.next;
      } while (after);
      return seen;
    });
    for (const seen of await settlesWithin(Promise.all(walks), 60_000)) expect(seen).toEqual(ids);
    await Promise.all(ids.map((id) => rt.wait(id, { timeoutMs: 30_000 })));
  });
});

describe('a step output larger than the server takes', () => {
  it('is the step’s terminal STEP_OUTPUT_TOO_LARGE error, journaled: the saga compensates', async () => {
    const b = orderBinding();
    const twoMegabytes: SagaBinding = { ...b, steps: { ...b.steps, chargeCard: async () => ({ blob: 'x'.repeat(2 * 1024 * 1024) }) } };
    const rt = await runtime('payload', [twoMegabytes]);
    await rt.start('order', { order: 'big' }, { id: 'big' });
    const info = await rt.wait('big', { timeoutMs: 30_000 });
    expect(info.status).toBe(SagaStatus.Compensated);
    expect((info.context as { error: unknown }).error).toMatchObject({ step: 'charge', code: 'STEP_OUTPUT_TOO_LARGE' });
    const journal = await rt.events('big');
    expectWellFormed(journal);
    expect(doneActors(journal)).toEqual(['reserve', 'undo.charge', 'undo.reserve']);
  });

  it('an event larger than the server takes is refused to its sender, and the saga goes on', async () => {
    const rt = await runtime('event', [orderBinding()]);
    await rt.start('order', { order: 'e', delayMs: { reserveStock: 300 } }, { id: 'e' });
    await expect(rt.send('e', { type: 'saga.cancel', reason: 'x'.repeat(2 * 1024 * 1024) })).rejects.toMatchObject({ code: 'ENTRY_TOO_LARGE', status: 413 });
    expect((await rt.wait('e', { timeoutMs: 30_000 })).status).toBe(SagaStatus.Completed);
  });
});

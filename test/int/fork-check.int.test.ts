/**
 * `sagas.fork` and `sagas.check` through the service API, against a real nats-server, with
 * in-process coordinators running the trip saga (4 steps, each with an undo; step calls
 * recorded): a trip that fails at its 4th step and compensates is forked after its 2nd step's
 * result — a dry run writes nothing, the fork runs only steps 3 and 4, under its own id —;
 * refusals are typed errors; a fork left half-copied is parked, not resumed; and a saga
 * checked by a coordinator running a deliberately changed machine (same id and version)
 * diverges at the entry where the change shows, while the unchanged machine replays it as
 * recorded.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Coordinator } from '../../src/coordinator.js';
import type { SagaError } from '../../src/errors.js';
import { encodeRecord } from '../../src/journal/codec.js';
import { SagaStatus } from '../../src/journal/index-store.js';
import { openNatsStores } from '../../src/runtime/nats-stores.js';
import { JetsagaClient } from '../../src/service/client.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { until } from '../helpers/until.js';
import { tripBinding, type TripCall, type TripInput, type TripVariant } from '../fixtures/trip-saga.js';

const namespace = `fork${process.pid}`;
let server: NatsServerHandle;
let nc: NatsConnection;
let client: JetsagaClient;
let tmp: string;
let coordinator: Coordinator | undefined;
const calls: TripCall[] = [];

/** A coordinator with the API on, running `variant` of the trip machine as trip@1. */
async function boot(owner: string, variant: TripVariant): Promise<Coordinator> {
  // No step here pushes images: the registry may stay unreachable (admission does not wait for it).
  const registry = `127.0.0.1:${await freePort()}`;
  const config = loadConfig({ nats: server.url, registry, namespace, owner, dataDir: join(tmp, owner) }, {});
  const c = new Coordinator({ config, machines: [tripBinding((call) => calls.push(call), variant)], service: true, healthIntervalMs: 300, recoverIntervalMs: 0 });
  await c.start();
  return c;
}

beforeAll(async () => {
  server = await startNatsServer();
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-fork-'));
  coordinator = await boot('fc-a', 'original');
  nc = await connect({ servers: server.url });
  client = JetsagaClient.connect(nc, { namespace });
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await coordinator?.stop();
  await server?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<SagaError> {
  try {
    await p;
  } catch (e) {
    return e as SagaError;
  }
  throw new Error('resolved');
}

async function finished(id: string): Promise<{ status: string; forkedFrom?: unknown }> {
  await until(async () => !['running', 'compensating'].includes((await client.getSaga(id)).status), 30_000, `saga ${id} finished`);
  return client.getSaga(id) as Promise<{ status: string; forkedFrom?: unknown }>;
}

describe('sagas.fork', () => {
  const failing = (): string => join(tmp, 'pay-fails');

  it('a dry run lists what runs again and the undos already run, and writes nothing; the fork re-runs only steps 3 and 4', async () => {
    await writeFile(failing(), '');
    const input: TripInput = { trip: 'lisbon', failWhile: { pay: failing() } };
    await coordinator!.runtime.start('trip', input, { id: 'trip-1' });
    expect((await finished('trip-1')).status).toBe(SagaStatus.Compensated);
    // Entry 3 is step 2's (hotel's) result.
    const { events } = await client.sagaEvents('trip-1');
    expect((events[2] as { event?: { type: string } }).event?.type).toBe('xstate.done.actor.hotel');

    const plan = await client.forkSaga('trip-1', { from: 3, newId: 'trip-1-again', dryRun: true });
    expect(plan).toMatchObject({
      source: 'trip-1',
      from: 3,
      dryRun: true,
      created: false,
      saga: null,
      entries: 3,
      state: { car: 'running' },
      status: 'running',
      willRun: [{ id: 'car', src: 'rentCar' }],
      stepsAfter: [{ id: 'car', src: 'rentCar', entry: 4, outcome: 'done' }],
    });
    expect(plan.undosRun.map((u) => `${u.id}:${u.src}:${u.outcome}`)).toEqual(['undo.pay:refundTrip:done', 'undo.car:returnCar:done', 'undo.hotel:cancelHotel:done', 'undo.flight:cancelFlight:done']);
    // Nothing written: no journal, no index record.
    expect(await rejection(client.sagaEvents('trip-1-again'))).toMatchObject({ code: 'UNKNOWN_SAGA' });
    expect(await rejection(client.getSaga('trip-1-again'))).toMatchObject({ code: 'UNKNOWN_SAGA' });

    await rm(failing());
    const before = calls.length;
    const fork = await client.forkSaga('trip-1', { from: 3, newId: 'trip-1-again' });
    expect(fork).toMatchObject({ dryRun: false, created: true, id: 'trip-1-again', saga: { id: 'trip-1-again' } });
    expect(await finished('trip-1-again')).toMatchObject({ status: SagaStatus.Completed, forkedFrom: { sagaId: 'trip-1', entry: 3 } });
    const forkCalls = calls.slice(before);
    expect(forkCalls.map((c) => `${c.step}:${c.sagaId}:${c.outcome}`)).toEqual(['rentCar:trip-1-again:ok', 'payTrip:trip-1-again:ok']);
    expect(forkCalls.map((c) => c.key)).toEqual(['trip-1-again:3:car', 'trip-1-again:4:pay']);
    expect(calls.filter((c) => c.sagaId === 'trip-1-again' && (c.step === 'bookFlight' || c.step === 'bookHotel'))).toEqual([]);
  }, 60_000);

  it('refusals are typed errors: unknown saga, entry out of range, a running source, a fork point already final', async () => {
    expect(await rejection(client.forkSaga('no-such-trip', { from: 1 }))).toMatchObject({ code: 'UNKNOWN_SAGA', status: 404 });
    expect(await rejection(client.forkSaga('trip-1', { from: 99 }))).toMatchObject({ code: 'INVALID_ARGUMENT', status: 400 });
    expect(await rejection(client.forkSaga('trip-1', { from: 0 }))).toMatchObject({ code: 'BAD_REQUEST', status: 400 });
    expect(await rejection(client.forkSaga('trip-1', { from: 9 }))).toMatchObject({ code: 'FORK_POINT_FINAL', status: 409 });

    const gate = join(tmp, 'car-may-go');
    await coordinator!.runtime.start('trip', { trip: 'porto', holdUntil: { car: gate } } satisfies TripInput, { id: 'trip-busy' });
    await until(async () => (await client.getSaga('trip-busy')).pending.some((p) => p.id === 'car'), 20_000, 'car in flight');
    const active = await rejection(client.forkSaga('trip-busy', { from: 2 }));
    expect(active).toMatchObject({ code: 'SAGA_ACTIVE', status: 409, retryable: false });
    expect(active.message).toContain('cancel');
    await writeFile(gate, '');
    expect((await finished('trip-busy')).status).toBe(SagaStatus.Completed);
  }, 60_000);

  it('a fork whose copy was interrupted is parked by recovery, not resumed', async () => {
    // What a coordinator that died half-way through a fork leaves: the record, the init
    // announcing 3 copies, and one more of them.
    const raw = await connect({ servers: server.url });
    const stores = await openNatsStores(raw, { namespace });
    try {
      const now = Date.now();
      await stores.index.create({ sagaId: 'trip-1-half', machine: 'trip@1', status: SagaStatus.Running, owner: 'gone', epoch: 1, createdAt: now, updatedAt: now });
      const { events } = await client.sagaEvents('trip-1');
      const init = (events[0] as { init: { input: unknown } }).init;
      const flight = events[1] as { at: number; event: { type: string } };
      const a = await stores.journal.append('trip-1-half', encodeRecord({ no: 1, at: now, init: { machine: 'trip', version: 1, input: init.input, owner: 'gone', forkedFrom: { sagaId: 'trip-1', entry: 3, entries: 3 } } }), { expectedLastSeq: 0, msgId: 'trip-1-half:1:x' });
      await stores.journal.append('trip-1-half', encodeRecord({ no: 2, at: flight.at, event: flight.event }), { expectedLastSeq: a.seq, msgId: 'trip-1-half:2:x' });
    } finally {
      await stores.close?.();
      await raw.close();
    }
    const before = calls.length;
    await coordinator!.runtime.recover();
    const parked = await client.getSaga('trip-1-half');
    expect(parked).toMatchObject({ status: SagaStatus.Parked, forkedFrom: { sagaId: 'trip-1', entry: 3 }, problem: expect.stringContaining('incomplete') });
    await coordinator!.runtime.recover();
    expect((await client.sagaEvents('trip-1-half')).events.map((e) => e.entryNo)).toEqual([1, 2]);
    expect(calls.slice(before)).toEqual([]);
    expect(coordinator!.runtime.loadedSagaIds()).not.toContain('trip-1-half');
  }, 60_000);
});

describe('sagas.check', () => {
  it('replays identically on the machine that wrote it; a coordinator running a changed machine reports the first divergent entry', async () => {
    await coordinator!.runtime.start('trip', { trip: 'faro' } satisfies TripInput, { id: 'trip-2' });
    expect((await finished('trip-2')).status).toBe(SagaStatus.Completed);
    expect(await client.checkSaga('trip-2')).toEqual({ ok: true, entries: 5, id: 'trip-2', machine: 'trip', version: 1, recordedVersion: 1, coordinator: 'fc-a' });
    expect(await client.checkSaga('trip-1-again')).toMatchObject({ ok: true, entries: 5 });
    expect(await rejection(client.checkSaga('no-such-trip'))).toMatchObject({ code: 'UNKNOWN_SAGA', status: 404 });

    // Same namespace, same machine id and version — car now before hotel.
    await coordinator!.stop();
    coordinator = await boot('fc-b', 'reordered');
    expect(await client.checkSaga('trip-2')).toMatchObject({
      ok: false,
      id: 'trip-2',
      coordinator: 'fc-b',
      machine: 'trip',
      version: 1,
      entry: 3,
      event: 'xstate.done.actor.hotel',
      expected: 'invocation "hotel" in flight (key trip-2:2:hotel)',
      actual: expect.stringContaining('no invocation "hotel" in flight (in flight: car'),
    });
    // A compensated saga diverges at the same place.
    expect(await client.checkSaga('trip-1')).toMatchObject({ ok: false, entry: 3 });

    await coordinator!.stop();
    coordinator = await boot('fc-c', 'shortened');
    expect(await client.checkSaga('trip-2')).toMatchObject({ ok: false, entry: 3, expected: 'invocation "hotel" in flight (key trip-2:2:hotel)' });
  }, 90_000);
});

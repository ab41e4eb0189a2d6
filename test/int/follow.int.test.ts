/**
 * The follow endpoints against a real nats-server, with two in-process coordinators answering
 * in one queue group and an order saga (test/fixtures/order-saga.ts) held at a gate:
 * `sagas.follow` streams every journal entry once and in order, heartbeats while the saga is
 * quiet, then `end`; a follower that goes away has its stream stopped; a stream beyond the cap
 * is refused; a coordinator stopped mid-stream is replaced by the other one without a
 * duplicate or a gap.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Coordinator } from '../../src/coordinator.js';
import type { SagaError } from '../../src/errors.js';
import type { JournalView } from '../../src/runtime/journal-view.js';
import { JetsagaClient } from '../../src/service/client.js';
import type { FollowStatus } from '../../src/service/follow-client.js';
import type { FollowMessage } from '../../src/service/schemas-follow.js';
import { startService } from '../../src/service/service.js';
import { Endpoint, endpointSubject } from '../../src/service/subjects.js';
import { orderBinding, type OrderInput } from '../fixtures/order-saga.js';
import { gate } from '../helpers/gate.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { until } from '../helpers/until.js';

const namespace = `flw${process.pid}`;

let server: NatsServerHandle;
let registry: RegistryHandle;
let nc: NatsConnection;
let client: JetsagaClient;
const coordinators: Coordinator[] = [];
const dataDirs: string[] = [];
let sagas = 0;

async function bootCoordinator(owner: string): Promise<Coordinator> {
  const dataDir = await mkdtemp(join(tmpdir(), 'jetsaga-follow-'));
  dataDirs.push(dataDir);
  const config = loadConfig({ nats: server.url, registry: `127.0.0.1:${registry.port}`, namespace, owner, dataDir }, {});
  // Periodic recovery: a saga handed back by a stopped coordinator is taken up by the other.
  const c = new Coordinator({ config, machines: [orderBinding()], service: true, healthIntervalMs: 300, recoverIntervalMs: 500 });
  coordinators.push(c);
  await c.start();
  return c;
}

beforeAll(async () => {
  [server, registry] = await Promise.all([startNatsServer(), startRegistry()]);
  await Promise.all([bootCoordinator('follow-a'), bootCoordinator('follow-b')]);
  nc = await connect({ servers: server.url });
  client = JetsagaClient.connect(nc, { namespace });
}, 120_000);

afterAll(async () => {
  await nc?.close();
  await Promise.all(coordinators.map((c) => c.stop()));
  await Promise.all([server?.stop(), registry?.stop()]);
  await Promise.all(dataDirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** An order saga whose charge step waits for `gatePath`. */
async function heldSaga(gatePath: string): Promise<string> {
  const id = `order-${sagas++}`;
  const input: OrderInput = { order: id, holdUntil: { chargeCard: gatePath } };
  await coordinators[0]!.runtime.start('order', input, { id });
  return id;
}

const activeStreams = (): number => coordinators.reduce((n, c) => n + (c.service?.activeStreams() ?? 0), 0);

/** A raw follower: its inbox acks every request and keeps every message. */
function rawInbox(): { inbox: string; got: FollowMessage[]; sub: Subscription } {
  const inbox = createInbox();
  const got: FollowMessage[] = [];
  const sub = nc.subscribe(inbox, {
    callback: (_err, m) => {
      if (m.reply) m.respond();
      got.push(m.json<FollowMessage>());
    },
  });
  return { inbox, got, sub };
}

function request(endpoint: Endpoint, body: unknown, prefix = `${namespace}.api`): Promise<Msg> {
  return nc.request(endpointSubject(endpoint, prefix), JSON.stringify(body), { timeout: 20_000 });
}

function errorOf(m: Msg): { code: string; status: number; message: string } {
  expect(m.headers?.get('Jetsaga-Error-Code')).toBeTruthy();
  return m.json<{ error: { code: string; status: number; message: string } }>().error;
}

async function rejection(p: Promise<unknown>): Promise<SagaError> {
  try {
    await p;
  } catch (e) {
    return e as SagaError;
  }
  throw new Error('resolved');
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Entries as they cross the wire (JSON), for comparing with what a stream delivered. */
const wire = (entries: readonly JournalView[]): unknown => JSON.parse(JSON.stringify(entries));

describe('sagas.follow', () => {
  it('streams every entry of a running saga once and in order, heartbeats while it waits, then end', async (ctx) => {
    const g = gate(ctx);
    const id = await heldSaga(g.path);
    const { inbox, got, sub } = rawInbox();
    try {
      const reply = await request(Endpoint.SagasFollow, { id, inbox, heartbeatMs: 250 });
      expect(reply.headers?.get('Jetsaga-Error-Code') ?? null).toBeNull();
      const body = reply.json<{ id: string; heartbeatMs: number; coordinator: string }>();
      expect(body).toMatchObject({ id, heartbeatMs: 250 });
      expect(['follow-a', 'follow-b']).toContain(body.coordinator);

      // The saga waits at its gate: the stream goes quiet and heartbeats come.
      await until(() => got.filter((m) => m.kind === 'heartbeat').length >= 2 && got.some((m) => m.kind === 'item'), 30_000, 'heartbeats while the saga waits');
      g.open();
      await until(() => got.some((m) => m.kind === 'end'), 30_000, 'the end of the stream');

      const journal = await coordinators[0]!.runtime.events(id);
      const items = got.filter((m) => m.kind === 'item').map((m) => m.item);
      expect(items).toEqual(wire(journal));
      expect(got.at(-1)).toEqual({ kind: 'end', status: 'completed' });
      expect(got.filter((m) => m.kind === 'end')).toHaveLength(1);
      // Each heartbeat names the last entry delivered before it; some came before the last entries.
      let last: number | null = null;
      for (const m of got) {
        if (m.kind === 'item') last = (m.item as JournalView).entryNo;
        if (m.kind === 'heartbeat') expect(m.lastSeq).toBe(last);
      }
      const lastItem = got.map((m) => m.kind).lastIndexOf('item');
      expect(got.slice(0, lastItem).filter((m) => m.kind === 'heartbeat').length).toBeGreaterThanOrEqual(2);
    } finally {
      sub.unsubscribe();
    }
  }, 60_000);

  it('the client: followSagaEvents yields the journal and ends; afterEntry resumes; unknown ids, bad inboxes and non-builds are typed errors', async (ctx) => {
    const g = gate(ctx);
    const id = await heldSaga(g.path);
    const followed = collect(client.followSagaEvents(id, { heartbeatMs: 250 }));
    g.open();
    const all = await followed;
    const journal = await coordinators[0]!.runtime.events(id);
    expect(wire(all)).toEqual(wire(journal));
    expect((await coordinators[0]!.runtime.get(id)).status).toBe('completed');
    // A finished saga: everything at once, then the end.
    expect(wire(await collect(client.followSagaEvents(id, { afterEntry: 3 })))).toEqual(wire(journal.filter((e) => e.entryNo > 3)));

    const unknown = await rejection(collect(client.followSagaEvents('no-such-saga')));
    expect([unknown.code, unknown.status]).toEqual(['UNKNOWN_SAGA', 404]);
    const notBuild = await rejection(collect(client.followBuild(id)));
    expect([notBuild.code, notBuild.status]).toEqual(['UNKNOWN_BUILD', 404]);
    const bad = errorOf(await request(Endpoint.SagasFollow, { id, inbox: `${namespace}.ev.${id}` }));
    expect([bad.code, bad.status]).toEqual(['BAD_REQUEST', 400]);
    expect(bad.message).toMatch(/inbox/);
    const slow = errorOf(await request(Endpoint.BuildsFollow, { id, inbox: createInbox(), heartbeatMs: 10 }));
    expect([slow.code, slow.status]).toEqual(['BAD_REQUEST', 400]);
    expect(slow.message).toMatch(/heartbeatMs/);
  }, 60_000);
});

describe('streams that must stop', () => {
  it('a follower that goes away: the coordinator stops its stream', async (ctx) => {
    const g = gate(ctx);
    const id = await heldSaga(g.path);
    const { inbox, got, sub } = rawInbox();
    const reply = await request(Endpoint.SagasFollow, { id, inbox, heartbeatMs: 250 });
    expect(reply.headers?.get('Jetsaga-Error-Code') ?? null).toBeNull();
    await until(() => got.some((m) => m.kind === 'heartbeat'), 30_000, 'a heartbeat');
    expect(activeStreams()).toBe(1);
    sub.unsubscribe();
    await until(() => activeStreams() === 0, 30_000, 'the stream to stop');
    g.open();
  }, 60_000);

  it('beyond the cap a follow is STREAM_LIMIT; stopping the service ends its streams', async (ctx) => {
    const g = gate(ctx);
    const id = await heldSaga(g.path);
    const capped = await startService(coordinators[0]!, { prefix: `${namespace}.cap`, maxStreams: 1 });
    const a = rawInbox();
    const b = rawInbox();
    try {
      const first = await request(Endpoint.SagasFollow, { id, inbox: a.inbox, heartbeatMs: 250 }, `${namespace}.cap`);
      expect(first.headers?.get('Jetsaga-Error-Code') ?? null).toBeNull();
      const second = errorOf(await request(Endpoint.SagasFollow, { id, inbox: b.inbox }, `${namespace}.cap`));
      expect([second.code, second.status]).toEqual(['STREAM_LIMIT', 503]);
      expect(second.message).toMatch(/limit/);
      expect(capped.activeStreams()).toBe(1);
      await until(() => a.got.some((m) => m.kind === 'item'), 30_000, 'the first stream to deliver');
    } finally {
      await capped.stop();
      a.sub.unsubscribe();
      b.sub.unsubscribe();
    }
    expect(capped.activeStreams()).toBe(0);
    g.open();
  }, 60_000);
});

// Last: it stops one of the two coordinators.
describe('a coordinator stopped mid-stream', () => {
  it('the client follows on with the other one: every entry once, in order', async (ctx) => {
    const g = gate(ctx);
    const id = await heldSaga(g.path);
    const statuses: FollowStatus[] = [];
    const got: JournalView[] = [];
    const following = (async () => {
      for await (const e of client.followSagaEvents(id, { heartbeatMs: 250, onStatus: (s) => statuses.push(s) })) got.push(e);
    })();
    await until(() => got.length > 0 && activeStreams() === 1, 30_000, 'the stream to deliver');
    const serving = coordinators.find((c) => (c.service?.activeStreams() ?? 0) > 0)!;
    const other = coordinators.find((c) => c !== serving)!;
    await serving.stop();
    await until(() => statuses.some((s) => s.state === 'resumed'), 30_000, 'following to resume');
    g.open();
    await following;
    expect(statuses).toEqual([
      { state: 'waiting', reason: expect.stringMatching(/went silent/) as unknown },
      { state: 'resumed', coordinator: other.config.owner },
    ]);
    expect((await other.runtime.get(id)).status).toBe('completed');
    expect(wire(got)).toEqual(wire(await other.runtime.events(id)));
  }, 90_000);
});

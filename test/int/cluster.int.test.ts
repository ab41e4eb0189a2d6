/**
 * jetsaga on a three-node nats-server cluster (test/helpers/nats-cluster.ts): a coordinator
 * with `replicas: 3` creates every stream and bucket with three replicas; sagas keep running
 * through a SIGKILL of the journal stream's leader node (the appends caught in the election are
 * retried with their msgId, never reported as failed steps), none is lost or stored twice, and
 * the killed node rejoins; existing streams with fewer replicas are raised; more replicas than
 * the cluster has nodes is refused with one clear error.
 */
import { jetstreamManager, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { mkdtemp, rm } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Coordinator } from '../../src/coordinator.js';
import { createLogger } from '../../src/log.js';
import { connectNats } from '../../src/nats/connect.js';
import { natsNames, openNatsStores } from '../../src/runtime/nats-stores.js';
import { orderBinding, type StepCall } from '../fixtures/order-saga.js';
import { doneActors, expectWellFormed } from '../helpers/journal-checks.js';
import { startNatsCluster, type NatsClusterHandle } from '../helpers/nats-cluster.js';
import { freePort } from '../helpers/nats-server.js';
import { until } from '../helpers/until.js';

const SAGAS = 40;

let cluster: NatsClusterHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;
let tmp: string;
let coordinator: Coordinator | undefined;
const calls: StepCall[] = [];
/** The coordinator's warnings and errors (JSON lines). */
const logs: { msg: string; time: number }[] = [];
const logSink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as { msg: string; time: number });
    done();
  },
});

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-cluster-'));
  cluster = await startNatsCluster();
  nc = await connectNats({ servers: cluster.servers, name: 'cluster-test' });
  jsm = await jetstreamManager(nc, { timeout: 5_000 });
}, 60_000);

afterAll(async () => {
  await coordinator?.stop();
  await nc?.close();
  await cluster?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
}, 60_000);

/** Every stream of a namespace, by name. */
async function streamsOf(namespace: string): Promise<Map<string, StreamInfo>> {
  const n = natsNames(namespace);
  const names = [n.eventsStream, n.indexStream, `KV_${n.checkpointsBucket}`, `KV_${n.coordinatorsBucket}`, `KV_${n.bootBucket}`, `KV_${n.entitiesBucket}`, `OBJ_${n.sourcesBucket}`, n.progressStream];
  const out = new Map<string, StreamInfo>();
  for (const name of names) {
    const si = await jsm.streams.info(name).catch(() => null);
    if (si) out.set(name, si);
  }
  return out;
}

/** The journal stream's peers are all caught up (leader elected, both replicas current). */
async function allCurrent(stream: string): Promise<boolean> {
  const si = await jsm.streams.info(stream).catch(() => null);
  return !!si?.cluster?.leader && si.cluster.replicas?.length === 2 && si.cluster.replicas.every((r) => r.current && !r.offline);
}

describe('jetsaga on a three-node cluster', () => {
  it('creates the journal, index, buckets, object store and progress stream with three replicas', async () => {
    const config = loadConfig({ nats: cluster.servers, registry: `127.0.0.1:${await freePort()}`, namespace: 'r3', owner: 'c1', dataDir: join(tmp, 'c1'), replicas: 3 }, {});
    coordinator = new Coordinator({ config, machines: [orderBinding((c) => calls.push(c))], builds: true, logger: createLogger({ level: 'warn', destination: logSink }) });
    await coordinator.start();
    const streams = await streamsOf('r3');
    expect([...streams.keys()].sort()).toEqual(['KV_r3_boot', 'KV_r3_checkpoints', 'KV_r3_coordinators', 'KV_r3_entities', 'OBJ_r3_sources', 'R3_EVENTS', 'R3_INDEX', 'R3_PROGRESS']);
    for (const [name, si] of streams) {
      expect({ name, replicas: si.config.num_replicas }).toEqual({ name, replicas: 3 });
      expect(si.cluster?.replicas).toHaveLength(2);
    }
  });

  it('runs sagas through a SIGKILL of the journal leader node: all complete, nothing lost or stored twice, the node rejoins', async () => {
    const runtime = coordinator!.runtime;
    const events = natsNames('r3').eventsStream;
    const ids = Array.from({ length: SAGAS }, (_, i) => `leader-kill-${i}`);
    const delayMs = { reserveStock: 40, chargeCard: 40, shipOrder: 40, notifyCustomer: 40 };
    for (const id of ids) await runtime.start('order', { order: id, delayMs }, { id });
    const ok = (): StepCall[] => calls.filter((c) => c.outcome === 'ok' && ids.includes(c.sagaId));
    // Mid-flight: some steps done, most still to come.
    await until(() => ok().length >= SAGAS, 30_000, 'a first wave of steps');
    const leader = (await jsm.streams.info(events)).cluster!.leader!;
    const killed = cluster.indexOf(leader);
    const killedAt = Date.now();
    await cluster.kill(killed);
    const stepsAtKill = ok().length;
    expect(stepsAtKill).toBeLessThan(SAGAS * 4);

    for (const id of ids) expect((await runtime.wait(id, { timeoutMs: 60_000 })).status).toBe('completed');
    // A new leader was elected and the work went on after the kill.
    expect(ok().length).toBe(SAGAS * 4);
    // Appends did meet the election, and were retried rather than failed.
    expect(logs.filter((l) => l.time >= killedAt && l.msg === 'journal append outcome unknown; retrying with the same msgId').length).toBeGreaterThan(0);
    const after = await jsm.streams.info(events);
    expect(after.cluster?.leader).toBeDefined();
    expect(after.cluster?.leader).not.toBe(leader);

    let entries = 0;
    for (const id of ids) {
      const journal = await runtime.events(id);
      expectWellFormed(journal);
      expect(doneActors(journal)).toEqual(['reserve', 'charge', 'ship', 'notify']);
      // No step was ever reported as failed: the election was waited out, not journaled.
      expect(journal.filter((e) => e.event?.type.startsWith('xstate.error.actor.'))).toEqual([]);
      entries += journal.length;
    }
    // The stream holds exactly the sagas' entries: no duplicate landed beside them.
    expect(after.state.messages).toBe(entries);
    // Each step's effect once per key (a re-run after a takeover would reuse its key).
    for (const id of ids) {
      const mine = ok().filter((c) => c.sagaId === id);
      expect(new Set(mine.map((c) => c.step)).size).toBe(4);
      expect(new Set(mine.map((c) => c.key)).size).toBe(4);
    }

    await cluster.restart(killed);
    await until(() => allCurrent(events), 30_000, 'the restarted node to catch up');
    const rejoined = await jsm.streams.info(events);
    expect([rejoined.cluster!.leader, ...rejoined.cluster!.replicas!.map((r) => r.name)].sort()).toEqual(['n1', 'n2', 'n3']);
    expect(rejoined.state.messages).toBe(entries);
  }, 90_000);

  it('raises streams and buckets created with one replica to three, and never lowers them', async () => {
    const one = await openNatsStores(nc, { namespace: 'up', replicas: 1 });
    await one.close?.();
    const before = await streamsOf('up');
    expect([...before.values()].map((si) => si.config.num_replicas)).toEqual([1, 1, 1, 1]);
    const three = await openNatsStores(nc, { namespace: 'up', replicas: 3 });
    await three.close?.();
    const again = await openNatsStores(nc, { namespace: 'up' });
    await again.close?.();
    const raised = await streamsOf('up');
    expect(raised.size).toBe(4);
    for (const si of raised.values()) expect(si.config.num_replicas).toBe(3);
  });

  it('refuses more replicas than the cluster has nodes, with one clear error', async () => {
    await expect(openNatsStores(nc, { namespace: 'r5', replicas: 5 })).rejects.toMatchObject({
      code: 'REPLICAS_UNAVAILABLE',
      retryable: false,
      message: expect.stringMatching(/^could not create stream R5_(EVENTS|INDEX): the NATS servers cannot hold 5 replicas: no suitable peers for placement$/),
    });
  });
});

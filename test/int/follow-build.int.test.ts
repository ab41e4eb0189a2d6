/**
 * `followBuild` on a real nats-server: a build's progress followed to its end, which is the
 * recorded `result`, or — when that record was lost — the saga's own status and output once it
 * has been finished for the grace period. Sagas here run on a runtime with in-memory stores;
 * `followBuild` only asks it when the saga has finished.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { followBuild } from '../../src/build/follow-build.js';
import { ProgressLog, type ProgressEvent } from '../../src/build/progress.js';
import { connectNats } from '../../src/nats/connect.js';
import { memoryCluster, type Cluster } from '../helpers/memory-cluster.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { orderBinding } from '../fixtures/order-saga.js';

let server: NatsServerHandle;
let nc: NatsConnection;
let cluster: Cluster;
beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: 'follow-build-test' });
});
afterEach(async () => {
  await cluster?.closeAll();
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

const collect = async (it: AsyncIterable<ProgressEvent>): Promise<ProgressEvent[]> => {
  const out: ProgressEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
};

const phase = (name: string): ProgressEvent => ({ kind: 'phase', phase: name, status: 'running', state: name });

describe('followBuild', () => {
  it('ends with the recorded result, once', async () => {
    cluster = memoryCluster();
    const rt = await cluster.open('a', { machines: [orderBinding()] });
    const log = await ProgressLog.open(nc, { namespace: 'f1' });
    await rt.start('order', { order: 'o' }, { id: 'b1' });
    await log.publish('b1', phase('reserve'));
    await log.publish('b1', { kind: 'result', status: 'completed', output: { recorded: true } });
    const got = await collect(followBuild(log, rt, 'b1', { graceMs: 50 }));
    expect(got.map((e) => e.kind)).toEqual(['phase', 'result']);
    expect(got[1]).toMatchObject({ status: 'completed', output: { recorded: true }, seq: expect.any(Number) });
  });

  it("ends with the saga's own status and output when the result record is missing", async () => {
    cluster = memoryCluster();
    const rt = await cluster.open('a', { machines: [orderBinding()] });
    const log = await ProgressLog.open(nc, { namespace: 'f2' });
    await rt.start('order', { order: 'lost' }, { id: 'b2' });
    await log.publish('b2', phase('reserve'));
    const info = await rt.wait('b2');
    const got = await collect(followBuild(log, rt, 'b2', { graceMs: 50 }));
    expect(got.map((e) => e.kind)).toEqual(['phase', 'result']);
    expect(got[1]).toEqual({ kind: 'result', status: 'completed', output: info.output });
  });

  it('follows a build still running to the result written later', async () => {
    cluster = memoryCluster();
    const rt = await cluster.open('a', { machines: [orderBinding()] });
    const log = await ProgressLog.open(nc, { namespace: 'f3' });
    // The saga stays in its first step: only the record can end the follow.
    await rt.start('order', { order: 'slow', delayMs: { reserveStock: 600_000 } }, { id: 'b3' });
    await log.publish('b3', phase('reserve'));
    const got: ProgressEvent[] = [];
    for await (const e of followBuild(log, rt, 'b3', { graceMs: 50 })) {
      got.push(e);
      if (got.length === 1) await log.publish('b3', { kind: 'result', status: 'cancelled', output: null });
    }
    expect(got.map((e) => [e.kind, 'status' in e ? e.status : undefined])).toEqual([
      ['phase', 'running'],
      ['result', 'cancelled'],
    ]);
  });

  it("ends with the caller's abort while the build runs", async () => {
    cluster = memoryCluster();
    const rt = await cluster.open('a', { machines: [orderBinding()] });
    const log = await ProgressLog.open(nc, { namespace: 'f4' });
    await rt.start('order', { order: 'slow', delayMs: { reserveStock: 600_000 } }, { id: 'b4' });
    await log.publish('b4', phase('reserve'));
    const stop = new AbortController();
    const got: ProgressEvent[] = [];
    const following = (async () => {
      for await (const e of followBuild(log, rt, 'b4', { graceMs: 50, signal: stop.signal })) {
        got.push(e);
        stop.abort(new Error('the user pressed Ctrl-C'));
      }
    })();
    await expect(following).rejects.toThrow('the user pressed Ctrl-C');
    expect(got.map((e) => e.kind)).toEqual(['phase']);
  });
});

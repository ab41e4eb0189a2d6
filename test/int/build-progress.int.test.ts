/**
 * Build progress on a real nats-server: read from the start, follow live until the result,
 * re-attach after an offset, and survive a server restart (the stream, not a connection, holds
 * the progress).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProgressLog, type ProgressRecord } from '../../src/build/progress.js';
import { connectNats } from '../../src/nats/connect.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';

let server: NatsServerHandle;
let nc: NatsConnection;
beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: 'progress-test' });
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

const collect = async (it: AsyncIterable<ProgressRecord>): Promise<ProgressRecord[]> => {
  const out: ProgressRecord[] = [];
  for await (const r of it) out.push(r);
  return out;
};

describe('build progress', () => {
  it('is read from the start, in order, each build apart', async () => {
    const log = await ProgressLog.open(nc, { namespace: 'p1' });
    await log.publish('b1', { kind: 'phase', phase: 'receive', status: 'running', state: 'receive' });
    await log.publish('b2', { kind: 'log', step: 'onbuild', stream: 'stdout', text: 'other build' });
    await log.publish('b1', { kind: 'log', step: 'onbuild', stream: 'stdout', text: 'npm ci' });
    const got = await collect(log.read('b1'));
    expect(got.map((r) => [r.kind, r.buildId])).toEqual([['phase', 'b1'], ['log', 'b1']]);
    expect(got[0]!.seq).toBeLessThan(got[1]!.seq);
    expect(await collect(log.read('nothing'))).toEqual([]);
  });

  it('follows live until the result, and a reader re-attaches after the last seq it saw', async () => {
    const log = await ProgressLog.open(nc, { namespace: 'p2' });
    await log.publish('f', { kind: 'phase', phase: 'onbuild', status: 'running', state: 'onbuild' });
    const seen: ProgressRecord[] = [];
    const following = (async () => {
      for await (const r of log.read('f', { follow: true })) seen.push(r);
    })();
    await new Promise((r) => setTimeout(r, 50));
    await log.publish('f', { kind: 'log', step: 'onbuild', stream: 'stderr', text: 'warn: x' });
    await log.publish('f', { kind: 'result', status: 'completed', output: { version: 3 } });
    await following;
    expect(seen.map((r) => r.kind)).toEqual(['phase', 'log', 'result']);
    const rest = await collect(log.read('f', { afterSeq: seen[0]!.seq }));
    expect(rest.map((r) => r.kind)).toEqual(['log', 'result']);
  });

  it('a follower keeps going across a nats-server restart', async () => {
    const log = await ProgressLog.open(nc, { namespace: 'p3' });
    await log.publish('r', { kind: 'phase', phase: 'push', status: 'running', state: 'push' });
    const seen: string[] = [];
    const following = (async () => {
      for await (const r of log.read('r', { follow: true })) seen.push(r.kind);
    })();
    await server.restart();
    // Once the client is back, new progress reaches the follower.
    let written = false;
    for (let i = 0; i < 100 && !written; i++) {
      written = await log.publish('r', { kind: 'result', status: 'completed', output: null });
      if (!written) await new Promise((r) => setTimeout(r, 200));
    }
    expect(written).toBe(true);
    await following;
    expect(seen).toEqual(['phase', 'result']);
  });

  it('stops following when its signal aborts, and cuts long lines', async () => {
    const log = await ProgressLog.open(nc, { namespace: 'p4' });
    await log.publish('s', { kind: 'log', step: 'onbuild', stream: 'stdout', text: 'x'.repeat(20_000) });
    const stop = new AbortController();
    const seen: ProgressRecord[] = [];
    const following = (async () => {
      for await (const r of log.read('s', { follow: true, signal: stop.signal })) seen.push(r);
    })();
    await new Promise((r) => setTimeout(r, 50));
    stop.abort(new Error('client gone'));
    await expect(following).rejects.toThrow('client gone');
    expect(seen).toHaveLength(1);
    expect((seen[0] as { text: string }).text.length).toBeLessThan(10_000);
  });
});

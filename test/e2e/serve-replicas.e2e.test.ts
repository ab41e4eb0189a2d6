/**
 * `jetsaga serve --replicas`: three replicas on a three-node cluster; refused in one line
 * (exit 1) against a single server, which cannot hold them; and with one replica on a single
 * server, one warning that durability then rests on one page cache.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logLines, runCli, startCli } from '../helpers/cli.js';
import { startNatsCluster, type NatsClusterHandle } from '../helpers/nats-cluster.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { exitsOnItsOwn, type TsChild } from '../helpers/ts-child.js';

const PAGE_CACHE = /^one replica on a single NATS server: durability rests on one page cache/;

let server: NatsServerHandle;
let cluster: NatsClusterHandle;
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-serve-replicas-'));
  [server, cluster] = await Promise.all([startNatsServer(), startNatsCluster()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([server?.stop(), cluster?.stop()]);
  if (tmp) await rm(tmp, { recursive: true, force: true });
}, 60_000);

/** Serve args that embed nothing: the given NATS and a registry address nothing listens on. */
async function serveArgs(owner: string, nats: string, ...extra: string[]): Promise<string[]> {
  return ['serve', '--owner', owner, '--namespace', owner, '--data-dir', join(tmp, owner), '--nats', nats, '--registry', `127.0.0.1:${await freePort()}`, ...extra];
}

async function stop(child: TsChild): Promise<void> {
  child.signalGroup('SIGINT');
  expect(await exitsOnItsOwn(child, 20_000)).toEqual({ code: 0, signal: null });
}

describe('jetsaga serve --replicas', () => {
  it('runs with three replicas on a three-node cluster, without the single-server warning', async () => {
    const child = startCli(await serveArgs('rthree', cluster.servers, '--replicas', '3'));
    await child.waitForLine(/^jetsaga coordinator "rthree" ready$/, 60_000);
    const nc = await connect({ servers: [...cluster.urls] });
    try {
      const si = await (await jetstreamManager(nc)).streams.info('RTHREE_EVENTS');
      expect(si.config.num_replicas).toBe(3);
    } finally {
      await nc.close();
    }
    expect(logLines(child).filter((l) => PAGE_CACHE.test(l.msg))).toEqual([]);
    await stop(child);
  }, 80_000);

  it('refuses three replicas on a single server in one line, exit 1', async () => {
    const r = await runCli(await serveArgs('rsingle', server.url, '--replicas', '3'), {}, 40_000);
    expect(r.code).toBe(1);
    const human = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
    expect(human).toEqual([
      `jetsaga serve: boot failed: --replicas 3 needs a NATS cluster with JetStream, but 127.0.0.1:${server.port} is a single server (replicas > 1 not supported in non-clustered mode); use --replicas 1 or point --nats at a cluster`,
    ]);
    // Nothing was created with one replica behind the operator's back.
    const nc = await connect({ servers: server.url });
    try {
      await expect((await jetstreamManager(nc)).streams.info('RSINGLE_EVENTS')).rejects.toThrow('stream not found');
    } finally {
      await nc.close();
    }
  }, 60_000);

  it('warns once that one replica on a single server rests on one page cache', async () => {
    const child = startCli(await serveArgs('rone', server.url), { JETSAGA_REPLICAS: '' });
    await child.waitForLine(/^jetsaga coordinator "rone" ready$/, 60_000);
    const warned = logLines(child).filter((l) => PAGE_CACHE.test(l.msg));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 40, replicas: 1 });
    await stop(child);
  }, 80_000);
});

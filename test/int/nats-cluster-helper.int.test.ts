/**
 * The three-node cluster helper itself: nodes on distinct loopback ports that know each other,
 * a meta leader before it returns, SIGKILL and restart of one node on its own store, and no
 * process or directory left after `stop`.
 */
import { existsSync } from 'node:fs';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { startNatsCluster } from '../helpers/nats-cluster.js';
import { until } from '../helpers/until.js';
import { alive } from '../helpers/ts-child.js';

describe('startNatsCluster', () => {
  it('starts three clustered nodes with a meta leader, kills and restarts one, and cleans up on stop', async () => {
    const c = await startNatsCluster();
    try {
      expect(c.nodes.map((n) => n.name)).toEqual(['n1', 'n2', 'n3']);
      expect(new Set(c.nodes.map((n) => n.port)).size).toBe(3);
      expect(c.urls.every((u) => u.startsWith('nats://127.0.0.1:'))).toBe(true);
      expect(c.servers).toBe(c.urls.join(','));

      const nc = await connect({ servers: c.urls[0]!, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
      try {
        expect(nc.info?.cluster).toBe('saga-cluster');
        // Routes are gossiped: the client learns of all three nodes as the cluster forms.
        await until(() => new Set(nc.info?.connect_urls).size === 3, 30_000, 'the client to know all three nodes');
        // A meta leader is elected: a replicated stream can be created (once every peer has
        // reported in; on a loaded machine that may take a moment after the election).
        const jsm = await jetstreamManager(nc);
        let replicas = 0;
        await until(async () => {
          const si = await jsm.streams.add({ name: 'SELF', subjects: ['self.>'], num_replicas: 3 }).catch(() => null);
          replicas = si?.config.num_replicas ?? 0;
          return si !== null;
        }, 30_000, 'an R3 stream to be created');
        expect(replicas).toBe(3);
        const first = c.nodes[2]!.pid!;

        await c.kill(2);
        expect(c.nodes[2]!.running).toBe(false);
        expect(alive(first)).toBe(false);
        await c.restart(2);
        expect(c.nodes[2]!.running).toBe(true);
        expect(c.nodes[2]!.pid).not.toBe(first);
        await c.waitForMetaLeader();
        // The node came back on its store: it is one of the stream's peers again, caught up.
        await until(async () => {
          const info = await jsm.streams.info('SELF').catch(() => null);
          const peers = [info?.cluster?.leader, ...(info?.cluster?.replicas ?? []).filter((r) => r.current).map((r) => r.name)];
          return peers.includes('n3') && peers.length === 3;
        }, 30_000, 'n3 to be a current peer again');
      } finally {
        await nc.close();
      }
    } finally {
      const pids = c.nodes.map((n) => n.pid!);
      await c.stop();
      await c.stop();
      expect(pids.filter(alive)).toEqual([]);
      expect(existsSync(c.dir)).toBe(false);
    }
  }, 60_000);
});

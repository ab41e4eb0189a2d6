import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { freePort, startNatsServer } from '../helpers/nats-server.js';
import { alive } from '../helpers/ts-child.js';

describe('startNatsServer', () => {
  it('keeps port and store across kill and restart, and cleans up on stop', async () => {
    const s = await startNatsServer();
    expect(s.url).toBe(`nats://127.0.0.1:${s.port}`);
    expect(s.port).not.toBe(4222);
    const nc = await connect({ servers: s.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'KEEP', subjects: ['keep.>'] });
    const firstPid = s.pid;
    // Requests made while the client is disconnected are dropped at reconnect (client 3.4.0
    // resets its outbound buffer), so the check waits for the client to be back.
    const reconnected = (async () => {
      for await (const st of nc.status()) if (st.type === 'reconnect') return;
    })();
    await s.kill();
    expect(alive(firstPid)).toBe(false);
    await s.restart();
    expect(s.pid).not.toBe(firstPid);
    await reconnected;
    expect((await jsm.streams.info('KEEP')).config.name).toBe('KEEP');
    await nc.close();
    const { storeDir, pid } = s;
    await s.stop();
    await s.stop();
    expect(alive(pid)).toBe(false);
    expect(existsSync(storeDir)).toBe(false);
  });

  it('leaves a store dir it was given, and honours a given port', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jetsaga-test-store-'));
    const port = await freePort();
    const s = await startNatsServer({ storeDir: dir, port });
    expect(s.port).toBe(port);
    await s.stop();
    expect(existsSync(dir)).toBe(true);
    await rm(dir, { recursive: true, force: true });
  });
});

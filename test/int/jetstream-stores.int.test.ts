/** The store contracts over the JetStream implementations, against one real nats-server. */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openJetStreamIndexStore } from '../../src/journal/jetstream-index-store.js';
import { openJetStreamJournal } from '../../src/journal/jetstream-journal.js';
import { openNatsKvStore } from '../../src/journal/nats-kv-store.js';
import { assertServerVersion, connectNats, serverVersion } from '../../src/nats/connect.js';
import { ensureStream } from '../../src/nats/streams.js';
import { describeIndexContract } from '../contract/index.contract.js';
import { describeJournalContract } from '../contract/journal.contract.js';
import { describeKvContract } from '../contract/kv.contract.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';

let server: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;
let n = 0;
/** Fresh names per test: stream names and subject prefixes must not overlap between streams. */
const fresh = (): number => ++n;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: 'jetstream-stores-test' });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describeJournalContract('JetStreamJournal', async () => {
  const i = fresh();
  const journal = await openJetStreamJournal(nc, { stream: `J_${i}`, subjectPrefix: `t${i}.ev` });
  return {
    journal,
    cleanup: async () => {
      await journal.close();
      await jsm.streams.delete(`J_${i}`);
    },
  };
});

describeKvContract('NatsKvStore', async () => {
  const bucket = `kv_${fresh()}`;
  const kv = await openNatsKvStore(nc, bucket);
  return { kv, cleanup: async () => void (await jsm.streams.delete(`KV_${bucket}`)) };
});

describeIndexContract('JetStreamIndexStore', async () => {
  const i = fresh();
  const index = await openJetStreamIndexStore(nc, { stream: `IDX_${i}`, subjectPrefix: `t${i}.idx` });
  return { index, cleanup: async () => void (await jsm.streams.delete(`IDX_${i}`)) };
});

describe('JetStream specifics', () => {
  it('checks the server version', () => {
    expect(serverVersion(nc)).toMatch(/^\d+\.\d+\.\d+/);
    expect(() => assertServerVersion(nc)).not.toThrow();
    expect(() => assertServerVersion(nc, '99.0.0')).toThrow(expect.objectContaining({ code: 'SERVER_TOO_OLD' }));
  });

  it('opens a journal twice on the same stream, and corrects a max_age someone set', async () => {
    const i = fresh();
    const opts = { stream: `J_${i}`, subjectPrefix: `t${i}.ev` };
    await openJetStreamJournal(nc, opts);
    await jsm.streams.update(`J_${i}`, { max_age: 3_600_000_000_000 });
    await openJetStreamJournal(nc, opts);
    expect((await jsm.streams.info(`J_${i}`)).config.max_age).toBe(0);
    await jsm.streams.delete(`J_${i}`);
  });

  it('refuses a stream setting the server does not keep', async () => {
    const i = fresh();
    // allow_msg_ttl arrived in 2.11: 2.9 drops it from the config it echoes.
    const cfg = { name: `S_${i}`, subjects: [`t${i}.s.>`], allow_msg_ttl: true } as Parameters<typeof ensureStream>[1];
    const version = serverVersion(nc);
    if (/^2\.(9|10)\./.test(version)) {
      await expect(ensureStream(jsm, cfg)).rejects.toMatchObject({ code: 'SERVER_TOO_OLD' });
    } else {
      await expect(ensureStream(jsm, cfg)).resolves.toBeDefined();
    }
    await jsm.streams.delete(`S_${i}`).catch(() => undefined);
  });

  it('reports a plain retry outside the dedupe window as a conflict', async () => {
    const i = fresh();
    const journal = await openJetStreamJournal(nc, { stream: `J_${i}`, subjectPrefix: `t${i}.ev`, duplicateWindowMs: 100 });
    const first = await journal.append('own', new Uint8Array([1]), { expectedLastSeq: 0, msgId: 'own:0' });
    // Only a retry that followed an ambiguous attempt may read its own msgId at the head as
    // success; a caller repeating a settled append must hear about the conflict.
    await new Promise((r) => setTimeout(r, 400));
    await expect(journal.append('own', new Uint8Array([1]), { expectedLastSeq: 0, msgId: 'own:0' })).rejects.toMatchObject({
      code: 'JOURNAL_CONFLICT',
      actualLastSeq: first.seq,
    });
    await jsm.streams.delete(`J_${i}`);
  });
});

/**
 * SourceStore against a real nats-server (2.9.10): put/get/info/delete, names, a 50 MiB source
 * streamed both ways with bounded lead, the data surviving a server restart, and outages
 * surfacing as the retryable JOURNAL_UNAVAILABLE without leaving the input open.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sourcesBucketName } from '../../src/build/source/source-names.js';
import { SourceStore } from '../../src/build/source/source-store.js';
import { connectNats } from '../../src/nats/connect.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 30_000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what}: not within 30 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('SourceStore on one server', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let store: SourceStore;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectNats({ servers: server.url, name: 'source-store-test' });
    store = await SourceStore.open(nc, { namespace: 'srctest' });
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('names its bucket after the namespace', () => {
    expect(store.bucket).toBe('srctest_sources');
    expect(sourcesBucketName()).toBe('jetsaga_sources');
    expect(() => sourcesBucketName('Bad.Namespace')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('puts, gets, describes and deletes a source', async () => {
    const data = randomBytes(300_000);
    const put = await store.put('b-1', Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { app: 'demo' });
    expect(put).toEqual({ name: 'b-1', size: data.length, digest: sha(data) });
    expect(sha(await bytesOf(await store.get('b-1')))).toBe(sha(data));
    expect(await store.info('b-1')).toEqual({ ...put, storedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), meta: { app: 'demo' } });

    expect(await store.delete('b-1')).toBe(true);
    expect(await store.delete('b-1')).toBe(false);
    expect(await store.info('b-1')).toBeNull();
    await expect(store.get('b-1')).rejects.toMatchObject({ code: 'UNKNOWN_SOURCE', status: 404, message: 'unknown source "b-1"' });
  });

  it('says UNKNOWN_SOURCE for a source never stored, and deleting it is a no-op', async () => {
    await expect(store.get('never')).rejects.toMatchObject({ code: 'UNKNOWN_SOURCE', status: 404, retryable: false });
    expect(await store.info('never')).toBeNull();
    expect(await store.delete('never')).toBe(false);
  });

  it('refuses names that are not subject-safe', async () => {
    for (const name of ['', 'a.b', 'a b', '../x', 'x'.repeat(129), 'a*', 'a>']) {
      await expect(store.get(name), name).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(store.put(name, Readable.from([Buffer.from('x')])), name).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
  });

  it('stores an empty source', async () => {
    const put = await store.put('empty', Readable.from([]));
    expect(put).toEqual({ name: 'empty', size: 0, digest: sha(Buffer.alloc(0)) });
    expect((await bytesOf(await store.get('empty'))).length).toBe(0);
  });

  it('replaces a source under the same name and drops the old chunks', async () => {
    const objects = await new Objm(nc).open(store.bucket);
    await store.put('twice', Readable.from([randomBytes(500_000)]));
    const oldNuid = (await objects.info('twice'))!.nuid;
    const second = randomBytes(200_000);
    await store.put('twice', Readable.from([second]));
    const newNuid = (await objects.info('twice'))!.nuid;
    expect(sha(await bytesOf(await store.get('twice')))).toBe(sha(second));
    const jsm = await jetstreamManager(nc);
    const si = await jsm.streams.info(`OBJ_${store.bucket}`, { subjects_filter: `$O.${store.bucket}.C.>` });
    const chunkSubjects = Object.keys(si.state.subjects ?? {});
    expect(chunkSubjects).toContain(`$O.${store.bucket}.C.${newNuid}`);
    expect(chunkSubjects).not.toContain(`$O.${store.bucket}.C.${oldNuid}`);
  });

  it('passes an error of the input through unchanged and stores nothing', async () => {
    const failure = new Error('the upload was cut');
    async function* cut(): AsyncGenerator<Buffer> {
      yield randomBytes(300_000);
      throw failure;
    }
    await expect(store.put('cut', cut())).rejects.toBe(failure);
    expect(await store.info('cut')).toBeNull();
  });

  it('streams 50 MiB both ways without running ahead of the server or of the reader', async () => {
    const total = 50 * MiB;
    const bucketChunks = `$O.${store.bucket}.C.>`;
    // What has reached the server, seen by a plain subscriber on the chunk subjects.
    let stored = 0;
    const sub = nc.subscribe(bucketChunks, {
      callback: (_e, m) => {
        stored += m.data.length;
      },
    });
    await nc.flush();
    let produced = 0;
    let maxLead = 0;
    const hash = createHash('sha256');
    async function* source(): AsyncGenerator<Buffer> {
      while (produced < total) {
        maxLead = Math.max(maxLead, produced - stored);
        const chunk = randomBytes(MiB);
        hash.update(chunk);
        produced += chunk.length;
        yield chunk;
      }
    }
    try {
      const put = await store.put('big', source());
      expect(put).toEqual({ name: 'big', size: total, digest: `sha256:${hash.digest('hex')}` });
    } finally {
      sub.unsubscribe();
    }
    // A put that buffered the source would be 50 MiB ahead; this one is a chunk or two.
    expect(maxLead).toBeLessThan(8 * MiB);

    const stream = await store.get('big');
    const readHash = createHash('sha256');
    let read = 0;
    const chunks = stream[Symbol.asyncIterator]();
    const first = (await chunks.next()).value as Buffer;
    readHash.update(first);
    read += first.length;
    // The reader pauses: the store fetches up to its high-water mark ahead, then waits. A store
    // that fetched regardless (as the client's push-consumer get does) would have megabytes
    // buffered after a moment.
    await until(async () => stream.readableLength >= stream.readableHighWaterMark, 'read-ahead up to the high-water mark');
    await new Promise((r) => setTimeout(r, 300));
    expect(stream.readableHighWaterMark).toBeLessThanOrEqual(MiB);
    expect(stream.readableLength).toBeLessThanOrEqual(stream.readableHighWaterMark + 128 * 1024);
    for (;;) {
      const r = await chunks.next();
      if (r.done) break;
      readHash.update(r.value as Buffer);
      read += (r.value as Buffer).length;
    }
    expect(read).toBe(total);
    expect(`sha256:${readHash.digest('hex')}`).toBe((await store.info('big'))!.digest);
    await store.delete('big');
  });
});

describe('SourceStore across server restarts and outages', () => {
  let server: NatsServerHandle | undefined;
  let nc: NatsConnection | undefined;

  afterEach(async () => {
    await nc?.close();
    await server?.stop();
    nc = undefined;
    server = undefined;
  });

  async function setUp(): Promise<{ server: NatsServerHandle; nc: NatsConnection; store: SourceStore }> {
    server = await startNatsServer();
    nc = await connectNats({ servers: server.url, name: 'source-store-outage-test' });
    const store = await SourceStore.open(nc, { namespace: 'outage', timeoutMs: 1_000 });
    return { server, nc, store };
  }

  it('reads a source stored before the server restarted', async () => {
    const { server, store } = await setUp();
    const data = randomBytes(3 * MiB);
    // Compared by digest: vitest's deep equality walks a Buffer element by element.
    await store.put('kept', Readable.from([data]));
    await server.restart();
    await until(async () => store.info('kept').then(() => true, () => false), 'JetStream answers after the restart');
    expect(sha(await bytesOf(await store.get('kept')))).toBe(sha(data));
  });

  it('says JOURNAL_UNAVAILABLE (retryable) while the server is down, and works again once it is back', async () => {
    const { server, store } = await setUp();
    const data = randomBytes(MiB);
    await store.put('s', Readable.from([data]));
    await server.kill();

    await expect(store.get('s')).rejects.toMatchObject({ code: 'JOURNAL_UNAVAILABLE', status: 503, retryable: true });
    await expect(store.info('s')).rejects.toMatchObject({ code: 'JOURNAL_UNAVAILABLE' });
    await expect(store.delete('s')).rejects.toMatchObject({ code: 'JOURNAL_UNAVAILABLE' });
    const input = Readable.from([randomBytes(1000)]);
    await expect(store.put('t', input)).rejects.toMatchObject({ code: 'JOURNAL_UNAVAILABLE', retryable: true });
    expect(input.destroyed).toBe(true);

    await server.restart();
    await until(async () => store.info('s').then(() => true, () => false), 'JetStream answers after the restart');
    expect(sha(await bytesOf(await store.get('s')))).toBe(sha(data));
  });

  it('fails a read cut by an outage with JOURNAL_UNAVAILABLE', async () => {
    const { server, store } = await setUp();
    await store.put('long', Readable.from([randomBytes(8 * MiB)]));
    const stream = await store.get('long');
    const chunks = stream[Symbol.asyncIterator]();
    await chunks.next();
    await server.kill();
    const err = await (async () => {
      for (;;) if ((await chunks.next()).done) return undefined;
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'JOURNAL_UNAVAILABLE', retryable: true });
    expect(stream.destroyed).toBe(true);
  });

  it('fails to open with JOURNAL_UNAVAILABLE when the server is down', async () => {
    const { server, nc } = await setUp();
    await server.kill();
    await expect(SourceStore.open(nc, { namespace: 'other', timeoutMs: 1_000 })).rejects.toMatchObject({ code: 'JOURNAL_UNAVAILABLE', retryable: true });
  });
});

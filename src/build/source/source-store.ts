/**
 * Uploaded sources, in a JetStream object store bucket (`<namespace>_sources`): the client puts
 * the tar there, and the build's receive step reads it back — also long after the upload, after
 * a coordinator crash or a server restart (file storage). Objects are streamed both ways in
 * chunks, so neither side holds a whole source in memory.
 *
 * A NATS outage (timeouts, no responders, a dropped connection) surfaces as the retryable
 * JOURNAL_UNAVAILABLE (503), like every other store of jetsaga's.
 */
import type { Readable } from 'node:stream';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Objm, setSha256Backend, StorageType, type ObjectInfo, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { InvalidArgumentError, JournalUnavailableError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { isTransient } from '../../nats/nats-errors.js';
import { withReplicas } from '../../nats/replicas.js';
import { readObject } from './object-reader.js';
import { assertSourceName, sourcesBucketName } from './source-names.js';
import { UnknownSourceError } from './source-errors.js';

export interface SourceStoreOptions {
  /** Prefix of the bucket's name (default `jetsaga`): the bucket is `<namespace>_sources`. */
  readonly namespace?: string;
  /** Replicas of the bucket's stream (3 in a production cluster). Default 1. */
  readonly replicas?: number;
  /** Timeout of each JetStream request (default 5 s, the client's). */
  readonly timeoutMs?: number;
  readonly logger?: Logger;
}

/** What `put` stored. */
export interface PutSourceResult {
  readonly name: string;
  readonly size: number;
  /** `sha256:<hex>` of the bytes stored. */
  readonly digest: string;
}

/** A stored source. */
export interface SourceInfo extends PutSourceResult {
  /** When it was stored (ISO 8601, the writer's clock). */
  readonly storedAt: string;
  /** The string pairs given to `put`. */
  readonly meta: Readonly<Record<string, string>>;
}

/** Bytes to upload: a Node stream or any async iterable of byte chunks. */
export type SourceData = Readable | AsyncIterable<Uint8Array>;

const DIGEST_PREFIX = 'SHA-256=';

export class SourceStore {
  private constructor(
    /** The object store bucket's name. */
    readonly bucket: string,
    private readonly os: ObjectStore,
    private readonly jsm: JetStreamManager,
    private readonly logger: Logger,
  ) {}

  /**
   * Creates the bucket if it is missing (file storage) and binds to it.
   *
   * @example
   * const sources = await SourceStore.open(nc, { namespace: 'jetsaga' });
   * const { digest } = await sources.put('b-42', packDirectory('./my-app'));
   * await extractSource(await sources.get('b-42'), stagingDir);
   */
  static async open(nc: NatsConnection, opts: SourceStoreOptions = {}): Promise<SourceStore> {
    const bucket = sourcesBucketName(opts.namespace);
    // The client hashes chunks in pure JS by default (a third of the put's time); Node's
    // crypto gives the same digests. The setting is process-wide and only ever sets 'native'.
    setSha256Backend('native');
    const timeout = opts.timeoutMs === undefined ? {} : { timeout: opts.timeoutMs };
    try {
      const jsm = await jetstreamManager(nc, timeout);
      const os = await withReplicas(nc, jsm, { stream: `OBJ_${bucket}`, what: `object store ${bucket}`, replicas: opts.replicas }, () =>
        new Objm(jetstream(nc, timeout)).create(bucket, { storage: StorageType.File, replicas: opts.replicas ?? 1 }),
      );
      return new SourceStore(bucket, os, jsm, opts.logger ?? silentLogger);
    } catch (err) {
      throw unavailable(err, `cannot open the source store ${bucket}`);
    }
  }

  /**
   * Stores `data` under `name`, replacing what was there (the old chunks are removed once the
   * new object is complete, so a reader never sees a mix). An error of `data` itself is passed
   * through unchanged and nothing is stored.
   */
  async put(name: string, data: SourceData, meta: Readonly<Record<string, string>> = {}): Promise<PutSourceResult> {
    assertSourceName(name);
    for (const [k, v] of Object.entries(meta)) {
      if (typeof v !== 'string') throw new InvalidArgumentError(`source meta "${k}" must be a string`, { key: k });
    }
    const input = webStreamOf(data);
    let info: ObjectInfo;
    try {
      info = await this.os.put({ name, metadata: { ...meta } }, input.stream);
    } catch (err) {
      // The store stops reading at its first failure: let go of the input's resources.
      input.dispose();
      const own = input.error();
      if (own !== undefined) throw own;
      throw unavailable(err, `cannot store source "${name}"`);
    }
    const result = { name, size: info.size, digest: toDigest(info.digest) };
    this.logger.info({ source: name, size: result.size, digest: result.digest }, 'source stored');
    return result;
  }

  /** The source's bytes, streamed as they are read; UNKNOWN_SOURCE (404) if there is none. */
  async get(name: string): Promise<Readable> {
    assertSourceName(name);
    const info = await this.#info(name);
    if (info === null) throw new UnknownSourceError(name);
    return readObject(
      this.jsm,
      {
        name,
        stream: `OBJ_${this.bucket}`,
        chunkSubject: `$O.${this.bucket}.C.${info.nuid}`,
        size: info.size,
        chunks: info.chunks,
        sha256: toDigest(info.digest).slice('sha256:'.length),
      },
      (err) => unavailable(err, `cannot read source "${name}"`),
    );
  }

  /** What is stored under `name`, or null. */
  async info(name: string): Promise<SourceInfo | null> {
    assertSourceName(name);
    const info = await this.#info(name);
    if (info === null) return null;
    return { name, size: info.size, digest: toDigest(info.digest), storedAt: info.mtime, meta: { ...info.metadata } };
  }

  /** Removes the source; true if there was one. Idempotent. */
  async delete(name: string): Promise<boolean> {
    assertSourceName(name);
    if ((await this.#info(name)) === null) return false;
    try {
      await this.os.delete(name);
    } catch (err) {
      throw unavailable(err, `cannot delete source "${name}"`);
    }
    this.logger.info({ source: name }, 'source deleted');
    return true;
  }

  async #info(name: string): Promise<ObjectInfo | null> {
    let info: ObjectInfo | null;
    try {
      info = await this.os.info(name);
    } catch (err) {
      throw unavailable(err, `cannot read source "${name}"`);
    }
    return info === null || info.deleted ? null : info;
  }
}

/** JOURNAL_UNAVAILABLE for what a retry may cure; anything else as it is. */
function unavailable(err: unknown, what: string): unknown {
  return isTransient(err) ? new JournalUnavailableError(`${what}: NATS is unavailable (${(err as Error).message})`, err) : err;
}

/** `SHA-256=<base64url>` (the object store's form) as `sha256:<hex>`. */
function toDigest(objectDigest: string): string {
  if (!objectDigest.startsWith(DIGEST_PREFIX)) throw new Error(`unexpected object digest ${JSON.stringify(objectDigest)}`);
  return `sha256:${Buffer.from(objectDigest.slice(DIGEST_PREFIX.length), 'base64url').toString('hex')}`;
}

/**
 * A web stream (what the object store reads) over `data`, pulled one chunk at a time as the
 * store publishes, so an upload never runs ahead of the server. Remembers `data`'s own error,
 * which the store would otherwise report as its own.
 */
function webStreamOf(data: SourceData): { stream: ReadableStream<Uint8Array>; error(): unknown; dispose(): void } {
  const it = (data as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  let failed: { error: unknown } | undefined;
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let r: IteratorResult<unknown>;
        try {
          r = await it.next();
        } catch (error) {
          failed = { error };
          throw error;
        }
        if (r.done) return controller.close();
        if (!(r.value instanceof Uint8Array)) {
          failed = { error: new InvalidArgumentError('source data must be bytes (Buffer/Uint8Array), not strings: do not set an encoding on it') };
          throw failed.error;
        }
        controller.enqueue(r.value);
      },
      async cancel() {
        await it.return?.();
      },
    },
    { highWaterMark: 0 },
  );
  return {
    stream,
    error: () => failed?.error,
    dispose() {
      // Not awaited: a return() queues behind a read still pending on a stalled input.
      if (typeof (data as Readable).destroy === 'function') (data as Readable).destroy();
      else void Promise.resolve(it.return?.()).catch(() => undefined);
    },
  };
}

/**
 * Reads a stored object's chunks one direct get at a time, as the consumer asks for them.
 * Not the client's `ObjectStore.get`: that one runs a push consumer that enqueues every chunk
 * as it arrives, whether the reader keeps up or not, so a slow extraction would hold the
 * whole object in memory. Direct gets by `next_by_subj` are stateless on the server (nothing to
 * clean up when a reader stops half-way) and need `allow_direct`, which object-store streams
 * have. The size and SHA-256 stored with the object are checked at the end.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { JetStreamManager } from '@nats-io/jetstream';
import { SourceChangedError, SourceCorruptError } from './source-errors.js';

/** What the reader needs from the object's info. */
export interface StoredObject {
  readonly name: string;
  readonly stream: string;
  /** The subject of the object's chunks: `$O.<bucket>.C.<nuid>`. */
  readonly chunkSubject: string;
  readonly size: number;
  readonly chunks: number;
  /** SHA-256 of the whole object, hex. */
  readonly sha256: string;
}

/** A readable of the object's bytes; `mapError` turns client errors into jetsaga's. */
export function readObject(jsm: JetStreamManager, obj: StoredObject, mapError: (err: unknown) => unknown): Readable {
  const hash = createHash('sha256');
  let lastSeq = 0;
  let chunks = 0;
  let bytes = 0;

  const next = async (): Promise<Uint8Array | null> => {
    if (chunks === obj.chunks) {
      const digest = hash.digest('hex');
      if (bytes !== obj.size) throw new SourceCorruptError(obj.name, `read ${bytes} bytes, ${obj.size} stored`);
      if (digest !== obj.sha256) throw new SourceCorruptError(obj.name, `SHA-256 ${digest}, ${obj.sha256} stored`);
      return null;
    }
    let m;
    try {
      m = await jsm.direct.getMessage(obj.stream, { seq: lastSeq + 1, next_by_subj: obj.chunkSubject });
    } catch (err) {
      throw mapError(err);
    }
    if (m === null) throw new SourceChangedError(obj.name, `chunk ${chunks + 1} of ${obj.chunks} is gone`);
    lastSeq = m.seq;
    chunks++;
    bytes += m.data.length;
    hash.update(m.data);
    return m.data;
  };

  return new Readable({
    // A few chunks (128 KiB each by default) ahead of the reader at most: fetching overlaps
    // with the reader's work, and memory stays bounded however large the object is.
    highWaterMark: 512 * 1024,
    objectMode: false,
    read() {
      next().then(
        (data) => this.push(data === null ? null : Buffer.from(data.buffer, data.byteOffset, data.byteLength)),
        (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
      );
    },
  });
}

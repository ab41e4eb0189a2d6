/**
 * Writes one image layer: the walked tree as a tar with normalised headers (prefix `app/`,
 * mtime 0, uid/gid 0, empty owner names, 0755 for directories and executables, 0644 for other
 * files), optionally gzipped, into a file, while hashing the tar (the diffID) and the blob (the
 * digest). Runs inside the layer worker (see layer-thread.ts): its file reads are synchronous.
 *
 * Speed (notes/oci.md §3): small files are read whole in one call, tar output is coalesced
 * into 4 MiB chunks before compression (few, large writes instead of one per file), and gzip
 * levels 1–9 go through BlockGzip (block-gzip.ts): 1 MiB blocks deflated in parallel in libuv's
 * pool while this thread packs, and incompressible blocks stored rather than deflated. Level 0
 * keeps zlib's single stream (there is nothing to parallelise), with 1 MiB output chunks.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, createWriteStream, fsyncSync, openSync, readFileSync, readSync, fstatSync, constants } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack as tarPack, type Pack } from 'tar-stream';
import { BlockGzip } from './block-gzip.js';
import type { WalkEntry } from './tree-walk.js';
import { drained } from '../../util/drained.js';

/** What the layer worker is asked to write. */
export interface LayerJob {
  /** The directory whose contents become `<prefix>/` in the layer. */
  readonly root: string;
  /** The path prefix inside the image, without slashes ('app'). */
  readonly prefix: string;
  /** The file written (created exclusively; the caller renames it when complete). */
  readonly file: string;
  /** gzip level 0–9, or null for an uncompressed tar. */
  readonly gzipLevel: number | null;
}

/** The layer as written. */
export interface LayerResult {
  /** `sha256:` of the blob (compressed bytes, when gzipped). */
  readonly digest: string;
  /** `sha256:` of the uncompressed tar. */
  readonly diffId: string;
  /** Bytes of the blob. */
  readonly size: number;
  /** Bytes of the uncompressed tar. */
  readonly bytes: number;
  /** Entries that are not directories (files and symlinks). */
  readonly files: number;
}

const COALESCE_BYTES = 4 << 20;
const ZLIB_CHUNK = 1 << 20;
const READ_CHUNK = 1 << 20;
const EPOCH = new Date(0);

/** Packs `entries` (from walkTree) of `job.root` into `job.file`. */
export async function writeLayer(job: LayerJob, entries: readonly WalkEntry[]): Promise<LayerResult> {
  const tar = tarPack();
  const tarTap = new HashTap();
  const blobTap = new HashTap();
  const compress = compressor(job.gzipLevel);
  const sink = createWriteStream(job.file, { flags: 'wx', mode: 0o644 });
  const filling = fill(tar, job, entries).catch((err: unknown) => {
    tar.destroy(err instanceof Error ? err : new Error(String(err)));
    throw err;
  });
  await Promise.all([pipeline(tar, new Coalesce(COALESCE_BYTES), tarTap, compress, blobTap, sink), filling]);
  const fd = openSync(job.file, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return {
    digest: blobTap.digest(),
    diffId: tarTap.digest(),
    size: blobTap.bytes,
    bytes: tarTap.bytes,
    files: entries.filter((e) => e.kind !== 'dir').length,
  };
}

/** The stream between the tar and the blob: deterministic for a given level (and Node's zlib). */
function compressor(level: number | null): Transform {
  if (level === null) return new PassThrough();
  if (level === 0) return createGzip({ level, chunkSize: ZLIB_CHUNK });
  return new BlockGzip({ level });
}

async function fill(tar: Pack, job: LayerJob, entries: readonly WalkEntry[]): Promise<void> {
  const base = { mtime: EPOCH, uid: 0, gid: 0, uname: '', gname: '' };
  await add(tar, { ...base, name: `${job.prefix}/`, type: 'directory', mode: 0o755 });
  for (const e of entries) {
    const name = `${job.prefix}/${e.rel}`;
    if (e.kind === 'dir') await add(tar, { ...base, name: `${name}/`, type: 'directory', mode: 0o755 });
    else if (e.kind === 'symlink') await add(tar, { ...base, name, type: 'symlink', linkname: e.target, mode: 0o777 });
    else await addFile(tar, join(job.root, e.rel), { ...base, name, type: 'file', mode: e.executable ? 0o755 : 0o644, size: e.size });
  }
  tar.finalize();
}

type Header = Parameters<Pack['entry']>[0];

async function addFile(tar: Pack, abs: string, header: Header & { size: number }): Promise<void> {
  const changed = (now: number): Error => new Error(`cannot pack ${abs}: it changed size while the image was built (${header.size} → ${now} bytes)`);
  // O_NOFOLLOW: a file swapped for a symlink since the walk is not followed out of the tree.
  const fd = openSync(abs, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    if (header.size <= READ_CHUNK) {
      const data = readFileSync(fd);
      if (data.length !== header.size) throw changed(data.length);
      return await add(tar, header, data);
    }
    let sink!: Writable;
    const sinkDone = new Promise<void>((resolve, reject) => {
      sink = tar.entry(header, (err) => (err ? reject(err) : resolve())) as unknown as Writable;
    });
    sinkDone.catch(() => undefined);
    let read = 0;
    while (read < header.size) {
      // A fresh buffer per write: the tar stream keeps a reference until it has sent it.
      const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, header.size - read));
      const n = readSync(fd, buf, 0, buf.length, read);
      if (n === 0) break;
      read += n;
      if (!sink.write(buf.subarray(0, n))) await drained(sink);
      if (sink.destroyed) break;
    }
    const now = fstatSync(fd).size;
    if (read !== header.size || now !== header.size) {
      sink.destroy(changed(now));
      throw changed(now);
    }
    sink.end();
    await sinkDone;
  } finally {
    closeSync(fd);
  }
}

/** Adds an entry; resolves once tar-stream has taken it (which waits when its reader is behind). */
function add(tar: Pack, header: Header, data?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
    if (data) tar.entry(header, data, cb);
    else tar.entry(header, cb);
  });
}


/** Joins small chunks into chunks of at least `size` bytes (the last may be smaller). */
class Coalesce extends Transform {
  #parts: Buffer[] = [];
  #length = 0;
  constructor(private readonly size: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#parts.push(chunk);
    this.#length += chunk.length;
    if (this.#length >= this.size) this.#flushParts();
    cb();
  }
  override _flush(cb: TransformCallback): void {
    if (this.#length > 0) this.#flushParts();
    cb();
  }
  #flushParts(): void {
    this.push(this.#parts.length === 1 ? this.#parts[0] : Buffer.concat(this.#parts, this.#length));
    this.#parts = [];
    this.#length = 0;
  }
}

/** Passes bytes through while hashing and counting them. */
class HashTap extends Transform {
  readonly #hash: Hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
  digest(): string {
    return `sha256:${this.#hash.digest('hex')}`;
  }
}

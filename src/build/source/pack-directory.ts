/**
 * Packs a directory into a gzipped tar for a deploy: the selection of pack-selection.ts, in
 * byte order, with normalised headers (mtime 0, uid/gid 0, no owner names, modes 0755/0644),
 * so the same tree always gives the same bytes (and the same digest) on the same Node version
 * and jetsaga version.
 *
 * Speed (notes/oci.md §3): a deploy's tree is mostly small files, so the cost is latency, not
 * bytes. Small files are read whole, one `fs.readFile` each, with up to READ_AHEAD_FILES of
 * them in flight ahead of the one being packed (the tar still gets them in order); the tar
 * stream is gathered into COALESCE_BYTES chunks before compression, so zlib sees a few large
 * jobs rather than three small ones per file; and levels 1–9 are compressed block-parallel by
 * BlockGzip (image/block-gzip.ts), which also stores incompressible blocks as they are.
 */
import { constants, readFile } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Transform } from 'node:stream';
import { createGzip } from 'node:zlib';
import { pack as tarPack, type Pack } from 'tar-stream';
import { drained } from '../../util/drained.js';
import { BlockGzip } from '../image/block-gzip.js';
import { planPack, type PackEntry, type PackSelectionOptions } from './pack-selection.js';

export interface PackOptions extends PackSelectionOptions {
  /** gzip level, 0–9 (default 6, zlib's). */
  readonly gzipLevel?: number;
  /** Stops packing: the stream is destroyed with the signal's reason. */
  readonly signal?: AbortSignal;
}

const READ_CHUNK = 64 * 1024;
const EPOCH = new Date(0);
/** Files up to this size are read whole with one readFile; larger ones in READ_CHUNK reads. */
const WHOLE_FILE_MAX = 1 << 20;
/** Small files read ahead of the one being packed, at most (and at most READ_AHEAD_BYTES of them). */
const READ_AHEAD_FILES = 64;
const READ_AHEAD_BYTES = 16 << 20;
/** Tar bytes gathered before each write to the compressor. */
const COALESCE_BYTES = 4 << 20;
/** O_NOFOLLOW: a file swapped for a link since the walk is not followed out of the tree. */
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW;

/**
 * A gzipped tar of `dir` (see pack-selection.ts for what is left out), streamed: files are read
 * as the consumer reads. Errors (a file that changed size while being packed, a symlink
 * pointing outside the directory, an unreadable file) arrive as the stream's error; destroying
 * the stream stops the packing and closes every file it opened. `listPackedPaths` gives the
 * paths it packs.
 *
 * @example
 * const info = await sources.put('b-1', packDirectory('./my-app'));
 */
export function packDirectory(dir: string, opts: PackOptions = {}): Readable {
  const level = opts.gzipLevel ?? 6;
  // Level 0 (and zlib's -1) are left to zlib, which also refuses what is not a level at all.
  const out: Transform = Number.isInteger(level) && level >= 1 && level <= 9 ? new BlockGzip({ level }) : createGzip({ level });
  // A large buffer: otherwise tar-stream holds each entry back until 16 KiB have been read.
  const tar = tarPack({ highWaterMark: COALESCE_BYTES });
  const fail = (err: unknown): void => {
    tar.destroy();
    if (!out.destroyed) out.destroy(err instanceof Error ? err : new Error(String(err)));
  };
  const onAbort = (): void => fail(opts.signal?.reason);
  if (opts.signal?.aborted) {
    queueMicrotask(onAbort);
    return out;
  }
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  out.once('close', () => {
    opts.signal?.removeEventListener('abort', onAbort);
    tar.destroy();
  });
  void Promise.all([pump(tar, out), fill(tar, dir, opts, out)]).catch(fail);
  return out;
}

/**
 * Copies the tar into the compressor in chunks of COALESCE_BYTES (one zlib job, or one
 * BlockGzip call, per chunk rather than per header and body), waiting whenever the consumer is
 * behind.
 */
async function pump(tar: Pack, out: Transform): Promise<void> {
  let parts: Buffer[] = [];
  let gathered = 0;
  const send = async (): Promise<void> => {
    const chunk = parts.length === 1 ? parts[0]! : Buffer.concat(parts, gathered);
    parts = [];
    gathered = 0;
    if (!out.write(chunk)) await drained(out);
  };
  for await (const chunk of tar as AsyncIterable<Buffer>) {
    if (out.destroyed) return;
    parts.push(chunk);
    gathered += chunk.length;
    if (gathered >= COALESCE_BYTES) await send();
  }
  if (out.destroyed) return;
  if (gathered > 0) await send();
  if (!out.destroyed) out.end();
}

async function fill(tar: Pack, dir: string, opts: PackSelectionOptions, out: Transform): Promise<void> {
  const plan = await planPack(dir, opts);
  const reads = new ReadAhead(plan.root, plan.entries);
  for (let i = 0; i < plan.entries.length; i++) {
    if (out.destroyed) return;
    await addEntry(tar, plan.root, plan.entries[i]!, out, () => reads.take(i));
  }
  tar.finalize();
}

/**
 * Small files read ahead of the packing, in plan order: each one's read starts as soon as it
 * is among the next READ_AHEAD_FILES small files and the bytes read but not yet packed leave
 * room. A failed read is reported when its entry is reached, as it would be without the
 * read-ahead; reads still running when the packing stops close their files themselves.
 */
class ReadAhead {
  readonly #reads = new Map<number, Promise<Buffer>>();
  /** The next entry index whose read has not started (or that is not a small file). */
  #next = 0;
  #bytes = 0;

  constructor(
    private readonly root: string,
    private readonly entries: readonly PackEntry[],
  ) {}

  /** The bytes of small file `index` as read (possibly not e.size bytes: the caller checks). */
  take(index: number): Promise<Buffer> {
    this.#next = Math.max(this.#next, index);
    let read = this.#reads.get(index);
    if (read === undefined) read = this.#start(index);
    this.#reads.delete(index);
    this.#bytes -= this.#size(index);
    this.#fill(index + 1);
    return read;
  }

  #fill(from: number): void {
    this.#next = Math.max(this.#next, from);
    while (this.#next < this.entries.length && this.#reads.size < READ_AHEAD_FILES) {
      const size = this.#size(this.#next);
      if (size < 0) {
        this.#next++;
        continue;
      }
      if (this.#reads.size > 0 && this.#bytes + size > READ_AHEAD_BYTES) return;
      this.#reads.set(this.#next, this.#start(this.#next));
      this.#next++;
    }
  }

  #start(index: number): Promise<Buffer> {
    this.#bytes += this.#size(index);
    const read = new Promise<Buffer>((resolve, reject) =>
      // fs takes numeric flags (open(2)'s), though @types/node lists only the string ones.
      readFile(join(this.root, this.entries[index]!.path), { flag: READ_FLAGS as unknown as string }, (err, data) => (err ? reject(err) : resolve(data))),
    );
    // Read ahead and maybe never taken (packing stopped): never an unhandled rejection.
    read.catch(() => undefined);
    return read;
  }

  /** The size of a small file, or -1 for any other entry. */
  #size(index: number): number {
    const e = this.entries[index];
    return e?.kind === 'file' && e.size <= WHOLE_FILE_MAX ? e.size : -1;
  }
}

async function addEntry(tar: Pack, root: string, e: PackEntry, out: Transform, readWhole: () => Promise<Buffer>): Promise<void> {
  const common = { name: e.path, mtime: EPOCH, uid: 0, gid: 0, uname: '', gname: '' };
  if (e.kind === 'dir') return entry(tar, { ...common, type: 'directory', mode: 0o755 }).done;
  if (e.kind === 'symlink') return entry(tar, { ...common, type: 'symlink', linkname: e.target, mode: 0o777 }).done;
  const mode = e.executable ? 0o755 : 0o644;
  if (e.size <= WHOLE_FILE_MAX) {
    const data = await readWhole();
    if (out.destroyed) return;
    if (data.length !== e.size) throw changedSize(root, e, data.length);
    const { sink, done } = entry(tar, { ...common, type: 'file', size: e.size, mode });
    sink.end(data);
    return done;
  }
  const fh = await open(join(root, e.path), READ_FLAGS);
  try {
    const { sink, done } = entry(tar, { ...common, type: 'file', size: e.size, mode });
    let read = 0;
    while (read < e.size && !out.destroyed && !sink.destroyed) {
      // A fresh buffer per write: the tar stream keeps a reference until it has sent it.
      const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, e.size - read));
      const { bytesRead } = await fh.read(buf, 0, buf.length, read);
      if (bytesRead === 0) break;
      read += bytesRead;
      if (!sink.write(buf.subarray(0, bytesRead))) await drained(sink);
    }
    if (out.destroyed) return;
    const now = (await fh.stat()).size;
    if (read !== e.size || now !== e.size) throw changedSize(root, e, now);
    sink.end(undefined);
    await done;
  } finally {
    await fh.close();
  }
}

function changedSize(root: string, e: PackEntry & { kind: 'file' }, now: number): Error {
  return new Error(`cannot pack ${join(root, e.path)}: it changed size while being packed (${e.size} → ${now} bytes)`);
}

type Sink = ReturnType<Pack['entry']>;

/** Adds an entry; `done` settles when tar-stream has taken all of it (at once for bodiless ones). */
function entry(tar: Pack, header: Parameters<Pack['entry']>[0]): { sink: Sink; done: Promise<void> } {
  let sink!: Sink;
  const done = new Promise<void>((resolve, reject) => {
    sink = tar.entry(header, (err) => (err ? reject(err) : resolve()));
  });
  // Settled even when the caller gives up on the entry (packing stopped): never unhandled.
  done.catch(() => undefined);
  return { sink, done };
}


/**
 * Packs a directory into a gzipped tar for a deploy: the selection of pack-selection.ts, in
 * byte order, with normalised headers (mtime 0, uid/gid 0, no owner names, modes 0755/0644),
 * so the same tree always gives the same bytes (and the same digest) on the same Node version.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { createGzip, type Gzip } from 'node:zlib';
import { pack as tarPack, type Pack } from 'tar-stream';
import { planPack, type PackEntry, type PackSelectionOptions } from './pack-selection.js';

export interface PackOptions extends PackSelectionOptions {
  /** gzip level, 0–9 (default 6, zlib's). */
  readonly gzipLevel?: number;
  /** Stops packing: the stream is destroyed with the signal's reason. */
  readonly signal?: AbortSignal;
}

const READ_CHUNK = 64 * 1024;
const EPOCH = new Date(0);

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
  const out = createGzip({ level: opts.gzipLevel ?? 6 });
  const tar = tarPack();
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

/** Copies the tar into the gzip stream, waiting whenever the consumer is behind. */
async function pump(tar: Pack, out: Gzip): Promise<void> {
  for await (const chunk of tar as AsyncIterable<Buffer>) {
    if (out.destroyed) return;
    if (!out.write(chunk)) await drained(out);
  }
  if (!out.destroyed) out.end();
}

async function fill(tar: Pack, dir: string, opts: PackSelectionOptions, out: Gzip): Promise<void> {
  const plan = await planPack(dir, opts);
  for (const e of plan.entries) {
    if (out.destroyed) return;
    await addEntry(tar, plan.root, e, out);
  }
  tar.finalize();
}

async function addEntry(tar: Pack, root: string, e: PackEntry, out: Gzip): Promise<void> {
  const common = { name: e.path, mtime: EPOCH, uid: 0, gid: 0, uname: '', gname: '' };
  if (e.kind === 'dir') return entry(tar, { ...common, type: 'directory', mode: 0o755 }).done;
  if (e.kind === 'symlink') return entry(tar, { ...common, type: 'symlink', linkname: e.target, mode: 0o777 }).done;
  // O_NOFOLLOW: a file swapped for a link since the walk is not followed out of the tree.
  const fh = await open(join(root, e.path), constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const { sink, done } = entry(tar, { ...common, type: 'file', size: e.size, mode: e.executable ? 0o755 : 0o644 });
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
    if (read !== e.size || now !== e.size) throw new Error(`cannot pack ${join(root, e.path)}: it changed size while being packed (${e.size} → ${now} bytes)`);
    sink.end(undefined);
    await done;
  } finally {
    await fh.close();
  }
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

/** Resolves on 'drain', or when the stream closes (destroyed: the caller checks). */
function drained(s: Sink | Gzip): Promise<void> {
  const stream = s as unknown as Writable;
  // Destroyed already: its 'close' has been (or is being) emitted and will not come again.
  if (stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

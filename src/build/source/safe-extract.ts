/**
 * Strict extraction of an application's source archive (a tar, plain or gzipped) into a
 * staging dir. The archive comes from a user, so every entry is checked before it is written
 * (see entry-name.ts and entry-writer.ts), the input is metered while it is inflated (see
 * archive-input.ts), and any failure removes everything the extraction wrote: the
 * destination is left exactly as it was found, and nothing outside it is ever touched.
 */
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { extract as tarExtract, type Extract } from 'tar-stream';
import { InvalidArgumentError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { openArchiveInput, type ArchiveInput } from './archive-input.js';
import { archiveFailure } from './archive-failure.js';
import { EntryWriter, escapeReason } from './entry-writer.js';
import { resolveLimits, type ExtractLimits } from './extract-limits.js';
import { SourceRejectedError } from './source-errors.js';
import { TreeWriter } from './tree-writer.js';
import { drained } from '../../util/drained.js';

/**
 * File data queued for the writer thread and not yet on disk, at most: 32 files of up to 1 MiB
 * (entry-writer.ts) — enough to keep the writer busy while the parser goes on, and a fixed cost
 * whatever the archive's size.
 */
const MAX_QUEUED_BYTES = 32 << 20;

export interface ExtractOptions {
  /** Overrides of `DEFAULT_EXTRACT_LIMITS`. */
  readonly limits?: Partial<ExtractLimits>;
  /** Stops the extraction (and removes what it wrote); it rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Told about a clean-up that failed after a failed extraction. */
  readonly logger?: Logger;
}

export interface ExtractResult {
  /** Everything that is not a directory: regular files, hardlinks and symlinks. */
  readonly files: number;
  /** Directories, implicit ones (parents the archive did not list) included; not the root. */
  readonly dirs: number;
  /** Bytes of regular-file data in the tree (hardlinked data counted once). */
  readonly bytes: number;
  /** Every path in the tree, relative, '/'-separated, in byte order (implicit parents included). */
  readonly entries: string[];
  /** `sha256:<hex>` of the input bytes as received (compressed, when gzipped). */
  readonly digest: string;
}

/**
 * Extracts `input` into `destDir`, which is created (with its parents) or must be an empty
 * directory. Refuses the archive with SOURCE_REJECTED (status 400) naming the entry and the
 * reason; fails with INVALID_ARGUMENT for a destination that is not empty; passes the input's
 * own errors (and the file system's) through unchanged. The input is consumed: it is read to
 * its end on success and destroyed on any failure.
 *
 * @example
 * const result = await extractSource(createReadStream('app.tgz'), '/var/lib/jetsaga/staging/b-1/src');
 * // { files: 12, dirs: 3, bytes: 48213, entries: ['Procfile', 'app.toml', ...], digest: 'sha256:…' }
 */
export async function extractSource(input: Readable, destDir: string, opts: ExtractOptions = {}): Promise<ExtractResult> {
  const root = resolve(destDir);
  let undo: () => Promise<void>;
  let limits: ExtractLimits;
  try {
    limits = resolveLimits(opts.limits);
    opts.signal?.throwIfAborted();
    undo = await prepareDestination(root);
  } catch (err) {
    input.destroy();
    await finished(input).catch(() => undefined);
    throw err;
  }
  const run = new Extraction(input, root, limits, opts.signal);
  try {
    return await run.run();
  } catch (err) {
    run.stop();
    // The caller gets control back only once the input has let go of its descriptor.
    await finished(input).catch(() => undefined);
    await undo().catch((cleanupError: unknown) =>
      (opts.logger ?? silentLogger).error({ err: cleanupError, destDir: root }, 'could not remove a failed extraction'),
    );
    throw err;
  }
}

/**
 * Creates `root` or checks that it is an empty directory; returns what puts it back as found
 * (removes what `mkdir -p` created, or empties the directory again).
 */
async function prepareDestination(root: string): Promise<() => Promise<void>> {
  const st = await lstat(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (st === undefined) {
    const first = await mkdir(root, { recursive: true });
    return () => rm(first ?? root, { recursive: true, force: true });
  }
  if (!st.isDirectory()) throw new InvalidArgumentError(`extraction destination ${root} exists and is not a directory`, { destDir: root });
  if ((await readdir(root)).length > 0) throw new InvalidArgumentError(`extraction destination ${root} is not empty`, { destDir: root });
  return async () => {
    for (const name of await readdir(root)) await rm(join(root, name), { recursive: true, force: true });
  };
}

/**
 * One extraction: a producer feeding the tar parser, this consumer checking its entries, and a
 * TreeWriter carrying out the writes they call for on a worker thread.
 */
class Extraction {
  readonly #writer: EntryWriter;
  readonly #fs: TreeWriter;
  // Names are read one char per byte so that their UTF-8 can be checked (see entry-name.ts);
  // tar-stream's types leave this option out.
  readonly #parser: Extract = tarExtract({ filenameEncoding: 'latin1' } as Parameters<typeof tarExtract>[0]);
  #archive: ArchiveInput | undefined;
  #failure: { error: unknown } | undefined;
  #onAbort: (() => void) | undefined;

  constructor(
    private readonly input: Readable,
    root: string,
    private readonly limits: ExtractLimits,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.#fs = new TreeWriter({
      maxQueuedBytes: MAX_QUEUED_BYTES,
      onError: (error) => {
        // A write that failed fails the extraction, which stops as it would on a rejection.
        this.#fail(error);
        this.stop();
      },
    });
    this.#writer = new EntryWriter(root, limits, this.#fs);
  }

  async run(): Promise<ExtractResult> {
    if (this.signal) {
      this.#onAbort = () => {
        this.#fail(this.signal!.reason);
        this.stop();
      };
      this.signal.addEventListener('abort', this.#onAbort, { once: true });
      // Aborted while the destination was being prepared: the event has already fired.
      if (this.signal.aborted) this.#onAbort();
    }
    try {
      return await this.#run();
    } catch (err) {
      // An abort or a limit hit while the input was still being opened surfaces here as a
      // consequence (a stream closed under a read): report the first failure, not the last.
      this.#fail(err);
      // Nothing may be written once the caller starts removing what was: skip what is still
      // queued and wait for the writer to let go.
      this.#fs.stop();
      await this.#fs.close();
      throw this.#explain(this.#failure!.error);
    } finally {
      if (this.#onAbort) this.signal?.removeEventListener('abort', this.#onAbort);
    }
  }

  async #run(): Promise<ExtractResult> {
    const archive = (this.#archive = await openArchiveInput(this.input, this.limits, () => this.#writer.lastEntry));
    const producing = this.#produce(archive);
    try {
      for await (const entry of this.#parser) {
        if (this.#failure) break;
        await this.#writer.write(entry);
      }
    } catch (err) {
      this.#fail(err);
    }
    if (this.#failure) this.stop();
    await producing;
    // Every queued write done (or the first one that failed reported) before the tree is
    // described: the result stands for what is on disk.
    await this.#fs.close();
    if (this.#failure) throw this.#explain(this.#failure.error);
    this.signal?.throwIfAborted();
    return this.#finish(archive);
  }

  /** Feeds the tar parser, respecting its backpressure; records the first failure. */
  async #produce(archive: ArchiveInput): Promise<void> {
    const parser = this.#parser;
    try {
      for await (const chunk of archive.tarBytes) {
        if (this.#failure || parser.destroyed) break;
        if (!parser.write(chunk)) await drained(parser);
      }
      // streamx types require an argument; undefined writes nothing.
      if (!this.#failure && !parser.destroyed) parser.end(undefined);
    } catch (err) {
      this.#fail(err);
      parser.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #finish(archive: ArchiveInput): ExtractResult {
    const { stats } = archive;
    const writer = this.#writer;
    if (stats.inputBytes === 0) throw new SourceRejectedError(null, 'empty input: not a tar archive');
    // A tar ends with zero blocks; without them, an archive cut exactly between two entries
    // would look complete.
    if (stats.archiveBytes < writer.lastEntryEnd + 512) {
      throw new SourceRejectedError(writer.lastEntry, 'archive truncated: no end-of-archive blocks after the last entry');
    }
    // A symlink checked when it was written may lead elsewhere once later entries exist
    // (a missing component that became a symlink): check them all against the final tree.
    for (const [path, target] of writer.model.symlinks()) {
      const where = writer.model.resolveLink(path, target);
      if (where.kind === 'escapes') throw new SourceRejectedError(path, `${escapeReason(target, where.via)} once the whole archive is extracted`);
      if (where.kind === 'loop') throw new SourceRejectedError(path, 'symlink loop once the whole archive is extracted');
    }
    const { files, dirs, bytes, paths } = writer.model.summary();
    return { files, dirs, bytes, entries: paths, digest: archive.digest() };
  }

  /** The first failure wins: later ones are consequences (streams torn down after it). */
  #fail(error: unknown): void {
    this.#failure ??= { error };
  }

  /** What the caller sees: rejections as they are, the input's own errors unchanged, the rest explained. */
  #explain(error: unknown): unknown {
    if (error instanceof SourceRejectedError) return error;
    const archive = this.#archive;
    if (archive && archive.inputError() === error) return error;
    if (this.signal?.aborted && error === this.signal.reason) return error;
    return archiveFailure(error, {
      lastEntry: this.#writer.lastEntry,
      gzip: archive?.stats.gzip ?? false,
      archiveBytes: archive?.stats.archiveBytes ?? 0,
    });
  }

  /** Tears the streams down and skips the writes still queued (idempotent); awaits in `run` then settle. */
  stop(): void {
    this.#fs.stop();
    this.#archive?.destroy();
    this.input.destroy();
    this.#parser.destroy(null);
  }
}


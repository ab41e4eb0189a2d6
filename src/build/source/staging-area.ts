/**
 * Per-build staging dirs: `<root>/<buildId>/src/` holds the extracted source, and
 * `<root>/<buildId>/staged.json` — written last, atomically — says it is complete. A receive
 * step that runs again (a retry, a recovery after a crash) finds the marker and reuses the
 * tree without reading the source again; a dir without a consistent marker is a crashed
 * extraction, wiped and redone from the durable source (`open`), long after the upload.
 *
 * Removals that fail are recorded under the root and retried later (retryPendingCleanups), so
 * an undo never fails a saga over a busy file, and nothing is forgotten on the disk.
 *
 * One process per root: calls for the same build are serialised in this process only.
 * The marker proves completeness across process crashes; the extracted files are not fsynced,
 * so after a power loss a marker may describe files whose data did not reach the disk.
 */
import { lstat, mkdir, readdir, rm, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { isValidSagaId, assertSagaId } from '../../journal/saga-id.js';
import { silentLogger, type Logger } from '../../log.js';
import { readJsonFile, writeFileAtomic } from './atomic-file.js';
import type { ExtractLimits } from './extract-limits.js';
import { KeyedLock } from './keyed-lock.js';
import { describeError, PendingCleanups } from './pending-cleanups.js';
import { extractSource } from './safe-extract.js';
import { SourceCorruptError } from './source-errors.js';

/** A staged build's source, as `ensure` returns it: small JSON, fit for a step's output. */
export interface StagedSource {
  /** The extracted tree: `<root>/<buildId>/src`. */
  readonly dir: string;
  /** `sha256:<hex>` of the archive the tree came from. */
  readonly digest: string;
  /** Files, hardlinks and symlinks (see ExtractResult). */
  readonly files: number;
  readonly bytes: number;
  /** True when a complete staged tree was found and nothing was read. */
  readonly reused: boolean;
}

export interface EnsureOptions {
  /** The archive's expected digest: a staged tree of another digest is redone, and an archive of another digest refused (SOURCE_CORRUPT). */
  readonly digest?: string;
  readonly limits?: Partial<ExtractLimits>;
  readonly signal?: AbortSignal;
}

/** What `remove` did: removed it, found nothing, or failed and recorded it for a later retry. */
export type RemoveOutcome =
  | { readonly buildId: string; readonly status: 'removed' | 'absent' }
  | { readonly buildId: string; readonly status: 'pending'; readonly error: { readonly code?: string; readonly message: string } };

/** One build under the root, as `list` shows it. */
export interface StagedBuild {
  readonly buildId: string;
  /** `staged`: complete (a consistent marker); `partial`: an extraction that did not finish, or a removal half done. */
  readonly state: 'staged' | 'partial';
  readonly digest?: string;
  readonly files?: number;
  readonly bytes?: number;
  /** Its removal failed and is recorded for a retry. */
  readonly pendingCleanup: boolean;
}

export interface StagingAreaOptions {
  /** Removes a build's dir (default: `rm -rf`). A seam for tests and for platforms with their own rules. */
  readonly removeDir?: (path: string) => Promise<void>;
}

/** The pending clean-ups record, under the root. Its name has a '.', which no build id has. */
export const PENDING_CLEANUPS_FILE = 'pending-cleanups.json';
const MARKER_FILE = 'staged.json';
const SOURCE_DIR = 'src';

const MarkerSchema = z.object({
  version: z.literal(1),
  buildId: z.string(),
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  files: z.number().int().nonnegative(),
  dirs: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  entries: z.array(z.string()),
});
type Marker = z.infer<typeof MarkerSchema>;

export class StagingArea {
  /** The staging root, absolute. */
  readonly root: string;
  readonly #logger: Logger;
  readonly #removeDir: (path: string) => Promise<void>;
  readonly #locks = new KeyedLock();
  readonly #pending: PendingCleanups;

  constructor(root: string, logger: Logger = silentLogger, opts: StagingAreaOptions = {}) {
    this.root = resolve(root);
    this.#logger = logger;
    this.#removeDir = opts.removeDir ?? ((path) => rm(path, { recursive: true, force: true }));
    this.#pending = new PendingCleanups(join(this.root, PENDING_CLEANUPS_FILE), logger);
  }

  /** Where a build's source is (or would be) staged. */
  dirOf(buildId: string): string {
    assertSagaId(buildId);
    return join(this.root, buildId, SOURCE_DIR);
  }

  /**
   * The build's staged source: reused if complete, else extracted afresh from `open()` into a
   * wiped dir. Idempotent; concurrent calls for one build run one after the other (the second
   * reuses the first's tree). On failure nothing of the build is left under the root.
   *
   * @example
   * const staged = await staging.ensure(ctx.sagaId, () => sources.get(input.source), { signal: ctx.signal });
   */
  async ensure(buildId: string, open: () => Promise<Readable>, opts: EnsureOptions = {}): Promise<StagedSource> {
    assertSagaId(buildId);
    return this.#locks.run(buildId, async () => {
      const buildDir = join(this.root, buildId);
      const srcDir = join(buildDir, SOURCE_DIR);
      const log = this.#logger.child({ buildId });
      const marker = await this.#completeMarker(buildId);
      if (marker && (opts.digest === undefined || marker.digest === opts.digest)) {
        log.info({ digest: marker.digest, files: marker.files }, 'staged source reused');
        return { dir: srcDir, digest: marker.digest, files: marker.files, bytes: marker.bytes, reused: true };
      }
      if (await exists(buildDir)) log.warn({ digest: marker?.digest }, 'wiping a staged dir that is incomplete or of another digest');
      await rm(buildDir, { recursive: true, force: true });
      await this.#pending.drop(buildId);
      await mkdir(buildDir, { recursive: true });
      try {
        const result = await extractSource(await open(), srcDir, { limits: opts.limits, signal: opts.signal, logger: log });
        if (opts.digest !== undefined && result.digest !== opts.digest) {
          throw new SourceCorruptError(buildId, `the archive's digest is ${result.digest}, ${opts.digest} expected`);
        }
        const written: Marker = { version: 1, buildId, ...result };
        await writeFileAtomic(join(buildDir, MARKER_FILE), JSON.stringify(written));
        log.info({ digest: result.digest, files: result.files, bytes: result.bytes }, 'source staged');
        return { dir: srcDir, digest: result.digest, files: result.files, bytes: result.bytes, reused: false };
      } catch (err) {
        await rm(buildDir, { recursive: true, force: true }).catch((cleanupError: unknown) =>
          log.error({ err: cleanupError }, 'could not remove a failed staging dir'),
        );
        throw err;
      }
    });
  }

  /** The staged tree's paths (relative, sorted), or null unless the build is completely staged. */
  async entries(buildId: string): Promise<string[] | null> {
    assertSagaId(buildId);
    return (await this.#completeMarker(buildId))?.entries ?? null;
  }

  /**
   * Removes the build's staged dir. Idempotent. A removal that fails is not thrown: it is
   * recorded under the root and reported as `pending`, for `retryPendingCleanups`. The marker
   * goes first, so a half-removed dir is never taken for a complete one.
   */
  async remove(buildId: string): Promise<RemoveOutcome> {
    assertSagaId(buildId);
    return this.#locks.run(buildId, async () => {
      const buildDir = join(this.root, buildId);
      const existed = await exists(buildDir);
      try {
        await this.#removeBuildDir(buildDir);
        await this.#pending.drop(buildId);
      } catch (err) {
        await this.#pending.record(buildId, err);
        this.#logger.warn({ buildId, err }, 'staged dir not removed; recorded for a later retry');
        return { buildId, status: 'pending', error: describeError(err) };
      }
      return { buildId, status: existed ? 'removed' : 'absent' };
    });
  }

  /** Retries every recorded removal; says which went and which still fail (and why). */
  async retryPendingCleanups(): Promise<{ removed: string[]; failing: { buildId: string; code?: string; message: string }[] }> {
    const removed: string[] = [];
    const failing: { buildId: string; code?: string; message: string }[] = [];
    for (const { buildId } of await this.#pending.list()) {
      const outcome = isValidSagaId(buildId) ? await this.remove(buildId) : undefined;
      if (outcome === undefined) await this.#pending.drop(buildId);
      else if (outcome.status === 'pending') failing.push({ buildId, ...outcome.error });
      else removed.push(buildId);
    }
    if (removed.length || failing.length) this.#logger.info({ removed: removed.length, failing: failing.length }, 'pending staging clean-ups retried');
    return { removed, failing };
  }

  /** The builds under the root, complete or not, in byte order of their ids. */
  async list(): Promise<StagedBuild[]> {
    let names: string[];
    try {
      names = (await readdir(this.root, { withFileTypes: true })).filter((d) => d.isDirectory() && isValidSagaId(d.name)).map((d) => d.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const pending = new Set((await this.#pending.list()).map((p) => p.buildId));
    const out: StagedBuild[] = [];
    for (const buildId of names.sort()) {
      const m = await this.#completeMarker(buildId);
      out.push(
        m
          ? { buildId, state: 'staged', digest: m.digest, files: m.files, bytes: m.bytes, pendingCleanup: pending.has(buildId) }
          : { buildId, state: 'partial', pendingCleanup: pending.has(buildId) },
      );
    }
    return out;
  }

  /** The build's marker if it is there and agrees with the tree; otherwise undefined. */
  async #completeMarker(buildId: string): Promise<Marker | undefined> {
    const buildDir = join(this.root, buildId);
    let raw: unknown;
    try {
      raw = await readJsonFile(join(buildDir, MARKER_FILE));
    } catch (err) {
      this.#logger.warn({ buildId, err }, 'staging marker unreadable');
      return undefined;
    }
    if (raw === undefined) return undefined;
    const parsed = MarkerSchema.safeParse(raw);
    if (!parsed.success) return undefined;
    const m = parsed.data;
    if (m.buildId !== buildId || m.entries.length !== m.files + m.dirs) return undefined;
    const st = await lstat(join(buildDir, SOURCE_DIR)).catch(() => undefined);
    return st?.isDirectory() ? m : undefined;
  }

  async #removeBuildDir(buildDir: string): Promise<void> {
    try {
      await unlink(join(buildDir, MARKER_FILE));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    }
    await this.#removeDir(buildDir);
  }
}

async function exists(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined)) !== undefined;
}

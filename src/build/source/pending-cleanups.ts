/**
 * Staged builds whose removal failed (a file still in use, a permission refused), kept in one
 * small JSON file under the staging root so that a later pass — in this process or the next —
 * removes them instead of leaving them on the disk for ever.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../../log.js';
import { readJsonFile, writeFileAtomic } from './atomic-file.js';
import { KeyedLock } from './keyed-lock.js';

/** One build whose staged dir is still to be removed. */
export interface PendingCleanup {
  readonly buildId: string;
  /** When the first removal failed (ISO 8601). */
  readonly since: string;
  /** Failed removals so far. */
  readonly attempts: number;
  readonly lastError: { readonly code?: string; readonly message: string };
}

const RecordSchema = z.object({
  version: z.literal(1),
  builds: z.record(
    z.string(),
    z.object({
      since: z.string(),
      attempts: z.number().int().nonnegative(),
      lastError: z.object({ code: z.string().optional(), message: z.string() }),
    }),
  ),
});
type PendingRecord = z.infer<typeof RecordSchema>;

export class PendingCleanups {
  readonly #lock = new KeyedLock();

  constructor(
    /** The record's file. */
    readonly path: string,
    private readonly logger: Logger,
  ) {}

  /** Every pending removal, oldest first. */
  async list(): Promise<PendingCleanup[]> {
    const record = await this.#read();
    return Object.entries(record.builds)
      .map(([buildId, p]) => ({ buildId, ...p }))
      .sort((a, b) => a.since.localeCompare(b.since) || a.buildId.localeCompare(b.buildId));
  }

  /** Records (or counts another) failed removal of `buildId`. */
  async record(buildId: string, error: unknown): Promise<void> {
    await this.#update((builds) => {
      const previous = builds[buildId];
      builds[buildId] = {
        since: previous?.since ?? new Date().toISOString(),
        attempts: (previous?.attempts ?? 0) + 1,
        lastError: describeError(error),
      };
      return true;
    });
  }

  /** Forgets `buildId` (removed at last, or staged again). */
  async drop(buildId: string): Promise<void> {
    await this.#update((builds) => {
      if (!(buildId in builds)) return false;
      delete builds[buildId];
      return true;
    });
  }

  /** Read-modify-write under one lock; `change` says whether there is anything to write. */
  async #update(change: (builds: PendingRecord['builds']) => boolean): Promise<void> {
    await this.#lock.run('record', async () => {
      const record = await this.#read();
      if (!change(record.builds)) return;
      await mkdir(dirname(this.path), { recursive: true });
      await writeFileAtomic(this.path, `${JSON.stringify(record, null, 2)}\n`);
    });
  }

  async #read(): Promise<PendingRecord> {
    let raw: unknown;
    try {
      raw = await readJsonFile(this.path);
    } catch (err) {
      // Written atomically, so only a hand edit breaks it; the leftover dirs still show in
      // StagingArea.list(), so start afresh rather than block every clean-up.
      this.logger.warn({ err, path: this.path }, 'pending clean-ups record unreadable; starting a new one');
      return { version: 1, builds: {} };
    }
    if (raw === undefined) return { version: 1, builds: {} };
    const parsed = RecordSchema.safeParse(raw);
    if (parsed.success) return parsed.data;
    this.logger.warn({ path: this.path, issues: parsed.error.issues.length }, 'pending clean-ups record malformed; starting a new one');
    return { version: 1, builds: {} };
  }
}

/** An error as the record keeps it: its code (if it has one) and message. */
export function describeError(error: unknown): { code?: string; message: string } {
  const e = error as { code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  return typeof e?.code === 'string' ? { code: e.code, message } : { message };
}

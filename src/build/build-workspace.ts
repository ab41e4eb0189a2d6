/**
 * A build's files on this host: its staged source, the record that onbuild ran on that tree,
 * and its image work dir, all under `<staging root>/<saga id>/`, so removing the staged build
 * removes them together (and a fresh extraction, which wipes that dir, drops the record too).
 *
 * Every path derives from this host's staging area and the saga id, never from a path a step
 * journaled: a step may run on another coordinator than the one that ran the step before it
 * (a takeover), or on this one after its data dir was wiped, and then what the journal names
 * is on another disk or gone. What is missing here is made again: the source is extracted
 * again from the source store (checked against the digest the receive step journaled), and
 * the steps re-run onbuild and the image build on it (build-tree.ts).
 */
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { TerminalError } from '../errors.js';
import { readJsonFile, writeFileAtomic } from './source/atomic-file.js';
import { KeyedLock } from './source/keyed-lock.js';
import type { SourceStore, StagedSource, StagingArea } from './source/index.js';

/** Which stored source a build stages (the build's input `source`). */
export interface SourceRef {
  readonly name: string;
  readonly digest?: string;
}

/** What a completed onbuild left in the staged tree it ran on. */
export interface OnbuildRecord {
  /** The staged archive's digest: the tree the commands ran on. */
  readonly digest: string;
  readonly commands: readonly string[];
  readonly ran: ReadonlyArray<{ readonly command: string; readonly exitCode: number; readonly ms: number }>;
}

/** Beside the staging marker, outside the staged tree (so never in the image). */
const ONBUILD_FILE = 'onbuild.json';
const IMAGE_DIR = 'image';

const OnbuildRecordSchema = z.object({
  version: z.literal(1),
  buildId: z.string(),
  digest: z.string(),
  commands: z.array(z.string()),
  ran: z.array(z.object({ command: z.string(), exitCode: z.number(), ms: z.number() })),
});

export class BuildWorkspace {
  readonly #locks = new KeyedLock();

  constructor(
    readonly staging: StagingArea,
    private readonly sources: SourceStore,
  ) {}

  /**
   * The build's staged source on this host: the complete tree of `digest` if it is there, else
   * extracted afresh from the source store (a source replaced since — another digest — fails
   * with SOURCE_CORRUPT, terminal: this build's source is gone). Idempotent and serialised per
   * build by the staging area.
   *
   * `source` absent (a step input journaled before steps named it): only a tree already here
   * can be used.
   */
  async staged(buildId: string, want: { source?: SourceRef; digest?: string; signal?: AbortSignal }): Promise<StagedSource> {
    const { source } = want;
    const open = source
      ? () => this.sources.get(source.name)
      : () => Promise.reject(new TerminalError(`the staged source of build ${buildId} is not on this host and the step's input does not name its source; deploy again`, { code: 'SOURCE_MISSING' }));
    return this.staging.ensure(buildId, open, { digest: want.digest ?? source?.digest, signal: want.signal });
  }

  /** Where the build's image is (or would be) built on this host. */
  imageDir(buildId: string): string {
    return join(dirname(this.staging.dirOf(buildId)), IMAGE_DIR);
  }

  /**
   * Runs `task` alone among this build's tasks on this host: onbuild and the image build
   * write into the build's dirs, and a rebuild must not interleave with another.
   */
  exclusive<T>(buildId: string, task: () => Promise<T>): Promise<T> {
    return this.#locks.run(buildId, task);
  }

  /** The record of onbuild's run on the tree staged now, or undefined (never ran on it here). */
  async onbuildRecord(buildId: string, digest: string): Promise<OnbuildRecord | undefined> {
    const raw = await readJsonFile(this.#onbuildFile(buildId)).catch(() => undefined);
    const parsed = OnbuildRecordSchema.safeParse(raw);
    if (!parsed.success || parsed.data.buildId !== buildId || parsed.data.digest !== digest) return undefined;
    const { commands, ran } = parsed.data;
    return { digest, commands, ran };
  }

  /** Records that onbuild completed on the staged tree (written atomically, after the run). */
  async recordOnbuild(buildId: string, record: OnbuildRecord): Promise<void> {
    await writeFileAtomic(this.#onbuildFile(buildId), JSON.stringify({ version: 1, buildId, ...record }));
  }

  #onbuildFile(buildId: string): string {
    return join(dirname(this.staging.dirOf(buildId)), ONBUILD_FILE);
  }
}

/**
 * A sandbox's output on disk, bounded: lines are appended to `<path>` until it would pass
 * `maxBytes`, then it is renamed to `<path>.1` (replacing the older one) and a new file is
 * started. So a chatty or looping app uses at most 2 × maxBytes, and the newest output is
 * always kept.
 *
 * Writes are queued and flushed in order by one loop. `write` answers false while more than
 * `highWaterBytes` wait, and `onDrain` says when to go on: the caller pauses the app's pipes
 * meanwhile, so the app waits on its own writes (as under a terminal or a container log
 * driver) instead of our memory growing. A failing disk is logged once and the output dropped:
 * losing log lines must not stop the app.
 */
import { link, open, rename, rm, type FileHandle } from 'node:fs/promises';
import type { Logger } from '../log.js';

export interface CappedLogFileOptions {
  /** Largest size of one file; default 1 MiB. */
  maxBytes?: number;
  /** Queued bytes above which `write` answers false; default 256 KiB. */
  highWaterBytes?: number;
  logger?: Logger;
}

export const DEFAULT_LOG_MAX_BYTES = 1024 * 1024;
const DEFAULT_HIGH_WATER = 256 * 1024;

export class CappedLogFile {
  readonly path: string;
  private readonly maxBytes: number;
  private readonly highWater: number;
  private readonly logger: Logger | undefined;
  private fh: FileHandle | undefined;
  private size: number;
  private queue: Buffer[] = [];
  private queued = 0;
  private flushing: Promise<void> | undefined;
  private drainWaiters: (() => void)[] = [];
  private failed = false;
  private closed = false;

  private constructor(path: string, fh: FileHandle, size: number, options: CappedLogFileOptions) {
    this.path = path;
    this.fh = fh;
    this.size = size;
    this.maxBytes = Math.max(1, options.maxBytes ?? DEFAULT_LOG_MAX_BYTES);
    this.highWater = options.highWaterBytes ?? DEFAULT_HIGH_WATER;
    this.logger = options.logger;
  }

  /** Opens `path` for appending (created with mode 0600: app output may hold secrets). */
  static async open(path: string, options: CappedLogFileOptions = {}): Promise<CappedLogFile> {
    const fh = await open(path, 'a', 0o600);
    try {
      const { size } = await fh.stat();
      return new CappedLogFile(path, fh, size, options);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Queues one line (a newline is added). False means: wait for `onDrain` before writing more. */
  write(line: string): boolean {
    if (this.closed || this.failed) return true;
    let buf = Buffer.from(`${line}\n`);
    // One line larger than a whole file keeps its end, which is where errors usually are.
    if (buf.length > this.maxBytes) buf = buf.subarray(buf.length - this.maxBytes);
    this.queue.push(buf);
    this.queued += buf.length;
    this.flushing ??= this.flush();
    return this.queued <= this.highWater;
  }

  /** Calls `fn` once the queue is at or below the high-water mark (at once if it is). */
  onDrain(fn: () => void): void {
    if (this.queued <= this.highWater) fn();
    else this.drainWaiters.push(fn);
  }

  /** Writes what is queued, then closes. Idempotent; later writes are ignored. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flushing;
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close().catch(() => undefined);
    this.release();
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.takeBatch();
        if (this.size > 0 && this.size + batch.length > this.maxBytes) await this.rotate();
        await this.fh!.write(batch);
        this.size += batch.length;
        this.queued -= batch.length;
        if (this.queued <= this.highWater) this.release();
      }
    } catch (err) {
      this.failed = true;
      this.queue = [];
      this.queued = 0;
      this.logger?.warn({ err, path: this.path }, 'sandbox log file cannot be written; its output is dropped from now on');
    } finally {
      this.flushing = undefined;
      this.release();
    }
  }

  /** As many queued lines as fit in what is left of the current file (at least one). */
  private takeBatch(): Buffer {
    const room = this.size > 0 ? this.maxBytes - this.size : this.maxBytes;
    const take: Buffer[] = [];
    let bytes = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (take.length > 0 && bytes + next.length > room) break;
      take.push(next);
      bytes += next.length;
      this.queue.shift();
      if (bytes >= room) break;
    }
    return take.length === 1 ? take[0]! : Buffer.concat(take, bytes);
  }

  /**
   * The full file becomes `<path>.1` and a new empty one takes its name, without a moment in
   * which `<path>` is missing for a reader (`tail -F`, a log viewer): the old file gets its
   * second name by a hard link, and the new one replaces the first by an atomic rename.
   */
  private async rotate(): Promise<void> {
    await this.fh!.close();
    this.fh = undefined;
    const previous = `${this.path}.1`;
    const fresh = `${this.path}.new`;
    await rm(previous, { force: true });
    try {
      await link(this.path, previous);
    } catch {
      // A file system without hard links: a plain rename, with its brief gap.
      await rename(this.path, previous);
    }
    this.fh = await open(fresh, 'w', 0o600);
    await rename(fresh, this.path);
    this.size = 0;
  }

  private release(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const fn of waiters) fn();
  }
}

/**
 * The bytes of an archive on their way to the tar parser: hashed as received, inflated if they
 * start with gzip's magic bytes, and metered, so that an archive that inflates too far (a gzip
 * bomb, or gigabytes of zero blocks) is stopped while it is still being read, long before the
 * disk sees it.
 */
import { createHash } from 'node:crypto';
import { pipeline, Readable } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';
import { InvalidArgumentError } from '../../errors.js';
import type { ExtractLimits } from './extract-limits.js';
import { SourceRejectedError } from './source-errors.js';

const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** Counters of an archive being read; final once `tarBytes` has ended. */
export interface ArchiveStats {
  /** Bytes received from the input (compressed, when gzipped). */
  inputBytes: number;
  /** Bytes of the tar stream (after inflating). */
  archiveBytes: number;
  gzip: boolean;
}

export interface ArchiveInput {
  /** The tar stream. Rejects with a SourceRejectedError when a limit is exceeded. */
  readonly tarBytes: AsyncIterable<Buffer>;
  readonly stats: Readonly<ArchiveStats>;
  /** `sha256:<hex>` of every input byte so far. */
  digest(): string;
  /** The input's own error, if reading it failed: not the archive's fault, so not a rejection. */
  inputError(): unknown;
  /** Stops reading: destroys the input and the inflater (idempotent). */
  destroy(): void;
}

/**
 * Starts reading `input`: waits for its first two bytes to tell gzip from a plain tar.
 * `currentEntry` names the entry being read, for the message of a limit hit mid-entry.
 */
export async function openArchiveInput(input: Readable, limits: ExtractLimits, currentEntry: () => string | null): Promise<ArchiveInput> {
  const hash = createHash('sha256');
  const stats: ArchiveStats = { inputBytes: 0, archiveBytes: 0, gzip: false };
  let failed: { error: unknown } | undefined;
  const it = input[Symbol.asyncIterator]() as AsyncIterator<unknown>;

  const next = async (): Promise<Buffer | undefined> => {
    let r: IteratorResult<unknown>;
    try {
      r = await it.next();
    } catch (error) {
      failed ??= { error };
      throw error;
    }
    if (r.done) return undefined;
    const chunk = toBuffer(r.value);
    hash.update(chunk);
    stats.inputBytes += chunk.length;
    return chunk;
  };

  const head: Buffer[] = [];
  let headLength = 0;
  while (headLength < GZIP_MAGIC.length) {
    const chunk = await next();
    if (chunk === undefined) break;
    head.push(chunk);
    headLength += chunk.length;
  }
  const first = Buffer.concat(head);
  stats.gzip = first.length >= 2 && first[0] === GZIP_MAGIC[0] && first[1] === GZIP_MAGIC[1];

  async function* raw(): AsyncGenerator<Buffer> {
    if (first.length > 0) yield first;
    for (;;) {
      const chunk = await next();
      if (chunk === undefined) return;
      yield chunk;
    }
  }

  let source: Readable | undefined;
  let gunzip: Gunzip | undefined;
  let inflated: AsyncIterable<Buffer>;
  if (stats.gzip) {
    // Byte mode with a small buffer: read-ahead would count input bytes the inflater has not
    // consumed yet, and make the measured ratio look better than it is.
    source = Readable.from(raw(), { objectMode: false, highWaterMark: 16 * 1024 });
    gunzip = createGunzip();
    // Errors reach the reader through gunzip (pipeline destroys it with the first error).
    inflated = pipeline(source, gunzip, () => undefined);
  } else {
    inflated = raw();
  }

  async function* metered(): AsyncGenerator<Buffer> {
    for await (const chunk of inflated) {
      stats.archiveBytes += chunk.length;
      if (stats.archiveBytes > limits.maxArchiveBytes) {
        throw new SourceRejectedError(currentEntry(), `archive is larger than ${limits.maxArchiveBytes} bytes (uncompressed)`);
      }
      if (stats.gzip && stats.archiveBytes > limits.ratioGraceBytes && stats.archiveBytes > limits.maxCompressionRatio * stats.inputBytes) {
        throw new SourceRejectedError(
          currentEntry(),
          `compression ratio over ${limits.maxCompressionRatio}:1 (${stats.archiveBytes} bytes inflated from ${stats.inputBytes}): a gzip bomb?`,
        );
      }
      yield chunk;
    }
  }

  return {
    tarBytes: metered(),
    stats,
    digest: () => `sha256:${hash.copy().digest('hex')}`,
    inputError: () => failed?.error,
    destroy() {
      input.destroy();
      source?.destroy();
      gunzip?.destroy();
    },
  };
}

function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  // A string chunk means an encoding was set on the stream: its bytes are gone already.
  throw new InvalidArgumentError('the source input must yield bytes (Buffer/Uint8Array), not strings: do not set an encoding on it');
}

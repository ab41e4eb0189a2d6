/**
 * Limits of one extraction. Every one of them bounds what a hostile archive can cost the host
 * (disk, inodes, CPU, memory) before it is refused, so each is checked before the bytes it
 * guards are written, not after.
 */
import { InvalidArgumentError } from '../../errors.js';

export interface ExtractLimits {
  /** Sum of the sizes of all regular files written (duplicates included). Checked against each header's declared size before its body is read. */
  readonly maxTotalBytes: number;
  /** Entries in the archive, of any kind (directories, links and duplicates count). */
  readonly maxEntries: number;
  /** Bytes (UTF-8) of an entry's normalised relative path, and of a symlink's target. */
  readonly maxPathLength: number;
  /** Bytes (UTF-8) of one path component (Linux's NAME_MAX is 255). */
  readonly maxNameLength: number;
  /**
   * Decompressed bytes per compressed input byte, for gzipped input. Measured on the tar stream
   * as it is inflated (headers, padding and trailing zeros count, so a bomb of zeros that
   * extracts to nothing is caught too), once more than `ratioGraceBytes` have been inflated.
   */
  readonly maxCompressionRatio: number;
  /** Inflated bytes below which the ratio is not checked: tiny archives compress absurdly well. */
  readonly ratioGraceBytes: number;
  /** Bytes of the (decompressed) tar stream as a whole: headers, padding and trailing blocks included. */
  readonly maxArchiveBytes: number;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/**
 * Generous for an application's source (dependencies are installed by the build, not
 * uploaded), small enough that one build cannot fill the staging disk.
 */
export const DEFAULT_EXTRACT_LIMITS: ExtractLimits = Object.freeze({
  maxTotalBytes: GiB,
  maxEntries: 100_000,
  maxPathLength: 4096,
  maxNameLength: 255,
  maxCompressionRatio: 200,
  ratioGraceBytes: MiB,
  // The file bytes plus 1.5 KiB of headers and padding per entry at the most.
  maxArchiveBytes: GiB + 100_000 * 1536 + MiB,
});

/** The defaults overridden by `partial`; INVALID_ARGUMENT for a limit that is not a positive number. */
export function resolveLimits(partial: Partial<ExtractLimits> = {}): ExtractLimits {
  const limits = { ...DEFAULT_EXTRACT_LIMITS, ...partial };
  for (const [key, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !(value > 0) || Number.isNaN(value)) {
      throw new InvalidArgumentError(`extract limit ${key} must be a positive number, got ${String(value)}`, { limit: key });
    }
  }
  return limits;
}

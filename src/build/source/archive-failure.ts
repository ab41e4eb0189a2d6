/**
 * Turns what the tar parser (tar-stream) and the inflater (zlib) throw into a rejection that
 * says what is wrong with the archive and where: "not a tar", "truncated after entry x",
 * "corrupt gzip stream". Both libraries throw plain Errors, told apart by message and code.
 */
import { SourceRejectedError } from './source-errors.js';

export interface ArchiveFailureContext {
  /** The last entry the parser handed over, if any. */
  readonly lastEntry: string | null;
  readonly gzip: boolean;
  /** Bytes of the tar stream read so far. */
  readonly archiveBytes: number;
}

/** tar-stream 3.x messages (extract.js, headers.js). */
const TAR_MESSAGES: readonly [RegExp, string][] = [
  [/^Invalid tar header\. Maybe the tar is corrupted/, 'bad header checksum'],
  [/^Invalid tar header: unknown format/, 'header of an unknown format (not ustar/gnu)'],
  [/^Header exceeds max size/, 'a long-name or PAX header larger than 4 MiB'],
  [/^Invalid header$/, 'header with an invalid size field'],
];

/**
 * The rejection for `error`, or `error` itself when it is not about the archive's bytes (a
 * file-system error, a bug): those must not be blamed on the user's input.
 */
export function archiveFailure(error: unknown, ctx: ArchiveFailureContext): unknown {
  if (!(error instanceof Error)) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const where = ctx.lastEntry;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    const reason = code === 'Z_BUF_ERROR' ? `gzip stream truncated (${error.message})` : `corrupt gzip stream (${error.message})`;
    return new SourceRejectedError(where, reason, { cause: error });
  }
  if (error.message === 'Unexpected end of data') {
    if (where === null) {
      return new SourceRejectedError(
        null,
        ctx.archiveBytes < 512
          ? `not a tar archive: ${ctx.archiveBytes} bytes${ctx.gzip ? ' after inflating' : ''}, less than one tar header`
          : 'not a tar archive: it ends inside its first header',
        { cause: error },
      );
    }
    return new SourceRejectedError(where, 'archive truncated (it ends inside this entry or the header after it)', { cause: error });
  }
  for (const [pattern, what] of TAR_MESSAGES) {
    if (!pattern.test(error.message)) continue;
    if (where === null) return new SourceRejectedError(null, `not a tar archive${ctx.gzip ? ' inside the gzip stream' : ''} (${what})`, { cause: error });
    return new SourceRejectedError(where, `corrupt archive after this entry (${what})`, { cause: error });
  }
  return error;
}

/**
 * Errors of source intake. A rejected archive is the user's input, not a failure of jetsaga:
 * retrying the same bytes cannot succeed, so it is terminal (400) and names the entry and the
 * reason. An unknown source name is a 404 like any other unknown thing.
 */
import { SagaError, TerminalError } from '../../errors.js';

/** Stable codes of source intake (an `as const` object plus a union, never an enum). */
export const SourceErrorCode = {
  SourceRejected: 'SOURCE_REJECTED',
  UnknownSource: 'UNKNOWN_SOURCE',
  SourceChanged: 'SOURCE_CHANGED',
  SourceCorrupt: 'SOURCE_CORRUPT',
} as const;
export type SourceErrorCode = (typeof SourceErrorCode)[keyof typeof SourceErrorCode];

/**
 * The archive was refused: an entry that could escape the staging dir, a type that is not
 * allowed, a limit exceeded, or bytes that are not a (complete) tar. `details.entry` is the
 * entry's name as best it can be shown (`null` when the archive failed before its first
 * entry); `details.reason` says why in a few words.
 */
export class SourceRejectedError extends TerminalError {
  override name = 'SourceRejectedError';
  readonly entry: string | null;
  readonly reason: string;

  constructor(entry: string | null, reason: string, options: { cause?: unknown } = {}) {
    super(entry === null ? `source rejected: ${reason}` : `source rejected at entry ${JSON.stringify(entry)}: ${reason}`, {
      code: SourceErrorCode.SourceRejected,
      status: 400,
      details: { entry, reason },
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.entry = entry;
    this.reason = reason;
  }
}

/** No source is stored under this name (never put, or deleted). */
export class UnknownSourceError extends SagaError {
  override name = 'UnknownSourceError';
  constructor(readonly sourceName: string) {
    super(SourceErrorCode.UnknownSource, `unknown source "${sourceName}"`, { status: 404, details: { name: sourceName } });
  }
}

/** Whether `err` is a rejection of the archive (by code, so it also holds after JSON). */
export function isSourceRejected(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === SourceErrorCode.SourceRejected;
}

/**
 * The source was replaced or deleted while it was being read (its chunks are gone). Reading it
 * again gets the current one.
 */
export class SourceChangedError extends SagaError {
  override name = 'SourceChangedError';
  constructor(sourceName: string, detail: string) {
    super(SourceErrorCode.SourceChanged, `source "${sourceName}" changed while being read: ${detail}`, {
      status: 409,
      retryable: true,
      details: { name: sourceName },
    });
  }
}

/** The bytes read do not match the size or digest stored with the source. */
export class SourceCorruptError extends SagaError {
  override name = 'SourceCorruptError';
  constructor(sourceName: string, detail: string) {
    super(SourceErrorCode.SourceCorrupt, `source "${sourceName}" is corrupt: ${detail}`, { status: 500, details: { name: sourceName } });
  }
}

/**
 * Typed errors with stable codes. A code survives every boundary (JSON, NATS headers,
 * process exit) where `instanceof` does not, so callers should branch on `code`.
 */

/** Stable error codes. An `as const` object plus a union, never an enum. */
export const ErrorCode = {
  Internal: 'INTERNAL',
  InvalidArgument: 'INVALID_ARGUMENT',
  InvalidEvent: 'INVALID_EVENT',
  UnknownSaga: 'UNKNOWN_SAGA',
  UnknownMachine: 'UNKNOWN_MACHINE',
  MachineVersionMismatch: 'MACHINE_VERSION_MISMATCH',
  SagaExists: 'SAGA_EXISTS',
  SagaFenced: 'SAGA_FENCED',
  NotOwner: 'NOT_OWNER',
  JournalConflict: 'JOURNAL_CONFLICT',
  KvConflict: 'KV_CONFLICT',
  JournalUnavailable: 'JOURNAL_UNAVAILABLE',
  CorruptEntry: 'CORRUPT_ENTRY',
  ServerTooOld: 'SERVER_TOO_OLD',
  StepFailed: 'STEP_FAILED',
  StepAborted: 'STEP_ABORTED',
  UnknownStep: 'UNKNOWN_STEP',
  Closed: 'CLOSED',
  Timeout: 'TIMEOUT',
  BootGraphInvalid: 'BOOT_GRAPH_INVALID',
  UnknownDependency: 'UNKNOWN_DEPENDENCY',
  DependencyUnavailable: 'DEPENDENCY_UNAVAILABLE',
  EntryTooLarge: 'ENTRY_TOO_LARGE',
  StepOutputTooLarge: 'STEP_OUTPUT_TOO_LARGE',
  StepOutputInvalid: 'STEP_OUTPUT_INVALID',
  SagaStarting: 'SAGA_STARTING',
  OwnerInUse: 'OWNER_IN_USE',
  NatsUnreachable: 'NATS_UNREACHABLE',
  NatsAuthFailed: 'NATS_AUTH_FAILED',
  LeaseLapsed: 'LEASE_LAPSED',
  RegistryUnavailable: 'REGISTRY_UNAVAILABLE',
  RegistryRejected: 'REGISTRY_REJECTED',
  ImageCorrupt: 'IMAGE_CORRUPT',
  /** A child saga ended compensated or cancelled: the step that ran it failed. */
  ChildFailed: 'CHILD_FAILED',
  /** A child saga is blocked (an undo of its own keeps failing): its parent blocks on it. */
  ChildBlocked: 'CHILD_BLOCKED',
  /** A child saga's id is taken by a saga of another machine, input or parent. */
  ChildConflict: 'CHILD_CONFLICT',
  /** A child saga was already released (completed): it can no longer be compensated. */
  ChildReleased: 'CHILD_RELEASED',
  /** A child saga is driven by another live coordinator, which this one cannot send to. */
  ChildElsewhere: 'CHILD_ELSEWHERE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface SagaErrorOptions extends ErrorOptions {
  /** HTTP-like status used on the wire (400 bad input, 404 unknown, 409 conflict, 503 retry later). */
  status?: number;
  /** Whether retrying the same operation may succeed. */
  retryable?: boolean;
  /** JSON-safe structured details. */
  details?: Record<string, unknown>;
}

/** Base class of every error jetsaga raises on purpose. */
export class SagaError extends Error {
  override name = 'SagaError';
  readonly code: string;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: SagaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? 500;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }

  toJSON(): SerializedError {
    return serializeError(this);
  }
}

export class InvalidArgumentError extends SagaError {
  override name = 'InvalidArgumentError';
  constructor(message: string, details?: Record<string, unknown>) {
    super(ErrorCode.InvalidArgument, message, { status: 400, details });
  }
}

export class InvalidEventError extends SagaError {
  override name = 'InvalidEventError';
  constructor(message: string, options: SagaErrorOptions = {}) {
    super(ErrorCode.InvalidEvent, message, { status: 400, ...options });
  }
}

export class UnknownSagaError extends SagaError {
  override name = 'UnknownSagaError';
  constructor(readonly sagaId: string) {
    super(ErrorCode.UnknownSaga, `unknown saga "${sagaId}"`, { status: 404, details: { sagaId } });
  }
}

export class UnknownMachineError extends SagaError {
  override name = 'UnknownMachineError';
  constructor(machine: string, known: readonly string[]) {
    super(
      ErrorCode.UnknownMachine,
      `unknown machine "${machine}"` + (known.length ? ` (known: ${known.join(', ')})` : ' (no machines registered)'),
      { status: 404, details: { machine, known: [...known] } },
    );
  }
}

export class MachineVersionMismatchError extends SagaError {
  override name = 'MachineVersionMismatchError';
  constructor(sagaId: string, machine: string, journaled: number, available: readonly number[]) {
    super(
      ErrorCode.MachineVersionMismatch,
      `saga "${sagaId}" was started on ${machine}@${journaled}, but this coordinator has ` +
        `${available.map((v) => `${machine}@${v}`).join(', ') || 'no version of it'}; ` +
        `register ${machine}@${journaled} or declare resumesFrom: [${journaled}] on a newer version`,
      { status: 409, details: { sagaId, machine, journaled, available: [...available] } },
    );
  }
}

/**
 * A start names an id that exists with another machine, or with another input: starts are
 * idempotent by id only for the same request.
 */
export class SagaExistsError extends SagaError {
  override name = 'SagaExistsError';
  constructor(sagaId: string, existingMachine: string, requestedMachine: string, reason: 'machine' | 'input' = 'machine') {
    super(
      ErrorCode.SagaExists,
      reason === 'machine'
        ? `saga "${sagaId}" already exists as ${existingMachine}, not ${requestedMachine}`
        : `saga "${sagaId}" already exists (${existingMachine}) with another input; a start is idempotent only for the same input`,
      { status: 409, details: { sagaId, existingMachine, requestedMachine, reason } },
    );
  }
}

/** Another writer appended to the saga first: this copy must stop driving it. */
export class SagaFencedError extends SagaError {
  override name = 'SagaFencedError';
  constructor(sagaId: string, cause?: unknown) {
    super(ErrorCode.SagaFenced, `saga "${sagaId}" is driven by another coordinator; this copy stopped`, {
      status: 409,
      cause,
      details: { sagaId },
    });
  }
}

export class NotOwnerError extends SagaError {
  override name = 'NotOwnerError';
  constructor(sagaId: string, owner: string) {
    super(ErrorCode.NotOwner, `saga "${sagaId}" is owned by live coordinator "${owner}"`, {
      status: 409,
      retryable: true,
      details: { sagaId, owner },
    });
  }
}

/** Optimistic append failed: the subject's last sequence is not the one expected. */
export class JournalConflictError extends SagaError {
  override name = 'JournalConflictError';
  constructor(
    readonly sagaId: string,
    readonly expectedLastSeq: number,
    readonly actualLastSeq: number | undefined,
    cause?: unknown,
  ) {
    super(
      ErrorCode.JournalConflict,
      `journal conflict on saga "${sagaId}": expected last seq ${expectedLastSeq}, actual ${actualLastSeq ?? 'unknown'}`,
      { status: 412, cause, details: { sagaId, expectedLastSeq, actualLastSeq } },
    );
  }
}

/** A compare-and-set on a key failed: the key exists, or changed since the revision read. */
export class KvConflictError extends SagaError {
  override name = 'KvConflictError';
  constructor(
    readonly bucket: string,
    readonly key: string,
    readonly expectedRevision: number | undefined,
    cause?: unknown,
  ) {
    super(
      ErrorCode.KvConflict,
      expectedRevision === undefined
        ? `key "${key}" already exists in ${bucket}`
        : `key "${key}" in ${bucket} changed since revision ${expectedRevision}`,
      { status: 409, cause, details: { bucket, key, expectedRevision } },
    );
  }
}

/** An entry larger than the journal takes (the server's max payload): never journaled. */
export class EntryTooLargeError extends SagaError {
  override name = 'EntryTooLargeError';
  constructor(
    readonly sagaId: string,
    readonly bytes: number,
    readonly maxBytes: number,
    what = 'entry',
  ) {
    super(ErrorCode.EntryTooLarge, `${what} of saga "${sagaId}" is ${bytes} bytes; the journal takes at most ${maxBytes}`, {
      status: 413,
      details: { sagaId, bytes, maxBytes },
    });
  }
}

/**
 * Another start of the same saga id is under way on a live coordinator and has not journaled
 * the saga yet: retry shortly (starts are idempotent by id).
 */
export class SagaStartingError extends SagaError {
  override name = 'SagaStartingError';
  constructor(sagaId: string, owner: string) {
    super(ErrorCode.SagaStarting, `saga "${sagaId}" is being started by coordinator "${owner}"; retry shortly`, {
      status: 503,
      retryable: true,
      details: { sagaId, owner },
    });
  }
}

/** Another live process runs under this coordinator name. */
export class OwnerInUseError extends SagaError {
  override name = 'OwnerInUseError';
  constructor(owner: string, holder: { incarnation: string; host?: string; pid?: number; renewedAt?: number }) {
    const where = [holder.host && `host ${holder.host}`, holder.pid && `pid ${holder.pid}`].filter(Boolean).join(', ');
    super(
      ErrorCode.OwnerInUse,
      `coordinator name "${owner}" is in use by a live process (incarnation ${holder.incarnation}${where ? `, ${where}` : ''}) that keeps renewing its lease; ` +
        'stop it first or choose another name (--owner / JETSAGA_OWNER)',
      { status: 409, details: { owner, ...holder } },
    );
  }
}

export class JournalUnavailableError extends SagaError {
  override name = 'JournalUnavailableError';
  constructor(message: string, cause?: unknown) {
    super(ErrorCode.JournalUnavailable, message, { status: 503, retryable: true, cause });
  }
}

/**
 * No NATS server answered at any of the given URLs: the connection was refused, nothing
 * answered like a NATS server in time, or the host name does not resolve. `details.reason`
 * says which, per URL.
 */
export class NatsUnreachableError extends SagaError {
  override name = 'NatsUnreachableError';
  constructor(
    readonly servers: readonly string[],
    readonly reason: string,
    cause?: unknown,
  ) {
    super(ErrorCode.NatsUnreachable, `cannot reach NATS at ${servers.join(', ')}: ${reason}`, {
      status: 503,
      retryable: true,
      cause,
      details: { servers: [...servers], reason },
    });
  }
}

/**
 * The server was reached but refused the connection: credentials refused, or the TLS handshake
 * failed. Not retryable: the same credentials get the same answer.
 */
export class NatsAuthError extends SagaError {
  override name = 'NatsAuthError';
  constructor(
    readonly servers: readonly string[],
    readonly reason: string,
    hint?: string,
    cause?: unknown,
  ) {
    super(ErrorCode.NatsAuthFailed, `NATS at ${servers.join(', ')} ${reason}${hint ? `: ${hint}` : ''}`, {
      status: 503,
      retryable: false,
      cause,
      details: { servers: [...servers], reason },
    });
  }
}

export class CorruptEntryError extends SagaError {
  override name = 'CorruptEntryError';
  constructor(message: string, details?: Record<string, unknown>) {
    super(ErrorCode.CorruptEntry, message, { status: 500, details });
  }
}

export class ClosedError extends SagaError {
  override name = 'ClosedError';
  constructor(what = 'runtime') {
    super(ErrorCode.Closed, `${what} is closed`, { status: 503 });
  }
}

/**
 * What a step throws to say how it failed. `retryable: true` lets the saga's retry policy
 * try again; anything else goes straight to compensation.
 */
export class StepError extends SagaError {
  override name = 'StepError';
  constructor(message: string, options: SagaErrorOptions & { code?: string } = {}) {
    super(options.code ?? ErrorCode.StepFailed, message, { status: 500, ...options });
  }
}

/** Convenience: a failure worth retrying (a timeout, a 503, a reset connection). */
export class RetryableError extends StepError {
  override name = 'RetryableError';
  constructor(message: string, options: Omit<SagaErrorOptions, 'retryable'> & { code?: string } = {}) {
    super(message, { ...options, retryable: true });
  }
}

/** Convenience: a failure that retrying cannot fix (bad input, a policy refusal). */
export class TerminalError extends StepError {
  override name = 'TerminalError';
  constructor(message: string, options: Omit<SagaErrorOptions, 'retryable'> & { code?: string } = {}) {
    super(message, { ...options, retryable: false });
  }
}

/**
 * A step cannot proceed because a boot dependency (e.g. `registry`) is unavailable. In a step
 * that declares `needs: ['registry']` it marks the dependency lost at once and the saga waits
 * for the dependency's readiness event before its next attempt, instead of backing off blind.
 */
export class DependencyUnavailableError extends StepError {
  override name = 'DependencyUnavailableError';
  constructor(readonly dependency: string, message: string, options: Omit<SagaErrorOptions, 'retryable' | 'details'> = {}) {
    super(message, { ...options, code: ErrorCode.DependencyUnavailable, retryable: true, status: 503, details: { dependency } });
  }
}

/** The JSON form of an error, as journaled and sent on the wire. */
export interface SerializedError {
  name: string;
  code: string;
  message: string;
  retryable: boolean;
  status?: number;
  details?: Record<string, unknown>;
}

/** Turns anything thrown into an Error; call it at every catch boundary. */
export function ensureError(value: unknown): Error {
  if (value instanceof Error) return value;
  if (typeof value === 'string') return new Error(value);
  try {
    return new Error(JSON.stringify(value));
  } catch {
    return new Error(String(value));
  }
}

/**
 * `JSON.stringify(new Error())` is `{}`; this keeps what a reader needs. Errors that are not
 * SagaErrors are treated as retryable unless they say otherwise: an unexpected exception in a
 * step (a reset socket, a bug fixed by a redeploy) is more often transient than not.
 */
export function serializeError(value: unknown): SerializedError {
  const err = ensureError(value);
  if (err instanceof SagaError) {
    const out: SerializedError = {
      name: err.name,
      code: err.code,
      message: err.message,
      retryable: err.retryable,
      status: err.status,
    };
    if (err.details) out.details = jsonSafe(err.details);
    return out;
  }
  const anyErr = err as Error & { code?: unknown; retryable?: unknown };
  return {
    name: err.name || 'Error',
    code: typeof anyErr.code === 'string' ? anyErr.code : ErrorCode.Internal,
    message: err.message,
    retryable: typeof anyErr.retryable === 'boolean' ? anyErr.retryable : true,
  };
}

/** Rebuilds a SagaError from its serialised form (code and details preserved). */
export function deserializeError(data: SerializedError): SagaError {
  const e = new SagaError(data.code, data.message, {
    status: data.status ?? 500,
    retryable: data.retryable,
    details: data.details,
  });
  e.name = data.name;
  return e;
}

export function isSerializedError(value: unknown): value is SerializedError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SerializedError).code === 'string' &&
    typeof (value as SerializedError).message === 'string'
  );
}

function jsonSafe(value: Record<string, unknown>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
  } catch {
    return { unserializable: true };
  }
}

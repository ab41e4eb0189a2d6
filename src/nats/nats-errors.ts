/**
 * Classifies what the v3 NATS client throws, so that callers retry only what can succeed on a
 * retry and turn 10071 into their own conflict errors. Names are compared as well as classes
 * because some classes (JetStreamNotEnabled) are not exported by the public entry points.
 */
import { JetStreamApiError } from '@nats-io/jetstream';
import { PermissionViolationError, RequestError, TimeoutError } from '@nats-io/transport-node';

/** "wrong last sequence: N": an expectation on a subject's (or stream's) last seq failed. */
export const WRONG_LAST_SEQUENCE = 10071;

/** 503s that retrying will not cure: the stream is full or the server is out of resources. */
const PERMANENT_503 = new Set([10077 /* max msgs */, 10078 /* max bytes */, 10047 /* insufficient storage */, 10023 /* insufficient resources */]);

export function isWrongLastSequence(err: unknown): err is JetStreamApiError {
  return err instanceof JetStreamApiError && err.code === WRONG_LAST_SEQUENCE;
}

/** The actual last sequence the server reported in a 10071, if it said. */
export function actualLastSequence(err: JetStreamApiError): number | undefined {
  const m = /wrong last sequence: (\d+)/.exec(err.apiError().description ?? err.message);
  return m ? Number(m[1]) : undefined;
}

/**
 * A failure whose outcome may still change: a timeout (the request may have landed), no
 * responders (a restart or a leader election; the client calls it "jetstream is not enabled"),
 * a dropped connection, or a 503 while the cluster settles.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof TimeoutError) return true;
  // A RequestError wraps whatever ended the request; only a permissions refusal is final.
  if (err instanceof RequestError) return !(err.cause instanceof PermissionViolationError);
  if (!(err instanceof Error)) return false;
  if (err.name === 'JetStreamNotEnabled' || err.name === 'TimeoutError') return true;
  if (err instanceof JetStreamApiError) return err.status === 503 && !PERMANENT_503.has(err.code);
  return false;
}

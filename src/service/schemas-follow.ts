/**
 * The follow endpoints (`builds.follow`, `sagas.follow`): what they take, their immediate reply,
 * and the messages a coordinator then publishes to the client's inbox. Requests are strict like
 * every other request; the reply and the messages are checked loosely (newer coordinators may
 * add fields).
 */
import { z } from 'zod';
import { SAGA_ID_PATTERN } from '../journal/saga-id.js';

/** Heartbeat period bounds: a client picks within them (default 2 s). */
export const HEARTBEAT_MS = { default: 2_000, min: 250, max: 30_000 } as const;

/**
 * The inbox a coordinator streams to must be an `_INBOX.…` subject (no wildcards): a follow
 * must never make a coordinator publish on another subject, e.g. a journal subject that a
 * JetStream stream would capture as an entry.
 */
export const FOLLOW_INBOX_PATTERN = /^_INBOX(?:\.[A-Za-z0-9_-]+)+$/;

const sagaId = z.string().regex(SAGA_ID_PATTERN, 'a saga id is 1–128 of [A-Za-z0-9_-]');
const inbox = z.string().max(256).regex(FOLLOW_INBOX_PATTERN, 'an inbox is _INBOX.<token>[.<token>…] with tokens of [A-Za-z0-9_-]');
const heartbeatMs = z.int().min(HEARTBEAT_MS.min).max(HEARTBEAT_MS.max);

export const BuildsFollowRequest = z.strictObject({
  id: sagaId,
  /** Only progress records after this stream sequence (resuming: the last one received). */
  afterSeq: z.int().min(0).optional(),
  inbox,
  heartbeatMs: heartbeatMs.optional(),
});
export const SagasFollowRequest = z.strictObject({
  id: sagaId,
  /** Only journal entries numbered above this (resuming: the last one received). */
  afterEntry: z.int().min(0).optional(),
  inbox,
  heartbeatMs: heartbeatMs.optional(),
});

/** The immediate reply: the stream is open; messages follow on the inbox. */
export const FollowReply = z.looseObject({ id: z.string(), heartbeatMs: z.number(), coordinator: z.string() });

const errorBody = z.looseObject({ code: z.string(), message: z.string(), status: z.number(), retryable: z.boolean() });
/** One message on the inbox. */
export const FollowMessage = z.discriminatedUnion('kind', [
  z.looseObject({ kind: z.literal('item'), item: z.unknown() }),
  /** Nothing new for `heartbeatMs`: the coordinator and the stream are alive. */
  z.looseObject({ kind: z.literal('heartbeat'), at: z.number(), lastSeq: z.number().nullable() }),
  /** The build's result / the saga's terminal status was reached: nothing follows. */
  z.looseObject({ kind: z.literal('end'), status: z.string() }),
  /** The stream failed on the coordinator's side; `retryable` says whether following again may work. */
  z.looseObject({ kind: z.literal('error'), error: errorBody }),
]);
export type FollowMessage = z.infer<typeof FollowMessage>;

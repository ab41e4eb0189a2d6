/**
 * The dedupe id of a journal append: `<sagaId>:<entry no>:<copy>`.
 *
 * JetStream checks a `Nats-Msg-Id` before the expected sequence, so an append is acknowledged
 * as a "duplicate" of any earlier message with the same id. The id therefore names the loaded
 * copy of the saga that writes it (`copy` is unique per copy, across processes and within
 * one), not just the entry number: two copies never share an id, and a duplicate ack can only
 * be this copy's own earlier attempt — which the journal still verifies byte for byte.
 */
export function msgIdOf(sagaId: string, no: number, copy: string): string {
  return `${sagaId}:${no}:${copy}`;
}

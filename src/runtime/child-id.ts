/**
 * The id of a child saga: a pure function of its parent's id and the step that runs it, so a
 * recovered parent — or a retry of the step after a transient error — attaches to the child it
 * started instead of starting a second one.
 *
 * Not derived from the step's idempotency key (`<sagaId>:<seq>:<invokeId>`): that key changes
 * with every attempt, and an attempt that failed after the child had started (NATS away while
 * it waited) would leave that child running, unowned, while the retry started another. A kit
 * saga enters each step's state once per run (retries aside), so the step name is unique.
 *
 * The id keeps the parent's id and the step readable where they fit, and ends in a hash of both
 * so that ids cut to the 128-character limit, or spelt alike (`a-b` + `c`, `a` + `b-c`), never
 * meet. Only the characters saga ids (and NATS subject tokens) allow are used.
 */
import { createHash } from 'node:crypto';
import { assertSagaId } from '../journal/saga-id.js';

const MAX_ID = 128;
const HASH_CHARS = 10;

export function childSagaId(parentId: string, step: string): string {
  assertSagaId(parentId);
  const hash = createHash('sha256').update(`${parentId}\n${step}`).digest('hex').slice(0, HASH_CHARS);
  const readable = `${parentId}-${step}`.slice(0, MAX_ID - HASH_CHARS - 1);
  return `${readable}-${hash}`;
}

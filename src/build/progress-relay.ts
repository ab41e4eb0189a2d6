/**
 * Writes a build's phase changes, step failures and final result to its progress stream, from
 * the runtime's transition notices: after the fact (the journal already holds the transition),
 * by whichever process drives the saga — a build recovered with no client attached keeps
 * reporting, and a client that re-attaches reads it all from the start.
 */
import type { StateValue } from 'xstate';
import { isSerializedError } from '../errors.js';
import { isTerminalStatus } from '../journal/index-store.js';
import type { Logger } from '../log.js';
import { sleep } from '../nats/retry.js';
import type { Runtime } from '../runtime/runtime.js';
import type { TransitionNotice } from '../runtime/types.js';
import type { ProgressLog } from './progress.js';

const ERROR_EVENT = 'xstate.error.actor.';

/** `prepare.image.push.waiting, prepare.config.settings.running` for a state value. */
export function describeState(state: StateValue): string {
  if (typeof state === 'string') return state;
  const leaves: string[] = [];
  for (const [key, sub] of Object.entries(state)) {
    if (sub === undefined) continue;
    for (const leaf of describeState(sub as StateValue).split(', ')) leaves.push(`${key}.${leaf}`);
  }
  return leaves.join(', ');
}

/**
 * Relays notices of sagas of `machines` (a machine id or several: builds and rollbacks) to
 * `progress` until the returned function is called; sagas of other machines have no progress.
 */
export function relayProgress(runtime: Runtime, progress: ProgressLog, machines: string | readonly string[], logger: Logger): () => void {
  const covered = new Set(typeof machines === 'string' ? [machines] : machines);
  // One chain per build: its events reach the stream in the order of its transitions.
  const chains = new Map<string, Promise<void>>();
  return runtime.subscribe((notice: TransitionNotice) => {
    if (!covered.has(notice.machine)) return;
    const next = (chains.get(notice.sagaId) ?? Promise.resolve())
      .then(() => relay(runtime, progress, notice))
      .catch((err: unknown) => logger.warn({ err: (err as Error).message, sagaId: notice.sagaId }, 'progress not written'));
    chains.set(notice.sagaId, next);
    void next.then(() => {
      if (chains.get(notice.sagaId) === next) chains.delete(notice.sagaId);
    });
  });
}

async function relay(runtime: Runtime, progress: ProgressLog, n: TransitionNotice): Promise<void> {
  const event = n.event as { type?: string; error?: unknown } | undefined;
  if (event?.type?.startsWith(ERROR_EVENT) && isSerializedError(event.error)) {
    const step = event.type.slice(ERROR_EVENT.length);
    await progress.publish(n.sagaId, { kind: 'error', step, code: event.error.code, message: event.error.message });
  }
  await progress.publish(n.sagaId, { kind: 'phase', phase: describeState(n.state), status: n.status, state: n.state });
  if (isTerminalStatus(n.status)) await relayResult(runtime, progress, n);
}

/** Attempts at the `result` record, 0.5 s … 8 s apart (about 30 s in all). */
const RESULT_ATTEMPTS = 6;

/**
 * The `result` record ends every follower's stream, so it is tried again while NATS is slow or
 * away (a phase line may be lost; the end should not be). Its msgId makes a retry of an
 * attempt that did land a duplicate the stream drops.
 */
async function relayResult(runtime: Runtime, progress: ProgressLog, n: TransitionNotice): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const info = await runtime.get(n.sagaId).catch(() => null);
    if (info && (await progress.publish(n.sagaId, { kind: 'result', status: n.status, output: info.output ?? null }, { msgId: `result.${n.sagaId}.${n.entryNo}` }))) return;
    if (attempt + 1 >= RESULT_ATTEMPTS) throw new Error(`the result record of ${n.sagaId} was not written after ${RESULT_ATTEMPTS} attempts`);
    await sleep(Math.min(8_000, 500 * 2 ** attempt), []);
  }
}

/**
 * The book: what a saga has in flight, folded from the actions `transition()` returns — by
 * the same code live and in replay, so recovery knows exactly which invocations to re-run
 * and which timers to re-arm. It is never read from `snapshot.children`, where every child
 * looks active under the pure functions.
 */
import type { AnyEventObject } from 'xstate';

export interface PendingInvocation {
  /** Invocation id (the invoke `id`); result events name it as `actorId`. */
  readonly id: string;
  /** Name of the step implementation. */
  readonly src: string;
  readonly input: unknown;
  /** `<sagaId>:<entry no of the spawning entry>:<id>`: stable across replays, new on re-entry. */
  readonly key: string;
  /** 1 for the first run of this invocation id since it last succeeded, then 2, 3, ... */
  readonly attempt: number;
}

export interface PendingTimer {
  readonly id: string;
  readonly event: AnyEventObject;
  /** Epoch ms: the arming entry's `at` plus the delay. Kept across restarts. */
  readonly dueAt: number;
  readonly key: string;
}

export interface Book {
  pending: Record<string, PendingInvocation>;
  timers: Record<string, PendingTimer>;
  /** Spawns per invocation id since its last success; the `attempt` of the next spawn. */
  attempts: Record<string, number>;
}

export function emptyBook(): Book {
  return { pending: {}, timers: {}, attempts: {} };
}

export function cloneBook(book: Book): Book {
  return { pending: { ...book.pending }, timers: { ...book.timers }, attempts: { ...book.attempts } };
}

export function invocationKey(sagaId: string, no: number, id: string): string {
  return `${sagaId}:${no}:${id}`;
}

const DONE = 'xstate.done.actor.';
const ERROR = 'xstate.error.actor.';

/** The invocation id a result event reports on, or undefined for other events. */
export function resultActorId(event: AnyEventObject): string | undefined {
  const t = event.type;
  if (t.startsWith(DONE)) return t.slice(DONE.length);
  if (t.startsWith(ERROR)) return t.slice(ERROR.length);
  return undefined;
}

export function isDoneEvent(event: AnyEventObject): boolean {
  return event.type.startsWith(DONE);
}

interface ActionLike {
  readonly type: string;
  readonly params?: unknown;
}

/**
 * Folds one journaled entry into the book, in place. `event` is what the entry consumed
 * (undefined for the init entry); `actions` is what its transition returned.
 */
export function applyEntry(
  book: Book,
  entry: { sagaId: string; no: number; at: number; event: AnyEventObject | undefined; final: boolean },
  actions: readonly ActionLike[],
): void {
  const { event } = entry;
  if (event) {
    const actorId = resultActorId(event);
    if (actorId !== undefined) {
      delete book.pending[actorId];
      if (isDoneEvent(event)) delete book.attempts[actorId];
    }
    const timerId = (event as { timerId?: unknown }).timerId;
    if (typeof timerId === 'string') delete book.timers[timerId];
  }
  for (const action of actions) {
    switch (action.type) {
      case 'xstate.spawnChild': {
        const p = action.params as { id: string; src: unknown; input: unknown };
        const attempt = (book.attempts[p.id] ?? 0) + 1;
        book.attempts[p.id] = attempt;
        book.pending[p.id] = {
          id: p.id,
          src: typeof p.src === 'string' ? p.src : '<inline>',
          input: p.input,
          key: invocationKey(entry.sagaId, entry.no, p.id),
          attempt,
        };
        break;
      }
      case 'xstate.stopChild': {
        const ref = action.params as { id?: string } | undefined;
        if (ref?.id !== undefined) delete book.pending[ref.id];
        break;
      }
      case 'xstate.raise': {
        const p = action.params as { event: AnyEventObject; id?: string; delay?: number };
        // A raise without a delay was already processed inside the same macrostep.
        if (typeof p.delay === 'number') {
          const id = p.id ?? p.event.type;
          book.timers[id] = { id, event: p.event, dueAt: entry.at + p.delay, key: invocationKey(entry.sagaId, entry.no, id) };
        }
        break;
      }
      case 'xstate.cancel': {
        const p = action.params as { sendId: string };
        delete book.timers[p.sendId];
        break;
      }
      default:
        break;
    }
  }
  if (entry.final) {
    book.pending = {};
    book.timers = {};
    book.attempts = {};
  }
}

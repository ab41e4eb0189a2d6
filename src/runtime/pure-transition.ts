/**
 * The pure transition functions, made cheap enough for the hot path.
 *
 * XState's public `transition(machine, snapshot, event)` builds a throw-away actor for every
 * call, and constructing it computes the machine's whole initial state: in a profile of the
 * runtime that was ~30% of its CPU and most of its garbage. Here the inert actor is built once
 * per machine and reused; each call gets a fresh scope whose action executor only collects the
 * actions, exactly as `transition()` does. That uses the 3-argument `machine.transition`, which
 * is internal to XState, so:
 *   - it is used only for machines whose invocations have no `systemId` (the one thing a
 *     shared actor system would remember between calls), else the public functions are used;
 *   - xstate is pinned to an exact version in package.json;
 *   - test/unit/pure-transition.test.ts checks it against the public functions on random runs.
 */
import { isStepLogic } from '../../machines/kit/step-actor.js';
import {
  createActor,
  initialTransition,
  transition,
  type AnyActorScope,
  type AnyEventObject,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type AnyStateNode,
} from 'xstate';

export type TransitionResult = ReturnType<typeof transition>;

export interface PureTransitions {
  readonly fast: boolean;
  initial(input: unknown): TransitionResult;
  next(snapshot: AnyMachineSnapshot, event: AnyEventObject): TransitionResult;
  /** A snapshot from its persisted form, children included, starting nothing. */
  restore(persisted: unknown): AnyMachineSnapshot;
}

const cache = new WeakMap<AnyStateMachine, PureTransitions>();

export function pureTransitions(machine: AnyStateMachine, options: { fast?: boolean } = {}): PureTransitions {
  if (options.fast === false) return publicTransitions(machine);
  let result = cache.get(machine);
  if (!result) {
    result = usesSystemIds(machine.root) ? publicTransitions(machine) : fastTransitions(machine);
    cache.set(machine, result);
  }
  return result;
}

function publicTransitions(machine: AnyStateMachine): PureTransitions {
  return {
    fast: false,
    initial: (input) => initialTransition(machine, input),
    next: (snapshot, event) => transition(machine, snapshot, event),
    // createActor(...).getSnapshot() revives the children too (resolveState would drop them, and
    // with them the stopChild actions that tell the book an invocation was abandoned).
    restore: (persisted) => createActor(machine, { snapshot: persisted as never }).getSnapshot() as AnyMachineSnapshot,
  };
}

function fastTransitions(machine: AnyStateMachine): PureTransitions {
  // Never started: its only use is to be the `self` and `system` of the scopes below.
  const self = createActor(machine);
  const noop = (): void => undefined;
  const scopeFor = (actions: unknown[]): AnyActorScope =>
    ({
      self,
      id: '',
      sessionId: '',
      system: self.system,
      logger: noop,
      defer: noop,
      emit: noop,
      stopChild: noop,
      actionExecutor: (action: unknown) => {
        actions.push(action);
      },
    }) as unknown as AnyActorScope;
  const internal = machine as unknown as {
    transition(s: AnyMachineSnapshot, e: AnyEventObject, scope: AnyActorScope): AnyMachineSnapshot;
    restoreSnapshot(persisted: unknown, scope: AnyActorScope): AnyMachineSnapshot;
  };
  return {
    fast: true,
    initial: (input) => {
      const actions: TransitionResult[1] = [];
      const first = (machine as unknown as { getInitialSnapshot(scope: AnyActorScope, input: unknown): AnyMachineSnapshot }).getInitialSnapshot(
        scopeFor(actions),
        input,
      );
      return [first, actions];
    },
    next: (snapshot, event) => {
      const actions: TransitionResult[1] = [];
      const next = internal.transition(snapshot, event, scopeFor(actions));
      return [next, actions];
    },
    // What createActor(...).getSnapshot() does, without building an actor (and its system) for
    // each snapshot: a bulk recovery restores thousands of them. Step children are not built
    // as actors either (restoredChildren).
    restore: (persisted) => {
      const children = restoredChildren(machine, persisted, self);
      if (!children) return internal.restoreSnapshot(persisted, scopeFor([]));
      const restored = internal.restoreSnapshot({ ...(persisted as object), children: {} }, scopeFor([]));
      (restored as { children: unknown }).children = children;
      return restored;
    },
  };
}

/**
 * A restored snapshot's child that is a step (step-actor.ts): all that transitions and
 * persisting read of a child — its id, src, systemId, sync flag and snapshot — without the
 * actor XState's restore builds for it (a mailbox, a scope, listener sets: ~6 µs and ~4 KB
 * each, half the cost of restoring a saga). Pure transitions never start, stop or message a
 * child (their actions are collected, not executed), and a step's promise logic persists and
 * restores its snapshot unchanged, so this persists exactly as the actor would.
 */
class RestoredStep {
  readonly ref = this;
  constructor(
    readonly id: string,
    readonly src: string,
    readonly systemId: string | undefined,
    readonly _syncSnapshot: boolean | undefined,
    readonly _parent: unknown,
    private readonly snapshot: unknown,
  ) {}

  getSnapshot(): unknown {
    return this.snapshot;
  }

  getPersistedSnapshot(): unknown {
    return this.snapshot;
  }

  /** As an actor serialises itself inside a snapshot. */
  toJSON(): { xstate$$type: number; id: string } {
    return { xstate$$type: 1, id: this.id };
  }
}

interface PersistedChild {
  readonly snapshot?: unknown;
  readonly src?: unknown;
  readonly systemId?: string;
  readonly syncSnapshot?: boolean;
}

/**
 * The children of `persisted` as RestoredSteps, or null when XState must restore them itself:
 * a child that is not a step (a nested machine, an inline actor), or a context that refers to
 * children (XState revives such references into the restored actors).
 */
function restoredChildren(machine: AnyStateMachine, persisted: unknown, parent: unknown): Record<string, RestoredStep> | null {
  const p = persisted as { children?: Record<string, PersistedChild>; context?: unknown } | null;
  if (!p || typeof p !== 'object' || !p.children || typeof p.children !== 'object') return null;
  const actors = (machine.implementations as { actors?: Record<string, unknown> }).actors ?? {};
  const out: Record<string, RestoredStep> = {};
  for (const id of Object.keys(p.children)) {
    const c = p.children[id]!;
    if (typeof c.src !== 'string' || c.src.startsWith('xstate.invoke.') || !isStepLogic(actors[c.src])) return null;
    out[id] = new RestoredStep(id, c.src, c.systemId, c.syncSnapshot, parent, c.snapshot);
  }
  if (refersToActors(p.context)) return null;
  return out;
}

/** Whether a persisted context holds a reference to an actor (as XState persists one: `{ xstate$$type: 1 }`). */
function refersToActors(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if ((value as { xstate$$type?: unknown }).xstate$$type === 1) return true;
  for (const key in value) if (refersToActors((value as Record<string, unknown>)[key])) return true;
  return false;
}

function usesSystemIds(node: AnyStateNode): boolean {
  if (node.invoke.some((inv) => (inv as { systemId?: string }).systemId !== undefined)) return true;
  return Object.values(node.states).some(usesSystemIds);
}

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
    // each snapshot: a bulk recovery restores thousands of them.
    restore: (persisted) => internal.restoreSnapshot(persisted, scopeFor([])),
  };
}

function usesSystemIds(node: AnyStateNode): boolean {
  if (node.invoke.some((inv) => (inv as { systemId?: string }).systemId !== undefined)) return true;
  return Object.values(node.states).some(usesSystemIds);
}

/**
 * The forward steps of a kit-built saga machine, in document order, read from its state tree:
 * the invocations outside `compensating` (each step state invokes its step from a `running`
 * child). A progress bar counts how many of them a saga has entered.
 */
import type { AnyStateMachine } from 'xstate';

interface Node {
  readonly key: string;
  readonly states: Record<string, Node>;
  readonly invoke: ReadonlyArray<{ readonly id: string }>;
}

export function forwardSteps(machine: AnyStateMachine): string[] {
  const out = new Set<string>();
  const visit = (node: Node): void => {
    for (const child of Object.values(node.states)) {
      if (child.key === 'compensating') continue;
      for (const i of child.invoke) out.add(i.id);
      visit(child);
    }
  };
  visit(machine.root as unknown as Node);
  return [...out];
}

/** Every state name on the paths of a state value (`{ prepare: { image: 'push' } }` → prepare, image, push). */
export function stateNames(state: unknown): string[] {
  if (typeof state === 'string') return [state];
  if (typeof state !== 'object' || state === null) return [];
  return Object.entries(state as Record<string, unknown>).flatMap(([key, sub]) => [key, ...stateNames(sub)]);
}

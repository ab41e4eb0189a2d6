/** What a machine says about nesting: the child steps it invokes, and whether it may be a child. */
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { childMachineOf, HELD_STATE } from '../../machines/kit/child-step.js';
import { SagaTag } from '../../machines/kit/tags.js';

/** A step of a machine that runs a child saga. */
export interface ChildStep {
  /** The step (its invocation id). */
  readonly step: string;
  /** The child's machine id. */
  readonly machine: string;
}

const cache = new WeakMap<AnyStateMachine, readonly ChildStep[]>();

/** The child steps `machine` invokes, in document order (computed once per machine). */
export function childStepsOf(machine: AnyStateMachine): readonly ChildStep[] {
  let steps = cache.get(machine);
  if (!steps) {
    const found: ChildStep[] = [];
    const walk = (node: AnyStateNode): void => {
      for (const inv of node.invoke) {
        const child = typeof inv.src === 'string' ? childMachineOf(inv.src) : undefined;
        if (child !== undefined) found.push({ step: inv.id, machine: child });
      }
      for (const s of Object.values(node.states)) walk(s);
    };
    walk(machine.root);
    cache.set(machine, (steps = found));
  }
  return steps;
}

/** Whether `machine` was built to run as a child (`defineSaga({ nestable: true })`). */
export function isNestable(machine: AnyStateMachine): boolean {
  return machine.root.states[HELD_STATE]?.tags.includes(SagaTag.Held) === true;
}

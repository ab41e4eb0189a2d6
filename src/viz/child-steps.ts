/**
 * Which states of a chart run a child saga (a kit step `child: '<machine>'`, see
 * machines/kit/child-step.ts): the state that invokes `child:<machine>` runs it, and the undo
 * state that invokes `child.undo` as `undo.<step>` compensates it. Read from the invocations in
 * the graph, so a chart marks them without knowing the kit's config, and a page can open the
 * child a selected saga started from the state that runs it.
 */
import { CHILD_UNDO_SRC, childMachineOf, undoInvocationId } from '../../machines/kit/child-step.js';
import type { GraphNode } from './graph-types.js';

export interface ChildStepMark {
  /** The parent's step (its invocation id): the key a parent's `children` list names. */
  readonly step: string;
  /** The child's machine. */
  readonly machine: string;
  /** This state is the step's undo (it compensates the child), not the step. */
  readonly undo: boolean;
}

/** State id → the child saga it runs or undoes; states that run none are absent. */
export function childStepMarks(nodes: readonly GraphNode[]): Map<string, ChildStepMark> {
  const marks = new Map<string, ChildStepMark>();
  const byStep = new Map<string, string>();
  for (const n of nodes) {
    for (const i of n.invocations) {
      const machine = childMachineOf(i.src);
      if (machine === undefined) continue;
      marks.set(n.id, { step: i.id, machine, undo: false });
      byStep.set(i.id, machine);
    }
  }
  for (const n of nodes) {
    for (const i of n.invocations) {
      if (i.src !== CHILD_UNDO_SRC) continue;
      const step = [...byStep.keys()].find((s) => undoInvocationId(s) === i.id);
      if (step !== undefined) marks.set(n.id, { step, machine: byStep.get(step)!, undo: true });
    }
  }
  return marks;
}

/**
 * Which state undoes which step, in a saga built with machines/kit/define-saga.ts. The kit gives
 * every step with an undo a state `compensating.undo_<step>` that invokes `undo.<step>`, and runs
 * the step itself from a `running` child of the step's state. Read from the graph (not from the
 * kit's config, which the machine does not keep), so any machine of that shape is recognised and
 * any other simply has no links.
 */
import type { GraphNode, UndoLink } from './graph-types.js';

const COMPENSATING = 'compensating';
const UNDO_STATE_PREFIX = 'undo_';
const UNDO_INVOKE_PREFIX = 'undo.';
/** The kit's child state that invokes a step. */
const RUNNING = 'running';

export function undoLinks(nodes: readonly GraphNode[]): UndoLink[] {
  const root = nodes.find((n) => n.parent === null);
  if (!root) return [];
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const compensating = nodes.find((n) => n.parent === root.id && n.key === COMPENSATING);
  if (!compensating) return [];
  const inside = (n: GraphNode): boolean => {
    for (let p: GraphNode | undefined = n; p; p = p.parent === null ? undefined : byId.get(p.parent)) if (p === compensating) return true;
    return false;
  };
  const order = new Map(nodes.map((n, i) => [n.id, i]));
  const links: UndoLink[] = [];
  for (const childId of compensating.children) {
    const undoState = byId.get(childId)!;
    if (!undoState.key.startsWith(UNDO_STATE_PREFIX)) continue;
    const step = undoState.key.slice(UNDO_STATE_PREFIX.length);
    const undo = undoState.invocations.find((i) => i.id === `${UNDO_INVOKE_PREFIX}${step}`);
    const runner = nodes.find((n) => !inside(n) && n.invocations.some((i) => i.id === step));
    if (!undo || !runner) continue;
    const stepState = runner.key === RUNNING && runner.parent !== null ? runner.parent : runner.id;
    links.push({ step, stepState, undoState: undoState.id, undoInvocation: undo.id, undoSrc: undo.src });
  }
  return links.sort((a, b) => order.get(a.stepState)! - order.get(b.stepState)!);
}

/**
 * The JSON shape of a machine chart before layout: what `machineGraph` extracts from a machine's
 * state tree. Plain data only (strings, numbers, booleans, arrays, null) because the browser
 * page receives it over HTTP.
 */

export type StateNodeType = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

export interface GraphInvocation {
  /** Invocation id: its results arrive as `xstate.done.actor.<id>` / `xstate.error.actor.<id>`. */
  readonly id: string;
  /** Name of the actor logic the host runs. */
  readonly src: string;
}

export interface GraphNode {
  /** The state node's id (`build.prepare.image.push`); the root's is the machine id. */
  readonly id: string;
  /** Its key under its parent (the root's key is the machine id too). */
  readonly key: string;
  readonly parent: string | null;
  readonly type: StateNodeType;
  /** Child state ids in document order. */
  readonly children: readonly string[];
  /** Id of the state entered first (compound states only). */
  readonly initial: string | null;
  /** `shallow` / `deep` for history states, else null. */
  readonly history: 'shallow' | 'deep' | null;
  readonly tags: readonly string[];
  readonly description: string | null;
  readonly invocations: readonly GraphInvocation[];
  /** Kit sagas: id of the state that undoes this step (`build.compensating.undo_lock`). */
  readonly undo?: string;
  /** Kit sagas: on a step state, the actor its undo runs (drawn on the step: `⟲ releaseDeployLock`). */
  readonly undoSrc?: string;
  /** Kit sagas: on an undo state, the id of the step state it undoes. */
  readonly undoes?: string;
}

/**
 * What a transition is triggered by: an event in `on`, an eventless `always`, a delay in
 * `after`, an invocation's result (`onDone` / `onError` / `onSnapshot`), the state's own
 * `onDone` (every region / child final), or an `xstate.route` to a state with an explicit id.
 */
export type EdgeKind = 'event' | 'always' | 'after' | 'invoke.done' | 'invoke.error' | 'invoke.snapshot' | 'state.done' | 'route';

export interface GraphGuard {
  /** The guard's name, or `and(…)` / `not(…)` / `stateIn(…)` / `inline` for inline guards. */
  readonly text: string;
  /** Static params as short text (`step: lock`), null when there are none. */
  readonly params: string | null;
}

export interface GraphEdge {
  /** `<source id>#<n>`: n counts the source's transitions in document order from 0. */
  readonly id: string;
  readonly source: string;
  /** Target state ids; empty for a targetless transition; several for multi-target ones. */
  readonly targets: readonly string[];
  readonly kind: EdgeKind;
  /** The event type as XState names it (descriptors such as `*` or `foo.*` as they are); null for `always`. */
  readonly event: string | null;
  /** What a chart writes on the edge: `saga.cancel`, `done: lock`, `after retry.lock`, `always` (+ ` [guard]`). */
  readonly label: string;
  readonly guard: GraphGuard | null;
  /** `after` edges: milliseconds, or the name of a delay from `setup({ delays })`. */
  readonly delay: number | string | null;
  /** `invoke.*` edges: the invocation id. */
  readonly invocation: string | null;
  /** Targetless: no state is exited or entered (only actions run). */
  readonly internal: boolean;
  /** A transition that targets its own source (or an ancestor): reenters it only when true. */
  readonly reenter: boolean;
  /** A targeted transition back to its own source. */
  readonly self: boolean;
}

/** Kit sagas: a forward step and the state that undoes it. */
export interface UndoLink {
  /** Step name (= its invocation id). */
  readonly step: string;
  /** The step's state (`build.lock`). */
  readonly stepState: string;
  /** Its undo's state (`build.compensating.undo_lock`). */
  readonly undoState: string;
  /** Invocation id of the undo (`undo.lock`). */
  readonly undoInvocation: string;
  /** Implementation name of the undo (`releaseDeployLock`). */
  readonly undoSrc: string;
}

export interface MachineGraph {
  /** Machine id (= the root state's id). */
  readonly id: string;
  readonly description: string | null;
  /** Every state node, the root first, in document order (pre-order). */
  readonly nodes: readonly GraphNode[];
  /** Every transition, grouped by source in node order, each source's in document order. */
  readonly edges: readonly GraphEdge[];
  /** Kit sagas only (empty otherwise): steps with an undo, in document order. */
  readonly undoLinks: readonly UndoLink[];
}

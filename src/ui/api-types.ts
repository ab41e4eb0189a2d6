/**
 * The contract between the visualizer's HTTP server (src/ui/server) and its page (src/ui/web):
 * every JSON shape the page reads and every route that serves it. Plain data only.
 *
 * Routes (every /api route answers 401 without the token: header `X-Jetsaga-Token: <token>`, or
 * `?token=` on the event stream, which cannot set headers; the page and its assets hold no data
 * and load without it, so that a page opened without one can say what is missing):
 *
 *   GET  /                               the page (HTML shell; its script and style are below; it
 *                                        reads the token from its own URL's `?token=`)
 *   GET  /assets/app.js | /assets/app.css | /favicon.ico
 *   GET  /api/info                       UiInfo
 *   GET  /api/machines                   MachineList
 *   GET  /api/machines/:id?version=      MachineChart (laid out once per machine version, cached;
 *                                        `version`: the one that replays sagas of that version)
 *   GET  /api/sagas?status=&machine=&limit=   SagaList
 *   GET  /api/sagas/:id                  SagaDetail
 *   GET  /api/sagas/:id/timeline         Timeline
 *   GET  /api/sagas/:id/at/:no           SagaAt (the journal re-folded up to entry `no`, no side effects)
 *   POST /api/sagas/:id/actions/:action  ActionReply   (action: cancel | retry | skip | abandon)
 *   POST /api/sagas/:id/fork             ForkReply      (body ForkRequest)
 *   GET  /api/boot                       BootView
 *   POST /api/bundles                    BundleOpened   (body: a `jetsaga sagas export` bundle, ≤ 16 MiB)
 *   GET  /api/bundles/:bundleId          SagaDetail     (offline: from the bundle alone)
 *   GET  /api/bundles/:bundleId/timeline Timeline
 *   GET  /api/bundles/:bundleId/at/:no   SagaAt
 *   GET  /api/stream?token=&saga=<id>    text/event-stream of StreamEvent (`event:` = its `type`)
 *
 * Errors: `{ error: { code, message, status } }` with that HTTP status (codes as the service
 * API's: UNKNOWN_SAGA, BAD_REQUEST, NO_COORDINATOR, NOT_BLOCKED, …; UNAUTHORIZED for the token;
 * NOT_FOUND / METHOD_NOT_ALLOWED for routes; BODY_TOO_LARGE (413) and UNKNOWN_BUNDLE (404) for
 * bundles; INVALID_ARGUMENT for an entry number past the journal's end). Offline (`UiInfo.mode`),
 * every route that needs a coordinator answers 503 NO_COORDINATOR.
 */
import type { CompensationPlan } from '../viz/compensation-plan.js';
import type { MachineGraph } from '../viz/graph-types.js';
import type { LaidOutGraph } from '../viz/layout-types.js';

export interface UiInfo {
  /** `live`: bridged to a coordinator's service API; `offline`: bundles only (no NATS). */
  readonly mode: 'live' | 'offline';
  readonly namespace: string;
  readonly natsUrl: string | null;
  /** Whether a coordinator answered the last request (false while none does). */
  readonly coordinatorReachable: boolean;
  readonly version: string;
}

export interface MachineSummary {
  readonly id: string;
  readonly version: number;
  readonly description: string | null;
}
export interface MachineList {
  readonly machines: readonly MachineSummary[];
}

export interface MachineChart extends MachineSummary {
  readonly graph: MachineGraph;
  readonly layout: LaidOutGraph;
  /**
   * The chart as SVG (renderSvg): states carry `data-state="<state id>"`, edges `data-edge`; a
   * state that runs a child saga also `data-child-step="<step>"` and `data-child-machine`.
   */
  readonly svg: string;
}

export interface SagaRow {
  readonly id: string;
  readonly machine: string;
  readonly version: number;
  readonly status: string;
  readonly owner: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** For a child saga (run by a `child` step of another): the id of its parent; else null. */
  readonly parentId: string | null;
}
export interface SagaList {
  readonly sagas: readonly SagaRow[];
}

export interface PendingStep {
  readonly id: string;
  readonly src: string;
  readonly attempt: number;
  /** The idempotency key the step runs under. */
  readonly key: string;
}

/** The saga that runs a child saga, and the step of it that does. */
export interface ParentView {
  readonly sagaId: string;
  readonly step: string;
}

/** A child saga a saga started (one per `child` step), as its parent's detail lists it. */
export interface ChildView {
  readonly sagaId: string;
  /** The parent's step (its invocation id) that runs it. */
  readonly step: string;
  readonly machine: string;
  readonly status: string;
}

export interface Waiting {
  /** A boot dependency (`registry`), from the active states' `awaits:<dependency>` tags. */
  readonly dependency: string;
  /** When the saga entered that state (journaled time, epoch ms). */
  readonly since: number;
  /** The state that waits. */
  readonly state: string;
}

export interface SagaDetail {
  readonly id: string;
  readonly machine: string;
  readonly version: number;
  readonly status: string;
  readonly owner: string | null;
  readonly state: unknown;
  readonly context: unknown;
  readonly entryNo: number;
  readonly updatedAt: number;
  readonly forkedFrom: { readonly sagaId: string; readonly entry: number } | null;
  /** For a child saga: its parent and the parent's step that runs it; else null. */
  readonly parent: ParentView | null;
  /**
   * The child sagas it started, by step (empty for machines without child steps; a bundle opened
   * offline lists none: its journal alone does not say how its children are).
   */
  readonly children: readonly ChildView[];
  /** Ids of the active state nodes (leaves and their ancestors), as in the chart's `data-state`. */
  readonly active: readonly string[];
  /** Ids of every state node the saga has been in, in the order first entered. */
  readonly visited: readonly string[];
  readonly pending: readonly PendingStep[];
  readonly timers: ReadonlyArray<{ readonly id: string; readonly dueAt: number }>;
  readonly waiting: readonly Waiting[];
  /** Kit sagas: the undos that would run if it failed now (or that run / are blocked); else null. */
  readonly plan: CompensationPlan | null;
}

export interface TimelineEntry {
  /** Entry number (1 = init). */
  readonly no: number;
  readonly at: number;
  /** `init`, the event type, `takeover` or `void`. */
  readonly type: string;
  /** Key fields in one short line (e.g. the step's output summary or error code). */
  readonly summary: string;
}
export interface Timeline {
  readonly id: string;
  readonly entries: readonly TimelineEntry[];
}

export interface ContextChangeView {
  readonly path: string;
  readonly op: 'add' | 'remove' | 'change';
  readonly before?: unknown;
  readonly after?: unknown;
}

export interface SagaAt {
  readonly id: string;
  readonly no: number;
  readonly at: number;
  readonly event: unknown;
  readonly state: unknown;
  readonly status: string | null;
  readonly context: unknown;
  /** Changes this entry made to the context. */
  readonly contextDiff: readonly ContextChangeView[];
  /** What the runtime scheduled on this entry (steps started/stopped, timers armed). */
  readonly effects: readonly unknown[];
  readonly active: readonly string[];
  readonly visited: readonly string[];
  readonly plan: CompensationPlan | null;
}

export interface ActionReply {
  readonly id: string;
  readonly accepted: boolean;
  readonly status: string;
}

export interface ForkRequest {
  readonly from: number;
  readonly dryRun: boolean;
}
/** The service's `sagas.fork` reply (ForkResult), passed through. */
export type ForkReply = Record<string, unknown>;

export interface BootDependencyView {
  readonly name: string;
  readonly state: string;
  readonly ready: boolean;
  readonly since: number;
  readonly error: string | null;
  readonly dependsOn: readonly string[];
  readonly layer: number;
}
export interface BootCoordinatorView {
  readonly name: string;
  /** Its lease is live (null: unknown). */
  readonly running: boolean | null;
  readonly dependencies: readonly BootDependencyView[];
}
export interface BootView {
  readonly coordinators: readonly BootCoordinatorView[];
  /** Sagas in an `awaits:<dependency>` state. */
  readonly waiting: ReadonlyArray<{ readonly sagaId: string; readonly machine: string; readonly dependency: string; readonly since: number }>;
}

export interface BundleOpened {
  readonly bundleId: string;
  readonly saga: SagaDetail;
}

export type StreamEvent =
  | { readonly type: 'sagas'; readonly sagas: readonly SagaRow[] }
  | { readonly type: 'saga'; readonly saga: SagaDetail }
  | { readonly type: 'boot'; readonly boot: BootView }
  | { readonly type: 'info'; readonly info: UiInfo }
  | { readonly type: 'heartbeat'; readonly at: number };

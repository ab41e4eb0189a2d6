/**
 * What the visualizer's browser scenarios need from whatever serves the page: the fake
 * server (ui-fake-server.ts) or the real one — `jetsaga ui` against a coordinator process
 * (ui-real-world.ts). Scenarios use only this, so the same tests run against either; the
 * optional members are what only one of them can do.
 */
export interface UiWorld {
  /** The page's address with its token, as jetsaga prints it. */
  readonly pageUrl: string;
  /** The same address without the token. */
  readonly pageUrlWithoutToken: string;
  /** A build saga in progress that waits for the registry in `prepare` (its image branch). */
  readonly runningSaga: string;
  /** A saga blocked on a failed undo. */
  readonly blockedSaga: string;
  /** More sagas blocked the same way, for the Skip and Abandon actions (the real world has them). */
  readonly blockedForSkip?: string;
  readonly blockedForAbandon?: string;
  /** A `jetsaga sagas export` bundle on disk, and the id of the saga in it. */
  readonly bundleFile: string;
  readonly bundleSaga: string;
  /** A saga the server forks from entry `from`. */
  readonly forkable: { readonly saga: string; readonly from: number };
  /** A saga whose fork from entry `from` the server refuses with `code` (absent: the world cannot tell). */
  readonly forkRefused?: { readonly saga: string; readonly from: number; readonly code: string };
  /** A saga that started a child saga in its step `step` (chart state `state`), and that child (absent: the world has none). */
  readonly nested?: { readonly parent: string; readonly child: string; readonly step: string; readonly state: string };
  /** Moves `runningSaga` on by at least one journaled input (resolves once it is journaled). */
  advance(): Promise<void>;
  /** The coordinator stops answering, then answers again (the page must keep up). */
  coordinatorDown(): Promise<void>;
  coordinatorUp(): Promise<void>;
  /** Breaks every open event stream (a restarting server): the page must reconnect. Absent where the page's server is not ours to break. */
  dropStreams?(): Promise<void>;
  /** Makes the failing undo of a blocked saga work again (so that Retry gets it through). */
  mendBlocked?(sagaId: string): Promise<void>;
  /** Starts a saga that is held before each of its steps; `step()` lets the next one run. */
  startSaga?(): Promise<WatchedSaga>;
  close(): Promise<void>;
}

export interface WatchedSaga {
  readonly id: string;
  /** How many held steps it has. */
  readonly steps: number;
  /** Lets the next held step run; resolves once its result is journaled. */
  step(): Promise<void>;
}

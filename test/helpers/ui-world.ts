/**
 * What the visualizer's browser scenarios need from whatever serves the page: the fake
 * server (ui-fake-server.ts) or a real `jetsaga serve --ui` with a coordinator. Scenarios use
 * only this, so the same tests run against either.
 */
export interface UiWorld {
  /** The page's address with its token, as jetsaga prints it. */
  readonly pageUrl: string;
  /** The same address without the token. */
  readonly pageUrlWithoutToken: string;
  /** A build saga in progress that waits for the registry in `prepare` (its image branch). */
  readonly runningSaga: string;
  /** A build saga blocked on a failed undo. */
  readonly blockedSaga: string;
  /** A `jetsaga sagas export` bundle on disk, and the id of the saga in it (not in the list). */
  readonly bundleFile: string;
  readonly bundleSaga: string;
  /** Moves `runningSaga` on by one journaled input (resolves once it is journaled). */
  advance(): Promise<void>;
  /** The coordinator stops answering, then answers again (the page must keep up). */
  coordinatorDown(): Promise<void>;
  coordinatorUp(): Promise<void>;
  /** Breaks every open event stream (a restarting server): the page must reconnect. */
  dropStreams(): Promise<void>;
  close(): Promise<void>;
}

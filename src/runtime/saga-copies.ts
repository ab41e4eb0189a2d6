/**
 * Copies of sagas loaded by this process. Each loaded copy gets its own token (see
 * msg-id.ts), so that the appends of an older copy can be told from a newer one's, and a
 * generation, bumped when every copy is invalidated at once (lease lapse, close), so that a
 * load begun before that cannot register a copy after it. Init, marker and void appends made
 * while loading are tracked too: a recovery after a lease loss must wait them out before it
 * folds the journals they may still extend.
 */

export interface CopyHooks {
  newCopy(): string;
  generation(): number;
  leaseValid(): boolean;
  trackAppend(p: Promise<unknown>): void;
}

export class SagaCopies {
  /** Copies made so far. */
  private made = 0;
  private current = 0;
  /** Init, marker and void appends in flight, settled either way. */
  private readonly appends = new Set<Promise<unknown>>();

  /** What the loader, the starter and the forker are given to make and register copies. */
  readonly hooks: CopyHooks;

  constructor(incarnation: string, leaseValid: () => boolean) {
    this.hooks = {
      newCopy: () => `${incarnation}.${(this.made++).toString(36)}`,
      generation: () => this.current,
      leaseValid,
      trackAppend: (p) => this.trackAppend(p),
    };
  }

  /** Every copy made so far is stale from now on. */
  invalidate(): void {
    this.current++;
  }

  /** The loading appends still on the wire right now. */
  appendsInFlight(): Promise<unknown>[] {
    return [...this.appends];
  }

  private trackAppend(p: Promise<unknown>): void {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.appends.add(settled);
    void settled.then(() => this.appends.delete(settled));
  }
}

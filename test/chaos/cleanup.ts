/**
 * Clean-up steps run last-in first-out, once, whether the run passed, failed or timed out
 * (the vitest test calls `run` from afterAll, the CLI from finally and on SIGINT). A step that
 * fails does not stop the others.
 */
export class Cleanup {
  private readonly steps: Array<() => unknown> = [];
  private running: Promise<void> | undefined;

  /** True once clean-up has begun: work still under way should stop quietly. */
  get started(): boolean {
    return this.running !== undefined;
  }

  add(step: () => unknown): void {
    this.steps.push(step);
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      while (this.steps.length > 0) {
        const step = this.steps.pop()!;
        try {
          await step();
        } catch {
          // keep cleaning
        }
      }
    })();
    return this.running;
  }
}

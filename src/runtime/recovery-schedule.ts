/**
 * When recovery passes run: on demand (`run`: concurrent calls share a pass, and a call made
 * while a pass runs gets the next one, which sees everything that changed before the call),
 * and periodically once begun.
 */
import type { RecoveryReport } from './types.js';

export class RecoverySchedule {
  private current: Promise<RecoveryReport> | undefined;
  private next: Promise<RecoveryReport> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private begun = false;

  constructor(
    private readonly pass: () => Promise<RecoveryReport>,
    private readonly intervalMs: number,
    private readonly track: (p: Promise<unknown>) => void,
  ) {}

  run(): Promise<RecoveryReport> {
    if (!this.current) {
      this.current = this.pass().finally(() => (this.current = undefined));
      return this.current;
    }
    this.next ??= this.current
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.run();
      });
    return this.next;
  }

  /** A pass now and the periodic ones. Idempotent. */
  begin(): void {
    if (this.begun) return;
    this.begun = true;
    this.track(this.run());
    this.startTimer();
  }

  /** Periodic passes only (0 = none). Idempotent. */
  startTimer(): void {
    if (this.intervalMs > 0 && !this.timer) {
      this.timer = setInterval(() => this.track(this.run()), this.intervalMs);
      this.timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

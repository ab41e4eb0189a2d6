/**
 * When recovery passes run: on demand (`run`: concurrent calls share a pass, and a call made
 * while a pass runs gets the next one, which sees everything that changed before the call),
 * and periodically once begun. Every pass has a deadline: one that has not ended by then is
 * abandoned (its signal aborts) and another is run shortly after, so that one stuck read can
 * never freeze recovery — a dead coordinator's sagas would otherwise never be taken over.
 */
import { ErrorCode, SagaError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RecoveryReport } from './types.js';

export interface RecoveryScheduleOptions {
  readonly pass: (signal: AbortSignal) => Promise<RecoveryReport>;
  /** Period of background passes (0 = none). */
  readonly intervalMs: number;
  /** How long one pass may take before it is abandoned and retried. */
  readonly passTimeoutMs: number;
  readonly track: (p: Promise<unknown>) => void;
  readonly logger: Logger;
}

/** A pass abandoned at its deadline is retried after this long. */
const RETRY_AFTER_TIMEOUT_MS = 1_000;

export class RecoverySchedule {
  private current: Promise<RecoveryReport> | undefined;
  private next: Promise<RecoveryReport> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private begun = false;
  private stopped = false;

  constructor(private readonly opts: RecoveryScheduleOptions) {}

  run(): Promise<RecoveryReport> {
    if (!this.current) {
      this.current = this.runOne().finally(() => (this.current = undefined));
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
    this.opts.track(this.run());
    this.startTimer();
  }

  /** Periodic passes only (0 = none). Idempotent. */
  startTimer(): void {
    if (this.opts.intervalMs > 0 && !this.timer && !this.stopped) {
      this.timer = setInterval(() => this.opts.track(this.run()), this.opts.intervalMs);
      this.timer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.retry);
  }

  private runOne(): Promise<RecoveryReport> {
    const abandon = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new SagaError(ErrorCode.Timeout, `a recovery pass did not end within ${this.opts.passTimeoutMs} ms; abandoned and retried`, {
          status: 504,
          retryable: true,
        });
        abandon.abort(err);
        reject(err);
        this.opts.logger.warn({ timeoutMs: this.opts.passTimeoutMs }, 'recovery pass abandoned at its deadline; retrying');
        if (!this.stopped) {
          this.retry = setTimeout(() => this.opts.track(this.run()), RETRY_AFTER_TIMEOUT_MS);
          this.retry.unref();
        }
      }, this.opts.passTimeoutMs);
      timer.unref();
    });
    const pass = this.opts.pass(abandon.signal);
    // An abandoned pass runs on until it notices its signal; its outcome is no one's concern.
    pass.catch(() => undefined);
    return Promise.race([pass, deadline]).finally(() => clearTimeout(timer));
  }
}

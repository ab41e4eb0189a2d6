/**
 * Retry backoff that is a pure function of its inputs. Delay expressions run again on every
 * replay, so jitter cannot come from Math.random: it comes from a hash of data the journal
 * holds (the step, the attempt, and the host-stamped time of the failure), which differs
 * between sagas and so still spreads their retries apart.
 */

export interface RetryPolicy {
  /** Attempts in all, the first included; 1 means never retry. */
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Multiplier between consecutive delays. */
  readonly factor: number;
  /** Fraction of each delay that is randomised (0 = none, 1 = anywhere in [0, delay]). */
  readonly jitter: number;
}

export const DEFAULT_STEP_RETRY: RetryPolicy = {
  maxAttempts: 5,
  initialDelayMs: 200,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: 0.2,
};

/** Undo retries: more of them, slower; after the last the saga is `blocked`. */
export const DEFAULT_UNDO_RETRY: RetryPolicy = {
  maxAttempts: 8,
  initialDelayMs: 500,
  maxDelayMs: 60_000,
  factor: 2,
  jitter: 0.2,
};

export function resolvePolicy(base: RetryPolicy, overrides?: Partial<RetryPolicy>): RetryPolicy {
  const p = { ...base, ...overrides };
  if (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 1) throw new Error(`retry.maxAttempts must be an integer ≥ 1, got ${p.maxAttempts}`);
  if (!(p.initialDelayMs >= 0) || !(p.maxDelayMs >= p.initialDelayMs)) throw new Error('retry delays must satisfy 0 ≤ initialDelayMs ≤ maxDelayMs');
  if (!(p.factor >= 1)) throw new Error(`retry.factor must be ≥ 1, got ${p.factor}`);
  if (!(p.jitter >= 0 && p.jitter <= 1)) throw new Error(`retry.jitter must be within [0, 1], got ${p.jitter}`);
  return p;
}

/**
 * Delay before attempt `failures + 1`, after `failures` failed attempts (≥ 1). `seed` must be
 * journaled data; the same inputs always give the same delay.
 */
export function backoffDelay(policy: RetryPolicy, failures: number, seed: string): number {
  // 0 × Infinity would be NaN after ~1000 failures with a zero initial delay.
  const growth = policy.factor ** Math.max(0, failures - 1);
  const exp = policy.initialDelayMs === 0 ? 0 : Math.min(policy.maxDelayMs, policy.initialDelayMs * growth);
  const spread = exp * policy.jitter;
  return Math.round(exp - spread * unitHash(seed));
}

/** FNV-1a, 32 bits, mapped to [0, 1). Cheap, stable across platforms, good enough for jitter. */
export function unitHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 0x1_0000_0000;
}

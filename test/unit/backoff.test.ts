/**
 * Retry backoff is replayed: the delay must be a pure function of (policy, failures, seed),
 * stay within the policy's bounds, and grow geometrically up to its cap.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  DEFAULT_STEP_RETRY,
  DEFAULT_UNDO_RETRY,
  resolvePolicy,
  unitHash,
  type RetryPolicy,
} from '../../machines/kit/backoff.js';

const policy = (p: Partial<RetryPolicy> = {}): RetryPolicy => resolvePolicy(DEFAULT_STEP_RETRY, p);

/** Arbitrary valid policies with integer delays. */
const policies: fc.Arbitrary<RetryPolicy> = fc
  .record({
    maxAttempts: fc.integer({ min: 1, max: 20 }),
    initialDelayMs: fc.integer({ min: 0, max: 10_000 }),
    extra: fc.integer({ min: 0, max: 100_000 }),
    factor: fc.double({ min: 1, max: 4, noNaN: true }),
    jitter: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ extra, ...p }) => resolvePolicy(DEFAULT_STEP_RETRY, { ...p, maxDelayMs: p.initialDelayMs + extra }));

/** The un-jittered delay after `failures` failures. */
const base = (p: RetryPolicy, failures: number): number =>
  Math.min(p.maxDelayMs, p.initialDelayMs * p.factor ** Math.max(0, failures - 1));

describe('unitHash', () => {
  it('is FNV-1a (32 bits) scaled to [0, 1)', () => {
    expect(unitHash('')).toBe(0x811c9dc5 / 2 ** 32);
    expect(unitHash('a')).toBe(0xe40c292c / 2 ** 32);
    expect(unitHash('foobar')).toBe(0xbf9cf968 / 2 ** 32);
  });

  it('is deterministic and within [0, 1) for any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const h = unitHash(s);
        expect(h).toBe(unitHash(s));
        expect(h).toBeGreaterThanOrEqual(0);
        expect(h).toBeLessThan(1);
      }),
    );
  });
});

describe('backoffDelay', () => {
  it('gives the same delay for the same seed, and spreads different seeds apart', () => {
    const p = policy({ initialDelayMs: 1_000, maxDelayMs: 1_000, jitter: 0.5 });
    expect(backoffDelay(p, 3, 'charge:3:1700000000000')).toBe(backoffDelay(p, 3, 'charge:3:1700000000000'));
    const delays = new Set(Array.from({ length: 100 }, (_, i) => backoffDelay(p, 1, `charge:1:${1_700_000_000_000 + i}`)));
    // 100 sagas failing one millisecond apart do not retry in lock-step
    expect(delays.size).toBeGreaterThan(50);
    expect(Math.min(...delays)).toBeLessThan(650);
    expect(Math.max(...delays)).toBeGreaterThan(850);
  });

  it('is a pure function of its inputs (property)', () => {
    fc.assert(
      fc.property(policies, fc.integer({ min: 1, max: 30 }), fc.string(), (p, failures, seed) => {
        expect(backoffDelay({ ...p }, failures, seed)).toBe(backoffDelay(p, failures, seed));
      }),
    );
  });

  it('stays within [base × (1 − jitter), base] and never above maxDelayMs (property)', () => {
    fc.assert(
      fc.property(policies, fc.integer({ min: 1, max: 40 }), fc.string(), (p, failures, seed) => {
        const d = backoffDelay(p, failures, seed);
        const b = base(p, failures);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(Math.floor(b * (1 - p.jitter)));
        expect(d).toBeLessThanOrEqual(Math.ceil(b));
        expect(d).toBeLessThanOrEqual(p.maxDelayMs);
        expect(d).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it('starts at initialDelayMs and grows by factor until capped at maxDelayMs (no jitter)', () => {
    const p = policy({ initialDelayMs: 100, maxDelayMs: 1_000, factor: 2, jitter: 0 });
    const delays = [1, 2, 3, 4, 5, 6, 50].map((f) => backoffDelay(p, f, 'seed'));
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
    const triple = policy({ initialDelayMs: 10, maxDelayMs: 10_000, factor: 3, jitter: 0 });
    expect([1, 2, 3].map((f) => backoffDelay(triple, f, 'x'))).toEqual([10, 30, 90]);
    // factor 1: a constant delay
    expect([1, 5, 9].map((f) => backoffDelay(policy({ initialDelayMs: 70, factor: 1, jitter: 0 }), f, 'x'))).toEqual([70, 70, 70]);
  });

  it('with jitter, the same seed still grows geometrically before the cap', () => {
    const p = policy({ initialDelayMs: 100, maxDelayMs: 100_000, factor: 2, jitter: 0.2 });
    const h = unitHash('s');
    for (let f = 1; f <= 8; f++) expect(backoffDelay(p, f, 's')).toBe(Math.round(100 * 2 ** (f - 1) * (1 - 0.2 * h)));
  });

  it('jitter 1 may take the delay anywhere in [0, base]', () => {
    const p = policy({ initialDelayMs: 1_000, maxDelayMs: 1_000, jitter: 1 });
    const delays = Array.from({ length: 200 }, (_, i) => backoffDelay(p, 1, `k${i}`));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.min(...delays)).toBeLessThan(100);
    expect(Math.max(...delays)).toBeLessThanOrEqual(1_000);
    expect(Math.max(...delays)).toBeGreaterThan(900);
  });

  it('treats failures below 1 as the first failure', () => {
    const p = policy({ initialDelayMs: 100, jitter: 0 });
    expect(backoffDelay(p, 0, 's')).toBe(100);
    expect(backoffDelay(p, -3, 's')).toBe(100);
  });

  it('stays at the cap for very large failure counts', () => {
    const p = policy({ initialDelayMs: 100, maxDelayMs: 5_000, jitter: 0 });
    expect(backoffDelay(p, 1_000, 's')).toBe(5_000);
    expect(backoffDelay(p, 1_000_000, 's')).toBe(5_000);
  });
});

describe('resolvePolicy', () => {
  it('layers overrides on a base policy without changing the base', () => {
    const p = resolvePolicy(DEFAULT_STEP_RETRY, { maxAttempts: 2 });
    expect(p).toEqual({ ...DEFAULT_STEP_RETRY, maxAttempts: 2 });
    expect(DEFAULT_STEP_RETRY.maxAttempts).toBe(5);
    expect(resolvePolicy(p, { jitter: 0 })).toEqual({ ...DEFAULT_STEP_RETRY, maxAttempts: 2, jitter: 0 });
    expect(resolvePolicy(DEFAULT_UNDO_RETRY)).toEqual(DEFAULT_UNDO_RETRY);
  });

  it('accepts the edges: one attempt, zero delay, factor 1, jitter 0 and 1', () => {
    expect(() => resolvePolicy(DEFAULT_STEP_RETRY, { maxAttempts: 1, initialDelayMs: 0, maxDelayMs: 0, factor: 1, jitter: 0 })).not.toThrow();
    expect(() => resolvePolicy(DEFAULT_STEP_RETRY, { jitter: 1 })).not.toThrow();
  });

  it.each([
    [{ maxAttempts: 0 }, /maxAttempts must be an integer ≥ 1, got 0/],
    [{ maxAttempts: 2.5 }, /maxAttempts must be an integer ≥ 1, got 2\.5/],
    [{ maxAttempts: Number.NaN }, /maxAttempts/],
    [{ initialDelayMs: -1 }, /0 ≤ initialDelayMs ≤ maxDelayMs/],
    [{ initialDelayMs: Number.NaN }, /0 ≤ initialDelayMs ≤ maxDelayMs/],
    [{ initialDelayMs: 500, maxDelayMs: 499 }, /0 ≤ initialDelayMs ≤ maxDelayMs/],
    [{ factor: 0.9 }, /factor must be ≥ 1, got 0\.9/],
    [{ factor: Number.NaN }, /factor must be ≥ 1/],
    [{ jitter: -0.1 }, /jitter must be within \[0, 1\], got -0\.1/],
    [{ jitter: 1.01 }, /jitter must be within \[0, 1\]/],
  ] as Array<[Partial<RetryPolicy>, RegExp]>)('refuses %o', (overrides, message) => {
    expect(() => resolvePolicy(DEFAULT_STEP_RETRY, overrides)).toThrow(message);
  });
});

/**
 * The low-water mark (low-water.ts) a coordinator publishes in its lease record: never above
 * the first entry of a saga it drives, still has to recover from a previous life, or handed
 * back unrecovered; unknown while a previous life's mark is needed but was never written.
 */
import { describe, expect, it } from 'vitest';
import type { CoordinatorRecord } from '../../src/runtime/coordinator-lease.js';
import { LowWater } from '../../src/runtime/low-water.js';

function lowWater(previous: Partial<CoordinatorRecord> | null, driven: number[] = []): LowWater {
  return new LowWater({ previous: () => previous as CoordinatorRecord | null, driven: () => driven.map((firstSeq) => ({ firstSeq })) });
}

describe('LowWater', () => {
  it('is one past the last seq seen when nothing is driven, inherited or retained', () => {
    const lw = lowWater(null);
    lw.opened(40);
    expect(lw.value()).toBe(41);
    lw.seen(45);
    lw.seen(42);
    expect(lw.value()).toBe(46);
  });

  it('is the lowest first seq of the sagas driven here', () => {
    const lw = lowWater(null, [30, 12, 25]);
    lw.opened(40);
    expect(lw.value()).toBe(12);
  });

  it("keeps a previous life's mark until a recovery pass has recovered everything", () => {
    const lw = lowWater({ lowWaterSeq: 7 });
    lw.opened(40);
    expect(lw.value()).toBe(7);
    lw.recovered();
    expect(lw.value()).toBe(41);
  });

  it("is unknown while a previous life's record has no mark, until that life's sagas are recovered", () => {
    const lw = lowWater({});
    lw.opened(40);
    expect(lw.value()).toBeUndefined();
    lw.recovered();
    expect(lw.value()).toBe(41);
  });

  it('keeps covering sagas handed back until they are recovered', () => {
    const lw = lowWater(null);
    lw.opened(40);
    lw.retain(20);
    lw.retain(33);
    expect(lw.value()).toBe(20);
    lw.recovered();
    expect(lw.value()).toBe(41);
  });
});

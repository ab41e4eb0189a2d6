/**
 * The chaos test, in the suite: a fixed seed, at least 30 kill points in about a minute and a
 * half, real coordinator processes on a real nats-server (see run-chaos.ts), then every
 * invariant over every saga. `npm run chaos -- --seed N --minutes M` runs longer soaks.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { killAllCoordinators } from '../helpers/coordinator-proc.js';
import { Cleanup } from './cleanup.js';
import { runChaos } from './run-chaos.js';
import { buildSchedule, killPoints, SUITE_CONFIG } from './schedule.js';

const SEED = 20_251_202;
const config = { ...SUITE_CONFIG, seed: SEED };
const cleanup = new Cleanup();

afterAll(async () => {
  await cleanup.run();
  await killAllCoordinators();
}, 60_000);

describe('chaos: coordinators and the nats-server killed, stalled and raced under load', () => {
  it('the schedule for the suite seed holds at least 30 kill points', () => {
    expect(killPoints(buildSchedule(config))).toBeGreaterThanOrEqual(30);
  });

  // Chaos ~1.5 min, then recovery and checks; the bound leaves room for a slow, shared machine.
  it(`every saga settles, folds to its live state, applies each effect once and is listed once (seed ${SEED})`, async (ctx) => {
    ctx.onTestFinished(() => cleanup.run());
    console.log(`chaos seed ${SEED}`);
    const result = await runChaos(config, { cleanup, settleBoundMs: 60_000, settleQuietMs: 20_000, progress: (l) => console.log(l) });
    console.log(result.report);
    expect(result.evidence.chaos.filter((e) => e.kind === 'kill' && e.why !== 'shutdown').length + result.evidence.chaos.filter((e) => e.kind === 'nats-kill').length).toBeGreaterThanOrEqual(30);
    expect(result.check.violations.map((v) => `${v.invariant} ${v.sagaId ?? ''} ${v.key ?? ''} ${v.message}`)).toEqual([]);
  }, 300_000);
});

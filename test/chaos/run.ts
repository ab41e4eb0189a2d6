/**
 * `npm run chaos -- --seed N --minutes M [--keep]`: a chaos soak of M minutes of chaos (rates as
 * in the suite), printing the same report as the vitest test. Exit code 0 when every invariant
 * holds, 1 when one does not, 2 on a usage error. `--keep` keeps the run's files (run logs,
 * coordinator logs, evidence.json) and prints where they are.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { killAllCoordinators } from '../helpers/coordinator-proc.js';
import { Cleanup } from './cleanup.js';
import { runChaos } from './run-chaos.js';
import { killPoints, buildSchedule, SUITE_CONFIG } from './schedule.js';

let args: { seed?: string; minutes?: string; keep?: boolean };
try {
  ({ values: args } = parseArgs({ options: { seed: { type: 'string' }, minutes: { type: 'string' }, keep: { type: 'boolean' } } }));
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}
const seed = Number(args.seed ?? Date.now() % 1_000_000);
const minutes = Number(args.minutes ?? 3);
if (!Number.isInteger(seed) || seed < 0 || !(minutes > 0)) {
  console.error('usage: npm run chaos -- --seed <non-negative integer> --minutes <minutes> [--keep]');
  process.exit(2);
}

const config = { ...SUITE_CONFIG, seed, durationMs: Math.round(minutes * 60_000) };
console.log(`chaos seed ${seed}, ${minutes} min of chaos, ${killPoints(buildSchedule(config))} kill points scheduled`);
const cleanup = new Cleanup();
const stop = (): void => void cleanup.run().then(() => process.exit(130));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
let code = 1;
try {
  const result = await runChaos(config, { cleanup, settleBoundMs: 120_000, settleQuietMs: 30_000, keepDir: args.keep, progress: (l) => console.log(l) });
  console.log(result.report);
  if (args.keep) {
    const file = join(result.dir, 'evidence.json');
    const ev = result.evidence;
    const dump = { ...ev, sagas: [...ev.sagas.values()], effects: Object.fromEntries(ev.effects), starts: Object.fromEntries(ev.starts), violations: result.check.violations };
    writeFileSync(file, JSON.stringify(dump));
    console.log(`files kept in ${result.dir} (evidence.json, runs-*.jsonl, log-*.jsonl)`);
  }
  code = result.check.violations.length === 0 ? 0 : 1;
} catch (e) {
  console.error(e);
} finally {
  await cleanup.run();
  await killAllCoordinators();
}
process.exit(code);

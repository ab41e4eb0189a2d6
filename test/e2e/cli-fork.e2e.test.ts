/**
 * `jetsaga sagas fork` and `jetsaga sagas replay --check` as a user runs them, against a
 * coordinator child process (test/fixtures/trip-coordinator.ts) on a real nats-server: a dry
 * run as JSON that writes nothing, a real fork that re-runs only the steps after the fork point,
 * the exit codes of its refusals; a check that passes on the machine that wrote the saga and
 * fails, naming the entry, on a coordinator running a changed machine.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { readJsonLines } from '../helpers/json-lines.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { exitsOnItsOwn, spawnTs, type TsChild } from '../helpers/ts-child.js';
import { until } from '../helpers/until.js';
import type { TripCall, TripInput, TripVariant } from '../fixtures/trip-saga.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'trip-coordinator.ts');
const NS = 'clifork';

let nats: NatsServerHandle;
let tmp: string;
let coordinator: TsChild | undefined;
let failFile: string;
let callsFile: string;

async function startCoordinator(owner: string, variant: TripVariant, start: Array<{ id: string; input: TripInput }> = []): Promise<TsChild> {
  const spec = { url: nats.url, namespace: NS, owner, dataDir: join(tmp, owner), registry: `127.0.0.1:${await freePort()}`, callsFile, variant, start };
  const child = spawnTs(SCRIPT, [], { JETSAGA_LOG: 'warn', TRIP_COORDINATOR: JSON.stringify(spec) });
  await child.waitForLine('ready', 60_000);
  return child;
}

async function stopCoordinator(): Promise<void> {
  if (!coordinator) return;
  coordinator.signal('SIGTERM');
  await exitsOnItsOwn(coordinator).catch(() => coordinator?.kill());
  coordinator = undefined;
}

beforeAll(async () => {
  nats = await startNatsServer();
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-cli-fork-'));
  failFile = join(tmp, 'pay-fails');
  callsFile = join(tmp, 'calls.jsonl');
  await writeFile(failFile, '');
  coordinator = await startCoordinator('cf-a', 'original', [
    { id: 'trip-ok', input: { trip: 'faro' } },
    { id: 'trip-bad', input: { trip: 'porto', failWhile: { pay: failFile } } },
  ]);
}, 120_000);

afterAll(async () => {
  await stopCoordinator();
  await nats?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const cli = (args: string[]) => runCli([...args, '--nats', nats.url, '--namespace', NS], {}, 60_000);

describe('jetsaga sagas fork and sagas replay --check', () => {
  it('replay --check: the machine that wrote the saga replays it identically (exit 0)', async () => {
    const human = await cli(['sagas', 'replay', 'trip-ok', '--check']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout.trim()).toBe('replays identically on trip@1 (5 entries)');
    const json = await cli(['sagas', 'replay', 'trip-ok', '--check', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ ok: true, entries: 5, id: 'trip-ok', machine: 'trip', version: 1, recordedVersion: 1, coordinator: 'cf-a' });
    expect((await cli(['sagas', 'replay', 'trip-ok', '--check', '--to', '2'])).code).toBe(2);
    expect((await cli(['sagas', 'replay', 'no-such-trip', '--check'])).code).toBe(4);
  }, 120_000);

  it('fork --dry-run --json writes nothing; a fork re-runs only the steps after the fork point; refusals exit 4, 2 and 1', async () => {
    const dry = await cli(['sagas', 'fork', 'trip-bad', '--from', '3', '--dry-run', '--id', 'trip-bad-2', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as Record<string, unknown>;
    expect(plan).toMatchObject({
      source: 'trip-bad',
      from: 3,
      dryRun: true,
      id: 'trip-bad-2',
      created: false,
      saga: null,
      state: { car: 'running' },
      willRun: [{ id: 'car', src: 'rentCar' }],
      stepsAfter: [{ id: 'car', src: 'rentCar', entry: 4, outcome: 'done' }],
    });
    expect((plan.undosRun as Array<{ id: string }>).map((u) => u.id)).toEqual(['undo.pay', 'undo.car', 'undo.hotel', 'undo.flight']);
    expect((await cli(['sagas', 'show', 'trip-bad-2'])).code).toBe(4);

    const humanDry = await cli(['sagas', 'fork', 'trip-bad', '--from', '3', '--dry-run']);
    expect(humanDry.stdout).toContain('fork of trip-bad from entry 3 (dry run: nothing written)');
    expect(humanDry.stdout).toContain('starts again (in flight at entry 3): car (rentCar)');

    await rm(failFile);
    const forked = await cli(['sagas', 'fork', 'trip-bad', '--from', '3', '--id', 'trip-bad-2']);
    expect(forked.code, forked.stderr).toBe(0);
    expect(forked.stdout.split('\n')[0]).toMatch(/^forked trip-bad from entry 3 as trip-bad-2: (running|completed)$/);
    let shown: Record<string, unknown> = {};
    await until(async () => {
      shown = JSON.parse((await cli(['sagas', 'show', 'trip-bad-2', '--json'])).stdout) as Record<string, unknown>;
      return shown.status !== 'running';
    }, 60_000, 'the fork finished');
    expect(shown).toMatchObject({ id: 'trip-bad-2', status: 'completed', forkedFrom: { sagaId: 'trip-bad', entry: 3 } });
    expect((await cli(['sagas', 'show', 'trip-bad-2'])).stdout).toContain('forked from trip-bad at entry 3');
    const forkCalls = readJsonLines<TripCall>(callsFile).filter((c) => c.sagaId === 'trip-bad-2');
    expect(forkCalls.map((c) => `${c.step}:${c.key}:${c.outcome}`)).toEqual(['rentCar:trip-bad-2:3:car:ok', 'payTrip:trip-bad-2:4:pay:ok']);

    expect((await cli(['sagas', 'fork', 'no-such-trip', '--from', '1'])).code).toBe(4);
    expect((await cli(['sagas', 'fork', 'trip-bad', '--from', '99'])).code).toBe(2);
    expect((await cli(['sagas', 'fork', 'trip-bad', '--from', '0'])).code).toBe(2);
    expect((await cli(['sagas', 'fork', 'trip-bad'])).code).toBe(2);
    const final = await cli(['sagas', 'fork', 'trip-bad', '--from', '9']);
    expect(final.code).toBe(1);
    expect(final.stderr).toContain('[FORK_POINT_FINAL]');
  }, 180_000);

  it('replay --check on a coordinator running a changed machine: diverges at the entry, exit 1', async () => {
    await stopCoordinator();
    coordinator = await startCoordinator('cf-b', 'reordered');
    const human = await cli(['sagas', 'replay', 'trip-ok', '--check']);
    expect(human.code, human.stderr).toBe(1);
    expect(human.stdout.trim()).toMatch(
      /^diverges at entry 3 \(xstate\.done\.actor\.hotel\) on trip@1: expected invocation "hotel" in flight \(key trip-ok:2:hotel\), got no invocation "hotel" in flight \(in flight: car; /,
    );
    const json = await cli(['sagas', 'replay', 'trip-ok', '--check', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, entry: 3, machine: 'trip', version: 1, expected: 'invocation "hotel" in flight (key trip-ok:2:hotel)' });
  }, 120_000);
});

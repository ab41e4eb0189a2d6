/**
 * One chaos run, start to end: a nats-server of its own (loopback, free port, temp store),
 * two chaos coordinators, the scheduled traffic and chaos (and a client listing the sagas
 * throughout), then one clean coordinator that
 * recovers everything, the settle wait, the evidence and the invariants. Everything it starts
 * is registered with `cleanup` as soon as it exists, so a failed or timed-out run leaves
 * nothing behind.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats } from '../../src/nats/connect.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { openNatsStores } from '../../src/runtime/nats-stores.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { ChaosLog } from './chaos-log.js';
import { chaosBinding } from './chaos-saga.js';
import type { Cleanup } from './cleanup.js';
import { EffectSink } from './effects.js';
import { gatherEvidence, type Evidence } from './evidence.js';
import { openFinalCoordinator, settle, storedIds } from './final-coordinator.js';
import { Fleet } from './fleet.js';
import { Lister } from './lister.js';
import { checkInvariants, type CheckResult } from './invariants.js';
import { formatReport } from './report.js';
import { RunLog } from './run-log.js';
import { buildSchedule, SLOTS, type ChaosAction, type ChaosConfig, type Schedule, type Slot } from './schedule.js';
import { Traffic } from './traffic.js';
import { sleep } from './waiting.js';

const NAMESPACE = 'chaos';

export interface RunOptions {
  readonly cleanup: Cleanup;
  /** Bound of the wait for every saga to settle after the chaos. */
  readonly settleBoundMs: number;
  /** Give up waiting earlier when no saga has moved for this long. */
  readonly settleQuietMs: number;
  /** Keep the run's files (run logs, coordinator logs, evidence) instead of removing them. */
  readonly keepDir?: boolean;
  /** Progress lines (the report itself is returned). */
  readonly progress?: (line: string) => void;
}

export interface ChaosResult {
  readonly schedule: Schedule;
  readonly evidence: Evidence;
  readonly check: CheckResult;
  readonly report: string;
  readonly dir: string;
}

export async function runChaos(config: ChaosConfig, opts: RunOptions): Promise<ChaosResult> {
  const { cleanup } = opts;
  const progress = opts.progress ?? (() => undefined);
  const began = Date.now();
  const schedule = buildSchedule(config);
  const dir = await mkdtemp(join(tmpdir(), 'jetsaga-chaos-'));
  if (!opts.keepDir) cleanup.add(() => rm(dir, { recursive: true, force: true }));

  const server = await startNatsServer();
  cleanup.add(() => server.stop());
  const nc = await connectNats({ servers: server.url, name: 'chaos-harness' });
  cleanup.add(() => nc.close());
  await EffectSink.open(nc, NAMESPACE);
  progress(`seed ${config.seed}: nats-server ${server.url} (pid ${server.pid}), files in ${dir}`);

  const log = new ChaosLog();
  const fleet = new Fleet({ url: server.url, namespace: NAMESPACE, leaseTtlMs: config.leaseTtlMs, recoverIntervalMs: 700, dir, log });
  cleanup.add(() => fleet.stop('shutdown'));
  await Promise.all(SLOTS.map((slot) => fleet.spawn(slot, slot).proc.ready));

  // A client listing every saga throughout, from a runtime that never recovers anything.
  const observer = await createRuntime({
    servers: server.url,
    namespace: NAMESPACE,
    owner: 'lister',
    recoverOnStart: false,
    recoverIntervalMs: 0,
    machines: [chaosBinding(await EffectSink.open(nc, NAMESPACE), new RunLog(join(dir, 'runs-lister.jsonl'), 'lister'))],
  });
  cleanup.add(() => observer.close());
  const lister = new Lister(observer, 3_000);
  cleanup.add(() => lister.stop());

  // Chaos: the traffic and the actions, each at its offset from here.
  const traffic = new Traffic(fleet, config.seed);
  lister.start();
  const t0 = Date.now();
  const at = (offset: number): Promise<void> => sleep(t0 + offset - Date.now());
  // A run cut short (a test timeout) cleans up under the loops' feet: they stop, quietly.
  const timeline = async <T extends { at: number }>(items: readonly T[], act: (item: T) => unknown): Promise<void> => {
    try {
      for (const item of items) {
        await at(item.at);
        if (cleanup.started) return;
        await act(item);
      }
    } catch (e) {
      if (!cleanup.started) throw e;
    }
  };
  await Promise.all([
    timeline(schedule.starts, (s) => traffic.start(s.id, s.input)),
    timeline(schedule.cancels, (c) => traffic.cancel(c.id)),
    timeline(schedule.actions, (a) => perform(a, { fleet, server, traffic, log })),
  ]);
  const chaosMs = Date.now() - t0;
  progress(`chaos over after ${(chaosMs / 1000).toFixed(1)} s; draining clients`);
  await Promise.all([traffic.drain(10_000), lister.stop()]);
  await fleet.stop('shutdown');

  // One clean coordinator recovers what the dead ones left.
  const final = await openFinalCoordinator({ url: server.url, nc, namespace: NAMESPACE, leaseTtlMs: config.leaseTtlMs, dir });
  cleanup.add(() => final.runtime.close());
  const stores = await openNatsStores(nc, { namespace: NAMESPACE });
  cleanup.add(() => stores.close?.());
  const known = async (): Promise<Set<string>> => new Set([...traffic.acked(), ...(await storedIds(stores))]);
  const settled = await settle(final.runtime, known, opts.settleBoundMs, opts.settleQuietMs);
  progress(`settle: ${settled.settled ? 'every saga settled' : settled.reason} after ${(settled.waitedMs / 1000).toFixed(1)} s`);

  const evidence = await gatherEvidence({
    runtime: final.runtime,
    stores,
    nc,
    namespace: NAMESPACE,
    ids: await known(),
    starts: traffic.starts,
    runFiles: [...fleet.members.map((m) => m.runFile), final.runFile],
    logFiles: [...fleet.members.map((m) => ({ file: m.logFile, owner: m.owner })), { file: final.logFile, owner: 'final' }],
    chaos: log.events,
    settle: settled,
    cancels: traffic.cancels,
    listings: lister.listings,
  });
  const check = checkInvariants(evidence, { leaseTtlMs: config.leaseTtlMs });
  const report = formatReport({ schedule, evidence, check, timing: { chaosMs, totalMs: Date.now() - began } });
  return { schedule, evidence, check, report, dir };
}

interface Actors {
  readonly fleet: Fleet;
  readonly server: NatsServerHandle;
  readonly traffic: Traffic;
  readonly log: ChaosLog;
}

async function perform(a: ChaosAction, { fleet, server, traffic, log }: Actors): Promise<void> {
  switch (a.kind) {
    case 'kill':
      await killAndReplace(fleet, a.slot, 'chaos', a.replaceAfterMs, a.sameOwner);
      return;
    case 'nats-kill': {
      const t = Date.now();
      await server.kill();
      await sleep(a.downMs);
      await server.restart();
      log.add({ kind: 'nats-kill', t, until: Date.now() });
      return;
    }
    case 'stall':
      await fleet.stall(a.slot, a.stallMs);
      return;
    case 'burst': {
      log.add({ kind: 'burst', t: Date.now(), ids: a.sagas.map((s) => s.id) });
      // Each id at both coordinators at once; one of them dies while the starts are in flight.
      for (const s of a.sagas) for (const slot of SLOTS) traffic.start(s.id, s.input, slot);
      await sleep(a.killAfterMs);
      await killAndReplace(fleet, a.killSlot, 'burst', a.replaceAfterMs, a.sameOwner);
      return;
    }
  }
}

async function killAndReplace(fleet: Fleet, slot: Slot, why: 'chaos' | 'burst', afterMs: number, sameOwner: boolean): Promise<void> {
  const owner = fleet.member(slot)?.owner ?? slot;
  await fleet.kill(slot, why);
  await sleep(afterMs);
  fleet.spawn(slot, sameOwner ? owner : fleet.nextOwner(slot));
}

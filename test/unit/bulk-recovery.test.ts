/**
 * Bulk recovery (recovery.ts + bulk-fold.ts): from 32 candidates on, a recovering coordinator
 * folds its sagas from one journal scan starting at the owners' low-water seq, and reads a saga
 * on its own only when the scan cannot assemble it. Either way every saga resumes exactly where
 * it stopped: only the steps in flight run again, and nothing is journaled twice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeRecord } from '../../src/journal/codec.js';
import type { Journal, ScanOptions } from '../../src/journal/journal.js';
import type { CoordinatorRecord } from '../../src/runtime/coordinator-lease.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { crash } from '../helpers/lease.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { memoryStores, type RuntimeStores } from '../../src/runtime/stores.js';
import type { SagaBinding, StepFn } from '../../src/runtime/types.js';
import { ORDER_STEPS, ORDER_UNDOS, orderMachine } from '../fixtures/order-saga.js';
import { until } from '../helpers/until.js';

const N = 40;
const IDS = Array.from({ length: N }, (_, i) => `bulk${String(i).padStart(2, '0')}`);

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.close()));
});

/** Order steps logging `<step>@<idempotency key>`; with `hold`, shipOrder never returns. */
function binding(log: string[], hold: boolean): SagaBinding {
  const steps: Record<string, StepFn> = {};
  for (const name of [...ORDER_STEPS, ...ORDER_UNDOS]) {
    steps[name] = (_input, ctx) => {
      log.push(`${name}@${ctx.idempotencyKey}`);
      if (hold && name === 'shipOrder') return new Promise((_r, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
      return { step: name, saga: ctx.sagaId };
    };
  }
  return { id: 'order', version: 1, machine: orderMachine, steps };
}

async function open(stores: RuntimeStores, machine: SagaBinding, owner: string, checkpointEvery = 0): Promise<Runtime> {
  // No idle checkpoints: which sagas have one must not depend on how fast the machine is.
  const rt = await createRuntime({ machines: [machine], stores, owner, checkpointEvery, checkpointIdleMs: 0, recoverOnStart: false, recoverIntervalMs: 0 });
  runtimes.push(rt);
  return rt;
}


/** Starts N sagas on coordinator `c1` and stops it while every saga's ship step is in flight. */
async function midFlight(stores: RuntimeStores, options: { checkpointEvery?: number; graceful?: boolean } = {}): Promise<string[]> {
  const log: string[] = [];
  const a = await open(stores, binding(log, true), 'c1', options.checkpointEvery ?? 0);
  for (const id of IDS) await a.start('order', { order: id }, { id });
  await until(() => log.filter((c) => c.startsWith('shipOrder@')).length === N);
  if (options.graceful) await a.close();
  else await crash(a, stores);
  return log;
}

interface Spy {
  readonly reads: Array<{ sagaId: string; fromSeq: number | undefined }>;
  readonly scans: Array<{ fromSeq: number | undefined; sagas: number }>;
}

function spy(journal: Journal): Spy {
  const out: Spy = { reads: [], scans: [] };
  const read = journal.read.bind(journal);
  const scan = journal.scan.bind(journal);
  journal.read = (sagaId, options) => {
    out.reads.push({ sagaId, fromSeq: options?.fromSeq });
    return read(sagaId, options);
  };
  journal.scan = (options?: ScanOptions) => {
    out.scans.push({ fromSeq: options?.fromSeq, sagas: options?.sagaIds?.size ?? -1 });
    return scan(options);
  };
  return out;
}

/** Rewrites coordinator `owner`'s lease record (what a recovering coordinator reads first). */
async function patchLease(stores: RuntimeStores, owner: string, patch: (r: CoordinatorRecord) => CoordinatorRecord): Promise<void> {
  const entry = (await stores.coordinators.get(owner))!;
  const record = JSON.parse(new TextDecoder().decode(entry.value)) as CoordinatorRecord;
  await stores.coordinators.put(owner, new TextEncoder().encode(JSON.stringify(patch(record))));
}

/** Every saga completed; each step ran as expected; each journal numbered 1..n with no repeat. */
async function expectAllCompleted(rt: Runtime, stores: RuntimeStores, log: string[], entriesPerSaga: number, notifyNo = 4): Promise<void> {
  const infos = await Promise.all(IDS.map((id) => rt.wait(id, { timeoutMs: 10_000 })));
  expect(infos.map((i) => i.status)).toEqual(IDS.map(() => 'completed'));
  // the new coordinator ran only the step that was in flight (same key) and the one after it
  expect([...log].sort()).toEqual(
    IDS.flatMap((id) => [`notifyCustomer@${id}:${notifyNo}:notify`, `shipOrder@${id}:3:ship`]).sort(),
  );
  for (const id of IDS) {
    const records = (await stores.journal.read(id)).map((e) => decodeRecord(e.data, e));
    expect(records.map((r) => r.no)).toEqual(Array.from({ length: entriesPerSaga }, (_, i) => i + 1));
    const types = records.map((r) => ('event' in r ? r.event.type : 'init' in r ? 'init' : 'takeover'));
    expect(types.filter((t) => t === 'xstate.done.actor.ship')).toHaveLength(1);
    expect(types.filter((t) => t === 'xstate.done.actor.charge')).toHaveLength(1);
  }
  expect((await rt.list({ status: 'completed', limit: 1000 })).sagas).toHaveLength(N);
  expect((await stores.index.listOpen()).entries).toEqual([]);
}

describe('bulk recovery', () => {
  it(`a restarted coordinator folds ${N} sagas without checkpoints from one scan`, async () => {
    const stores = memoryStores();
    const before = await midFlight(stores);
    expect(before.filter((c) => c.startsWith('reserveStock@'))).toHaveLength(N);

    const s = spy(stores.journal);
    const log: string[] = [];
    const b = await open(stores, binding(log, false), 'c1');
    const report = await b.recover();
    expect(report).toMatchObject({ listed: N, recovered: N, failed: 0, repaired: 0 });
    // one scan for all of them, from the start (the crashed coordinator's low-water seq), and no per-saga read
    expect(s.scans).toEqual([{ fromSeq: 1, sagas: N }]);
    expect(s.reads).toEqual([]);
    await expectAllCompleted(b, stores, log, 6, 5); // + the restart's marker
  });

  it('restores sagas from current checkpoints without reading their journals: the takeover marker proves them current', async () => {
    const stores = memoryStores();
    // init, reserved, charged: a checkpoint every 3 entries is the last entry of each
    await midFlight(stores, { checkpointEvery: 3 });
    expect((await stores.checkpoints.keys()).sort()).toEqual(IDS);

    const s = spy(stores.journal);
    const log: string[] = [];
    const b = await open(stores, binding(log, false), 'c1', 3);
    expect(await b.recover()).toMatchObject({ listed: N, recovered: N, failed: 0, repaired: 0 });
    expect(s.scans).toEqual([]);
    expect(s.reads).toEqual([]);
    await expectAllCompleted(b, stores, log, 6, 5);
    expect(await stores.checkpoints.keys()).toEqual([]);
  });

  it('a checkpoint with entries after it: the marker conflicts, the saga is read from its checkpoint on, and resumes exactly where it stopped', async () => {
    const stores = memoryStores();
    // a checkpoint every 2 entries: entry 3 (charged) came after it
    await midFlight(stores, { checkpointEvery: 2 });
    const seqOf = new Map<string, number>();
    for (const id of IDS) seqOf.set(id, (await stores.journal.read(id))[1]!.seq);

    const s = spy(stores.journal);
    const log: string[] = [];
    const b = await open(stores, binding(log, false), 'c1', 2);
    expect(await b.recover()).toMatchObject({ listed: N, recovered: N, failed: 0, repaired: 0 });
    expect(s.scans).toEqual([]);
    // each saga read once, from just after its checkpoint
    expect(s.reads.map((r) => r.sagaId).sort()).toEqual(IDS);
    for (const r of s.reads) expect(r.fromSeq).toBe(seqOf.get(r.sagaId)! + 1);
    await expectAllCompleted(b, stores, log, 6, 5);
  });

  it('scans from the low-water seq and reads on their own the sagas that began below it', async () => {
    const stores = memoryStores();
    await midFlight(stores);
    const firstSeq = new Map<string, number>();
    for (const id of IDS) firstSeq.set(id, (await stores.journal.read(id))[0]!.seq);
    const lowWater = firstSeq.get(IDS[N / 2]!)!;
    // a low-water mark that is wrong (too high): half the sagas began below it
    await patchLease(stores, 'c1', (r) => ({ ...r, lowWaterSeq: lowWater }));

    const s = spy(stores.journal);
    const log: string[] = [];
    const b = await open(stores, binding(log, false), 'c1');
    expect(await b.recover()).toMatchObject({ recovered: N, failed: 0 });
    expect(s.scans).toEqual([{ fromSeq: lowWater, sagas: N }]);
    const below = IDS.filter((id) => firstSeq.get(id)! < lowWater);
    expect(below.length).toBe(N / 2);
    expect(s.reads.map((r) => r.sagaId).sort()).toEqual(below);
    expect(s.reads.every((r) => r.fromSeq === undefined)).toBe(true);

    await expectAllCompleted(b, stores, log, 6, 5); // + the restart's marker
  });

  it('leaves sagas with a stored checkpoint out of the low-water seq: the scan begins at the first saga without one', async () => {
    const stores = memoryStores();
    const early = IDS.slice(0, N / 2);
    const late = IDS.slice(N / 2);
    // Early sagas hold in ship with a checkpoint of their last entry (every 3: init, reserved,
    // charged); late ones, started after them, hold in reserve with no checkpoint (init only).
    const held: string[] = [];
    const holding = binding(held, true);
    const a = await open(stores, { ...holding, steps: { ...holding.steps, reserveStock: (input, ctx) => (late.includes(ctx.sagaId) ? holding.steps.shipOrder!(input, ctx) : holding.steps.reserveStock!(input, ctx)) } }, 'c1', 3);
    for (const id of early) await a.start('order', { order: id }, { id });
    await until(() => held.filter((c) => c.startsWith('shipOrder@')).length === early.length);
    await until(async () => (await stores.checkpoints.keys()).length === early.length);
    for (const id of late) await a.start('order', { order: id }, { id });
    await until(() => held.filter((c) => c.startsWith('shipOrder@')).length === N);
    await a.close();

    const lateFirst = Math.min(...(await Promise.all(late.map(async (id) => (await stores.journal.read(id))[0]!.seq))));
    const earlyLast = Math.max(...(await Promise.all(early.map(async (id) => (await stores.journal.read(id)).at(-1)!.seq))));
    expect(lateFirst).toBeGreaterThan(earlyLast);
    const record = JSON.parse(new TextDecoder().decode((await stores.coordinators.get('c1'))!.value)) as CoordinatorRecord;
    expect(record.lowWaterSeq).toBe(lateFirst);

    const s = spy(stores.journal);
    const log: string[] = [];
    const b = await open(stores, binding(log, false), 'c1', 3);
    expect(await b.recover()).toMatchObject({ listed: N, recovered: N, failed: 0, repaired: 0 });
    // the early sagas restored from their checkpoints, the late ones from a scan that starts past the early ones
    expect(s.scans).toEqual([{ fromSeq: lateFirst, sagas: late.length }]);
    expect(s.reads).toEqual([]);
    const infos = await Promise.all(IDS.map((id) => b.wait(id, { timeoutMs: 10_000 })));
    expect(infos.map((i) => i.status)).toEqual(IDS.map(() => 'completed'));
    // only the steps in flight ran again (same keys), then the rest; none twice
    for (const id of early) expect(log.filter((c) => c.startsWith('shipOrder@') && c.includes(`@${id}:`))).toEqual([`shipOrder@${id}:3:ship`]);
    expect(log.filter((c) => c.startsWith('reserveStock@')).sort()).toEqual(late.map((id) => `reserveStock@${id}:1:reserve`).sort());
    expect(new Set(log).size).toBe(log.length);
    for (const id of IDS) {
      const records = (await stores.journal.read(id)).map((e) => decodeRecord(e.data, e));
      expect(records.map((r) => r.no)).toEqual(records.map((_, i) => i + 1));
      const done = records.flatMap((r) => ('event' in r && r.event.type.startsWith('xstate.done.actor.') ? [r.event.type] : []));
      expect(done).toEqual([...new Set(done)]);
    }
  });

  it('a low-water mark past the end of the journal: every saga is read on its own', async () => {
    const stores = memoryStores();
    await midFlight(stores);
    const last = await stores.journal.lastSeq();
    await patchLease(stores, 'c1', (r) => ({ ...r, lowWaterSeq: last + 1 }));

    const s = spy(stores.journal);
    const log: string[] = [];
    const b = await open(stores, binding(log, false), 'c1');
    expect(await b.recover()).toMatchObject({ recovered: N, failed: 0 });
    expect(s.scans).toEqual([{ fromSeq: last + 1, sagas: N }]);
    expect(s.reads.map((r) => r.sagaId).sort()).toEqual(IDS);
    await expectAllCompleted(b, stores, log, 6, 5); // + the restart's marker
  });

  it('no low-water mark at all: scans the whole journal', async () => {
    const stores = memoryStores();
    await midFlight(stores);
    await patchLease(stores, 'c1', ({ lowWaterSeq: _drop, ...r }) => r);

    const s = spy(stores.journal);
    const log: string[] = [];
    const b = await open(stores, binding(log, false), 'c1');
    expect(await b.recover()).toMatchObject({ recovered: N, failed: 0 });
    expect(s.scans).toEqual([{ fromSeq: 1, sagas: N }]);
    expect(s.reads).toEqual([]);
    await expectAllCompleted(b, stores, log, 6, 5); // + the restart's marker
  });

  it('reads each saga on its own when the scan would read too many unrelated entries', async () => {
    const stores = memoryStores();
    await midFlight(stores);
    // other traffic: more than 200 entries per saga to recover lie after the low-water seq
    let seq = 0;
    for (let i = 0; i <= N * 200; i++) seq = (await stores.journal.append('noise', new Uint8Array([1]), { expectedLastSeq: seq, msgId: `n${i}` })).seq;

    const s = spy(stores.journal);
    const log: string[] = [];
    const b = await open(stores, binding(log, false), 'c1');
    expect(await b.recover()).toMatchObject({ recovered: N, failed: 0 });
    expect(s.scans).toEqual([]);
    expect(s.reads.map((r) => r.sagaId).sort()).toEqual(IDS);
    await expectAllCompleted(b, stores, log, 6, 5); // + the restart's marker
  });

  it('below 32 candidates it reads each saga on its own', async () => {
    const stores = memoryStores();
    const log: string[] = [];
    const a = await open(stores, binding(log, true), 'c1');
    const few = IDS.slice(0, 31);
    for (const id of few) await a.start('order', { order: id }, { id });
    await until(() => log.filter((c) => c.startsWith('shipOrder@')).length === few.length);
    await crash(a, stores);

    const s = spy(stores.journal);
    const b = await open(stores, binding([], false), 'c1');
    expect(await b.recover()).toMatchObject({ recovered: few.length });
    expect(s.scans).toEqual([]);
    expect(s.reads.map((r) => r.sagaId).sort()).toEqual(few);
  });

  it('another coordinator takes over all sagas of one that shut down cleanly, marking each takeover once', async () => {
    const stores = memoryStores();
    await midFlight(stores, { graceful: true });
    const log: string[] = [];
    const b = await open(stores, binding(log, false), 'c2');
    expect(await b.recover()).toMatchObject({ listed: N, recovered: N, failed: 0, lostRace: 0, skippedLiveOwner: 0 });
    // init, reserve, charge, takeover, ship, notify; notify spawned by entry 5
    await expectAllCompleted(b, stores, log, 6, 5);
    for (const id of IDS) {
      const view = await b.events(id);
      expect(view[3]!.takeover).toMatchObject({ owner: 'c2', from: 'c1', epoch: 2 });
    }
  });

  it("a pass that lists only a live coordinator's sagas claims none and reads nothing of their journals", async () => {
    const stores = memoryStores();
    const log: string[] = [];
    const a = await open(stores, binding(log, true), 'c1');
    for (const id of IDS) await a.start('order', { order: id }, { id });
    await until(() => log.filter((c) => c.startsWith('shipOrder@')).length === N);

    const s = spy(stores.journal);
    const b = await open(stores, binding([], false), 'c2');
    expect(await b.recover()).toMatchObject({ listed: N, recovered: 0, skippedLiveOwner: N, failed: 0 });
    expect(s.scans).toEqual([]);
    expect(s.reads).toEqual([]);
    expect((await stores.index.listOpen()).entries.map((e) => e.record.owner)).toEqual(IDS.map(() => 'c1'));
  });
});

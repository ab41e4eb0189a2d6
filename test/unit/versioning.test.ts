/**
 * Machine versions and the registry: a journal is replayed only by the version that wrote it
 * or by one that declares `resumesFrom` it; bindings are checked when registered.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createMachine, fromPromise } from 'xstate';
import { defineSaga } from '../../machines/kit/index.js';
import { MachineVersionMismatchError, UnknownMachineError } from '../../src/errors.js';
import { decodeRecord, isInitRecord } from '../../src/journal/codec.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { crash } from '../helpers/lease.js';
import { foldSaga } from '../../src/runtime/fold.js';
import { MachineRegistry } from '../../src/runtime/registry.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { memoryStores, type RuntimeStores } from '../../src/runtime/stores.js';
import type { SagaBinding, StepFn } from '../../src/runtime/types.js';
import { ORDER_STEPS, ORDER_UNDOS, orderMachine } from '../fixtures/order-saga.js';
import { until } from '../helpers/until.js';

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.close()));
});

interface Calls {
  readonly log: string[];
}

/** Order steps that all succeed, except `shipOrder`, which never returns when `hold` is set. */
function steps(calls: Calls, hold: boolean): Record<string, StepFn> {
  const out: Record<string, StepFn> = {};
  for (const name of [...ORDER_STEPS, ...ORDER_UNDOS]) {
    out[name] = (_input, ctx) => {
      calls.log.push(`${name}@${ctx.idempotencyKey}`);
      if (hold && name === 'shipOrder') return new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
      return { step: name };
    };
  }
  return out;
}

const binding = (version: number, calls: Calls, extra: Partial<SagaBinding> = {}, hold = false): SagaBinding => ({
  id: 'order',
  version,
  machine: orderMachine,
  steps: steps(calls, hold),
  ...extra,
});

async function runtime(stores: RuntimeStores, machines: SagaBinding[], owner = 'c1'): Promise<Runtime> {
  const rt = await createRuntime({ machines, stores, owner, recoverOnStart: false, recoverIntervalMs: 0 });
  runtimes.push(rt);
  return rt;
}


/** Starts saga `id` on order@1 and leaves it mid-flight (ship in progress) by crashing. */
async function startedOnV1(stores: RuntimeStores, id = 'v'): Promise<void> {
  const calls = { log: [] };
  const a = await runtime(stores, [binding(1, calls, {}, true)]);
  await a.start('order', { order: id }, { id });
  await until(async () => (await a.get(id)).pending.some((p) => p.id === 'ship'));
  await crash(a, stores);
}

describe('versioning: replaying a journal written by another version', () => {
  it('refuses a saga started on order@1 when only order@2 is registered', async () => {
    const stores = memoryStores();
    await startedOnV1(stores);
    const calls = { log: [] };
    const b = await runtime(stores, [binding(2, calls)]);

    const report = await b.recover();
    expect(report).toMatchObject({ listed: 1, recovered: 0, failed: 1 });
    expect(b.loadedSagaIds()).toEqual([]);
    expect(calls.log).toEqual([]);

    const err = await b.send('v', { type: 'saga.cancel' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MachineVersionMismatchError);
    expect(err).toMatchObject({
      code: 'MACHINE_VERSION_MISMATCH',
      status: 409,
      details: { sagaId: 'v', machine: 'order', journaled: 1, available: [2] },
    });
    expect((err as Error).message).toBe(
      'saga "v" was started on order@1, but this coordinator has order@2; register order@1 or declare resumesFrom: [1] on a newer version',
    );

    // get() still answers, from the index, with the problem named
    const info = await b.get('v');
    expect(info).toMatchObject({ id: 'v', machine: 'order', version: 1, status: 'running', problem: expect.stringContaining('order@1') });
    // nothing was appended by the refusing coordinator
    expect((await stores.journal.read('v')).length).toBe(3);
  });

  it('resumes it when order@2 declares resumesFrom: [1], re-running only the step in flight', async () => {
    const stores = memoryStores();
    await startedOnV1(stores);
    const calls = { log: [] as string[] };
    const b = await runtime(stores, [binding(2, calls, { resumesFrom: [1] })]);
    expect(await b.recover()).toMatchObject({ recovered: 1, failed: 0 });
    const info = await b.wait('v', { timeoutMs: 5_000 });
    expect(info).toMatchObject({ status: 'completed', version: 2 });
    // Entry 4 is the marker of the restart (a new incarnation fences the old one's appends).
    expect(calls.log).toEqual(['shipOrder@v:3:ship', 'notifyCustomer@v:5:notify']);
    // the journal still says where the saga began
    const first = decodeRecord((await stores.journal.read('v'))[0]!.data, { sagaId: 'v', seq: 1 });
    expect(isInitRecord(first) && first.init).toMatchObject({ machine: 'order', version: 1 });
  });

  it('prefers the exact version over one that resumes from it, and starts new sagas on the newest', async () => {
    const calls = { log: [] };
    const v1 = binding(1, calls);
    const v2 = binding(2, calls, { resumesFrom: [1] });
    const v3 = binding(3, calls, { resumesFrom: [1, 2] });
    const registry = new MachineRegistry([v1, v3, v2]);
    expect(registry.forReplay('s', 'order', 1)).toBe(v1);
    expect(registry.forReplay('s', 'order', 2)).toBe(v2);
    expect(registry.latest('order')).toBe(v3);
    expect(new MachineRegistry([v2, v3]).forReplay('s', 'order', 1)).toBe(v3);

    const stores = memoryStores();
    const rt = await runtime(stores, [v1, v2, v3]);
    expect((await rt.start('order', { order: 'n' }, { id: 'n' })).version).toBe(3);
    expect((await stores.index.get('n'))!.record.machine).toBe('order@3');
  });

  it('refuses a downgrade: a saga started on order@2 cannot be replayed by order@1', () => {
    const registry = new MachineRegistry([binding(1, { log: [] })]);
    const entries = [{ sagaId: 'd', seq: 7, msgId: undefined, data: new TextEncoder().encode(JSON.stringify({ no: 1, at: 5, init: { machine: 'order', version: 2, input: {} } })) }];
    expect(() => foldSaga(registry, 'd', entries)).toThrow(
      expect.objectContaining({
        code: 'MACHINE_VERSION_MISMATCH',
        message: expect.stringMatching(/started on order@2, but this coordinator has order@1; register order@2 or declare resumesFrom: \[2\]/),
      }),
    );
  });

  it('names an unknown machine with the ones it knows', () => {
    const registry = new MachineRegistry([binding(1, { log: [] })]);
    expect(() => registry.forReplay('s', 'invoice', 1)).toThrow(UnknownMachineError);
    expect(() => registry.latest('invoice')).toThrow(/unknown machine "invoice" \(known: order\)/);
    expect(() => new MachineRegistry([]).latest('x')).toThrow(/unknown machine "x" \(no machines registered\)/);
  });

  it('a coordinator without the machine skips the saga and reports it as foreign', async () => {
    const stores = memoryStores();
    await startedOnV1(stores);
    const other = defineSaga({ id: 'other', steps: [{ name: 'a', run: 'a' }] });
    const b = await runtime(stores, [{ id: 'other', version: 1, machine: other, steps: { a: () => 1 } }]);
    expect(await b.recover()).toMatchObject({ listed: 1, skippedForeignMachine: 1, recovered: 0, failed: 0 });
    await expect(b.send('v', { type: 'saga.cancel' })).rejects.toMatchObject({ code: 'UNKNOWN_MACHINE', message: expect.stringContaining('order@1') });
    await expect(b.start('order', {})).rejects.toMatchObject({ code: 'UNKNOWN_MACHINE', message: 'unknown machine "order" (known: other)' });
  });
});

describe('registry: bindings are checked when registered', () => {
  const calls = { log: [] };

  it('refuses a step the machine invokes but the binding does not implement, naming the state', () => {
    const { shipOrder: _missing, ...rest } = steps(calls, false);
    let error: unknown;
    try {
      new MachineRegistry([{ ...binding(1, calls), steps: rest }]);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', details: { machine: 'order@1', problems: ['state "order.ship.running", invoke "ship": no step implementation named "shipOrder"'] } });
    expect((error as Error).message).toContain('machine order@1 cannot run here');
  });

  it('refuses a src missing from setup({ actors }) and inline logic', () => {
    const inline = createMachine({ id: 'inl', initial: 'a', states: { a: { invoke: { id: 'x', src: fromPromise(async () => 1) } } } });
    expect(() => new MachineRegistry([{ id: 'inl', version: 1, machine: inline, steps: {} }])).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/machine inl@1 cannot run here[\s\S]*state "inl\.a", invoke "x"/) }),
    );
  });

  it('refuses a machine registered twice at the same version, but not two versions', () => {
    expect(() => new MachineRegistry([binding(1, calls), binding(1, calls)])).toThrow(/machine order@1 is registered twice/);
    expect(new MachineRegistry([binding(1, calls), binding(2, calls)]).all().map((b) => b.version)).toEqual([2, 1]);
  });

  it.each([
    [{ id: 'bad.id' }, /machine id "bad\.id" must match/],
    [{ id: '' }, /machine id "" must match/],
    [{ version: 0 }, /machine order: version must be a positive integer, got 0/],
    [{ version: 1.5 }, /version must be a positive integer, got 1\.5/],
  ] as Array<[Partial<SagaBinding>, RegExp]>)('refuses %o', (patch, message) => {
    expect(() => new MachineRegistry([{ ...binding(1, calls), ...patch }])).toThrow(message);
  });

  it('createRuntime fails at start-up on an invalid binding, before taking a lease', async () => {
    const stores = memoryStores();
    const { chargeCard: _missing, ...rest } = steps(calls, false);
    await expect(createRuntime({ machines: [{ ...binding(1, calls), steps: rest }], stores, owner: 'x', recoverOnStart: false, recoverIntervalMs: 0 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('no step implementation named "chargeCard"'),
    });
    await expect(createRuntime({ machines: [binding(1, calls), binding(1, calls)], stores, owner: 'x', recoverOnStart: false, recoverIntervalMs: 0 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(await stores.coordinators.keys()).toEqual([]);
  });
});

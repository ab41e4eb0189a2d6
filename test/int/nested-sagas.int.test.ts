/**
 * Nested sagas on the real runtime over a real nats-server (test/fixtures/nest-saga.ts: `tree`
 * runs two `leaf` children, then `finish`): a parent that completes releases its children; one
 * that fails after both compensates them in reverse order; a parent whose coordinator dies
 * mid-child is recovered by another and attaches to the child it started (one child per step);
 * a child whose undo fails terminally is blocked and blocks its parent, each pointing at the
 * other, and an operator resolving the child then retrying the parent finishes both; a child
 * driven by another live coordinator is waited for, released and compensated; retention
 * keeps a finished child while its parent lives, and purges it with its parent; `jetsaga sagas
 * show` names a parent's children and a child's parent.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { SagaEventType, type SagaContext } from '../../machines/kit/index.js';
import { loadConfig } from '../../src/config.js';
import { Coordinator } from '../../src/coordinator.js';
import { connectNats } from '../../src/nats/connect.js';
import { childSagaId } from '../../src/runtime/child-id.js';
import { createRuntime, type RuntimeOptions } from '../../src/runtime/create-runtime.js';
import { openNatsStores } from '../../src/runtime/nats-stores.js';
import { RetentionSweeper } from '../../src/runtime/retention.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { nestBindings, NestControls, type TreeInput } from '../fixtures/nest-saga.js';
import { runCli } from '../helpers/cli.js';
import { doneActors, expectWellFormed, takeoversOf } from '../helpers/journal-checks.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { until } from '../helpers/until.js';

let server: NatsServerHandle;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: 'nested-sagas-test' });
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

const TREE: TreeInput = { a: { tag: 'a' }, b: { tag: 'b' } };
const first = (parent: string): string => childSagaId(parent, 'first');
const second = (parent: string): string => childSagaId(parent, 'second');

/** A runtime on the test's server, closed when the test ends (each with its own connection, as a process would have). */
async function runtime(ctx: TestContext, namespace: string, controls: NestControls, options: Partial<RuntimeOptions> = {}): Promise<Runtime> {
  const rt = await createRuntime({ servers: server.url, namespace, owner: 'nest-a', machines: nestBindings(controls), recoverOnStart: false, recoverIntervalMs: 0, ...options });
  ctx.onTestFinished(() => rt.close());
  return rt;
}

/** Starts a tree whose `finish` fails and whose first child's undo is broken; resolves once the parent is blocked. */
async function blockedTree(rt: Runtime, controls: NestControls, id: string): Promise<void> {
  controls.brokenUndo.add('a');
  await rt.start('tree', { ...TREE, failFinish: true }, { id });
  expect((await rt.wait(id, { timeoutMs: 30_000 })).status).toBe('blocked');
}

describe('nested sagas', () => {
  it('a parent with two children completes and then releases them', async (ctx) => {
    const controls = new NestControls();
    const rt = await runtime(ctx, 'nest1', controls);
    await rt.start('tree', TREE, { id: 'p1' });
    const done = await rt.wait('p1', { timeoutMs: 30_000 });
    expect(done.status).toBe('completed');
    const outputs = (done.context as SagaContext).outputs;
    expect(outputs.first).toEqual({ sagaId: first('p1'), outputs: { work: { did: 'a' } }, error: null, warnings: [] });
    expect(outputs.second).toMatchObject({ sagaId: second('p1'), outputs: { work: { did: 'b' } } });
    // Released once the parent ended: completed, with a pointer to the parent.
    for (const [child, step] of [[first('p1'), 'first'], [second('p1'), 'second']] as const) {
      const info = await rt.wait(child, { until: ['completed'], timeoutMs: 30_000 });
      expect(info).toMatchObject({ status: 'completed', state: 'completed', parent: { sagaId: 'p1', step } });
      expect((await rt.events(child)).some((e) => e.event?.type === SagaEventType.Release)).toBe(true);
    }
    expect((await rt.show('p1')).children).toEqual([
      { sagaId: first('p1'), step: 'first', machine: 'leaf', status: 'completed' },
      { sagaId: second('p1'), step: 'second', machine: 'leaf', status: 'completed' },
    ]);
    expect(controls.of('unwork')).toEqual([]);
  });

  it('a failure after both children compensates them in reverse order', async (ctx) => {
    const controls = new NestControls();
    const rt = await runtime(ctx, 'nest2', controls);
    await rt.start('tree', { ...TREE, failFinish: true }, { id: 'p2' });
    expect((await rt.wait('p2', { timeoutMs: 30_000 })).status).toBe('compensated');
    expect(controls.of('unwork').map((c) => [c.tag, c.outcome])).toEqual([['b', 'ok'], ['a', 'ok']]);
    for (const child of [first('p2'), second('p2')]) {
      const info = await rt.get(child);
      expect(info.status).toBe('compensated');
      expect((info.context as SagaContext).error).toMatchObject({ code: 'PARENT_COMPENSATING' });
    }
    // The parent journaled each child's compensation as its undo's result, second first.
    const undone = doneActors(await rt.events('p2')).filter((a) => a.startsWith('undo.'));
    expect(undone).toEqual(['undo.second', 'undo.first']);
  });

  it('a parent whose coordinator dies mid-child is recovered elsewhere and attaches to the same child', async (ctx) => {
    const controls = new NestControls();
    controls.hold('a');
    const a = await runtime(ctx, 'nest3', controls, { owner: 'nest-a', leaseTtlMs: 2_000 });
    await a.start('tree', TREE, { id: 'p3' });
    // (Unknown until the parent's child step has started it.)
    await until(async () => ((await a.get(first('p3')).catch(() => undefined))?.pending.length ?? 0) > 0, 20_000, "the first child's work to start");
    // A crash: the steps stop, nothing is handed back; B waits out A's lease.
    await a.close({ graceful: false });
    expect(controls.of('work', 'a').map((c) => c.outcome)).toEqual(['aborted']);
    controls.open('a');

    const b = await runtime(ctx, 'nest3', controls, { owner: 'nest-b', leaseTtlMs: 2_000, recoverIntervalMs: 200 });
    const done = await b.wait('p3', { timeoutMs: 30_000 });
    expect(done.status).toBe('completed');
    // Exactly one child per step: the one A started (its work re-run by B, same key) and the second.
    const { sagas } = await b.list();
    expect(sagas.map((s) => s.id).sort()).toEqual(['p3', first('p3'), second('p3')].sort());
    expect(controls.of('work', 'a').map((c) => c.outcome)).toEqual(['aborted', 'ok']);
    expect(controls.of('work', 'b').map((c) => c.outcome)).toEqual(['ok']);
    const journal = await b.events('p3');
    expectWellFormed(journal);
    expect(doneActors(journal)).toEqual(['first', 'second', 'finish']);
    await b.wait(first('p3'), { until: ['completed'], timeoutMs: 30_000 });
  });

  it('a child driven by another live coordinator is waited for through its journal, and released by its own coordinator', async (ctx) => {
    const controls = new NestControls();
    controls.hold('a');
    const a = await runtime(ctx, 'nest7', controls, { owner: 'nest-a' });
    const b = await runtime(ctx, 'nest7', controls, { owner: 'nest-b', recoverIntervalMs: 200 });
    // B starts the first child itself (as if B had recovered it): A's parent attaches to it.
    await b.start('leaf', { $parent: { sagaId: 'p7', step: 'first' }, input: TREE.a }, { id: first('p7') });
    await a.start('tree', TREE, { id: 'p7' });
    await until(async () => (await a.get('p7')).pending.some((p) => p.id === 'first'), 20_000, "the parent's first step to run");
    expect(b.loadedSagaIds()).toContain(first('p7'));
    controls.open('a');
    expect((await a.wait('p7', { timeoutMs: 30_000 })).status).toBe('completed');
    // A cannot send to B's child; B sees its parent ended and releases it.
    expect((await b.wait(first('p7'), { until: ['completed'], timeoutMs: 30_000 })).status).toBe('completed');
    expect(controls.of('work', 'a').map((c) => c.outcome)).toEqual(['ok']);
    const listed = (await a.list()).sagas.map((s) => [s.id, s.parentId]);
    expect(listed.sort()).toEqual([['p7', undefined], [first('p7'), 'p7'], [second('p7'), 'p7']].sort());
  });

  it('a child driven by another live coordinator compensates when its parent undoes it', async (ctx) => {
    const controls = new NestControls();
    const a = await runtime(ctx, 'nest8', controls, { owner: 'nest-a' });
    const b = await runtime(ctx, 'nest8', controls, { owner: 'nest-b', recoverIntervalMs: 200 });
    await b.start('leaf', { $parent: { sagaId: 'p8', step: 'first' }, input: TREE.a }, { id: first('p8') });
    await a.start('tree', { ...TREE, failFinish: true }, { id: 'p8' });
    expect((await a.wait('p8', { timeoutMs: 30_000 })).status).toBe('compensated');
    expect((await a.get(first('p8'))).status).toBe('compensated');
    // B drove it throughout (no takeover), and journaled the parent's request as its own input.
    const childJournal = await a.events(first('p8'));
    expect(takeoversOf(childJournal)).toEqual([]);
    expect(childJournal.filter((e) => e.event?.type === SagaEventType.Compensate)).toHaveLength(1);
    // Undone in reverse order: the second child (on A) by A, the first (on B) by B.
    expect(controls.of('unwork').map((c) => c.tag)).toEqual(['b', 'a']);
    expect(doneActors(await a.events('p8')).filter((x) => x.startsWith('undo.'))).toEqual(['undo.second', 'undo.first']);
  });

  it('a child whose undo fails terminally is blocked and blocks its parent, each pointing at the other', async (ctx) => {
    const controls = new NestControls();
    const rt = await runtime(ctx, 'nest4', controls);
    await blockedTree(rt, controls, 'p4');
    // The second child was compensated first; the first is blocked on its broken undo.
    const parent = await rt.show('p4');
    expect((parent.context as SagaContext).undoError).toMatchObject({ step: 'first', code: 'CHILD_BLOCKED', retryable: false, details: { child: first('p4') } });
    expect(parent.children).toEqual([
      { sagaId: first('p4'), step: 'first', machine: 'leaf', status: 'blocked' },
      { sagaId: second('p4'), step: 'second', machine: 'leaf', status: 'compensated' },
    ]);
    const child = await rt.get(first('p4'));
    expect(child).toMatchObject({ status: 'blocked', parent: { sagaId: 'p4', step: 'first' } });
    expect((child.context as SagaContext).undoError).toMatchObject({ code: 'UNDO_BROKEN' });

    // An operator mends the undo and retries the child, then the parent: both end compensated.
    controls.brokenUndo.delete('a');
    expect(await rt.send(first('p4'), { type: SagaEventType.Retry })).toMatchObject({ accepted: true });
    expect((await rt.wait(first('p4'), { timeoutMs: 30_000 })).status).toBe('compensated');
    expect(await rt.send('p4', { type: SagaEventType.Retry })).toMatchObject({ accepted: true });
    expect((await rt.wait('p4', { timeoutMs: 30_000 })).status).toBe('compensated');
    expect(controls.of('unwork').map((c) => [c.tag, c.outcome])).toEqual([['b', 'ok'], ['a', 'error'], ['a', 'ok']]);
  });

  it('retention keeps a finished child while its parent lives, and purges it with its parent', async (ctx) => {
    const controls = new NestControls();
    const rt = await runtime(ctx, 'nest5', controls);
    const stores = await openNatsStores(nc, { namespace: 'nest5' });
    ctx.onTestFinished(() => stores.close?.());
    // Everything finished counts as expired: the sweep's clock is a day ahead.
    const sweeper = new RetentionSweeper({ ...stores, leaseKv: stores.checkpoints, holder: 'test', retainMs: 1_000, pauseMs: 0, now: () => Date.now() + 86_400_000 });
    ctx.onTestFinished(() => sweeper.stop());
    await blockedTree(rt, controls, 'p5');
    expect((await stores.index.get(second('p5')))?.record).toMatchObject({ status: 'compensated', parent: 'p5' });

    expect(await sweeper.sweep()).toMatchObject({ purged: 0 });
    expect(await stores.index.get(second('p5'))).not.toBeNull();
    expect((await rt.events(second('p5'))).length).toBeGreaterThan(0);

    controls.brokenUndo.delete('a');
    await rt.send(first('p5'), { type: SagaEventType.Retry });
    await rt.wait(first('p5'), { timeoutMs: 30_000 });
    await rt.send('p5', { type: SagaEventType.Retry });
    expect((await rt.wait('p5', { timeoutMs: 30_000 })).status).toBe('compensated');
    await until(async () => (await stores.index.get('p5'))?.record.status === 'compensated', 10_000, "the parent's record to be finished");
    expect(await sweeper.sweep()).toMatchObject({ purged: 3, failed: 0 });
    for (const id of ['p5', first('p5'), second('p5')]) expect(await stores.index.get(id)).toBeNull();
  });

  it('jetsaga sagas show lists a parent\'s children and a child\'s parent, as text and JSON', async (ctx) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'jetsaga-nest-'));
    ctx.onTestFinished(() => rm(dataDir, { recursive: true, force: true }));
    // No registry runs: admission does not wait for one.
    const config = loadConfig({ nats: server.url, registry: `127.0.0.1:${await freePort()}`, namespace: 'nest6', owner: 'nest-svc', dataDir }, {});
    const coordinator = new Coordinator({ config, machines: nestBindings(new NestControls()), service: true, healthIntervalMs: 300, recoverIntervalMs: 0 });
    ctx.onTestFinished(() => coordinator.stop());
    await coordinator.start();
    await coordinator.runtime.start('tree', TREE, { id: 'p6' });
    await coordinator.runtime.wait('p6', { timeoutMs: 30_000 });
    await coordinator.runtime.wait(second('p6'), { until: ['completed'], timeoutMs: 30_000 });
    const cli = (args: string[]) => runCli([...args, '--nats', server.url, '--namespace', 'nest6'], {}, 60_000);

    const json = await cli(['sagas', 'show', 'p6', '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      id: 'p6',
      status: 'completed',
      children: [
        { sagaId: first('p6'), step: 'first', machine: 'leaf', status: 'completed' },
        { sagaId: second('p6'), step: 'second', machine: 'leaf', status: 'completed' },
      ],
    });
    const text = await cli(['sagas', 'show', 'p6']);
    expect(text.stdout).toContain(`children:\n  first  ${first('p6')}  leaf  completed\n  second  ${second('p6')}  leaf  completed`);
    const child = await cli(['sagas', 'show', first('p6'), '--json']);
    expect(JSON.parse(child.stdout)).toMatchObject({ id: first('p6'), parent: { sagaId: 'p6', step: 'first' } });
    expect((await cli(['sagas', 'show', first('p6')])).stdout).toContain('parent:  p6 (step first)');
  }, 120_000);
});

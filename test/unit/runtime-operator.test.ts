/**
 * Runtime support for the operator actions, on in-memory stores: `list({ machine })` pages
 * through the sagas of one machine however many of another come between them, and
 * `send(..., { onlyIn })` delivers an event only in the statuses given, journaling nothing
 * otherwise.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SagaEventType } from '../../machines/kit/tags.js';
import { SagaStatus } from '../../src/journal/index-store.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { orderBinding } from '../fixtures/order-saga.js';
import { tidyBinding, type TidyCall } from '../fixtures/tidy-saga.js';
import { memoryCluster, type Cluster } from '../helpers/memory-cluster.js';

let cluster: Cluster;
let dir: string | undefined;
afterEach(async () => {
  await cluster?.closeAll();
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function allPages(rt: Runtime, options: { machine?: string; status?: SagaStatus; limit: number }): Promise<string[][]> {
  const pages: string[][] = [];
  let after: string | undefined;
  for (;;) {
    const page = await rt.list({ ...options, after });
    pages.push(page.sagas.map((s) => s.id));
    if (!page.next) return pages;
    after = page.next;
  }
}

describe('list({ machine })', () => {
  it('fills each page with sagas of that machine, however many of another lie between them', async () => {
    cluster = memoryCluster();
    const rt = await cluster.open('a', { machines: [orderBinding(), tidyBinding()] });
    // Ids sort order sagas around and between the tidy ones: 12 order sagas, 3 tidy.
    const ids = { order: [] as string[], tidy: [] as string[] };
    for (let i = 0; i < 15; i++) {
      const machine = i % 5 === 2 ? 'tidy' : 'order';
      const id = `s${String(i).padStart(2, '0')}`;
      ids[machine].push(id);
      await rt.start(machine, machine === 'order' ? { order: id } : {}, { id });
    }
    for (const id of [...ids.order, ...ids.tidy]) await rt.wait(id);

    const first = await rt.list({ machine: 'tidy', limit: 2 });
    expect(first.sagas.map((s) => [s.id, s.machine])).toEqual([
      ['s02', 'tidy'],
      ['s07', 'tidy'],
    ]);
    expect(first.next).toBe('s07');
    expect(await allPages(rt, { machine: 'tidy', limit: 2 })).toEqual([['s02', 's07'], ['s12']]);
    expect(await allPages(rt, { machine: 'tidy', limit: 1 })).toEqual([['s02'], ['s07'], ['s12'], []]);
    expect((await allPages(rt, { machine: 'order', limit: 5 })).flat()).toEqual(ids.order);
    // With a status too; and a machine nobody runs.
    expect((await rt.list({ machine: 'tidy', status: SagaStatus.Completed, limit: 10 })).sagas.map((s) => s.id)).toEqual(ids.tidy);
    expect(await rt.list({ machine: 'tidy', status: SagaStatus.Running, limit: 10 })).toEqual({ sagas: [], next: undefined });
    expect(await rt.list({ machine: 'nobody', limit: 10 })).toEqual({ sagas: [], next: undefined });
  });
});

describe('send(..., { onlyIn })', () => {
  it('journals nothing in another status, and delivers in one of those given', async () => {
    dir = await mkdtemp(join(tmpdir(), 'jetsaga-onlyin-'));
    const broken = join(dir, 'broken');
    await writeFile(broken, '');
    const calls: TidyCall[] = [];
    cluster = memoryCluster();
    const rt = await cluster.open('a', { machines: [tidyBinding((c) => calls.push(c))] });
    await rt.start('tidy', { failVerify: true, brokenUndo: { deprovision: broken } }, { id: 'b' });
    expect((await rt.wait('b')).status).toBe(SagaStatus.Blocked);
    const entries = (await rt.events('b')).length;

    // Not delivered while the saga is in none of the statuses given: nothing journaled.
    const refused = await rt.send('b', { type: SagaEventType.Skip }, { onlyIn: [SagaStatus.Running] });
    expect(refused).toMatchObject({ accepted: false, status: SagaStatus.Blocked, state: 'blocked', entryNo: entries });
    expect(await rt.events('b')).toHaveLength(entries);

    const skipped = await rt.send('b', { type: SagaEventType.Skip }, { onlyIn: [SagaStatus.Blocked] });
    expect(skipped).toMatchObject({ accepted: true, entryNo: entries + 1 });
    expect((await rt.wait('b')).status).toBe(SagaStatus.Compensated);
    expect(calls.filter((c) => c.step === 'deprovision').map((c) => c.outcome)).toEqual(['error']);
    expect(calls.filter((c) => c.step === 'release').map((c) => c.outcome)).toEqual(['ok']);
  });
});

/**
 * Operator actions on blocked sagas through the service API, against a real nats-server and a
 * Coordinator running the tidy test saga (test/fixtures/tidy-saga.ts), whose `deprovision`
 * undo fails terminally while a file exists: the saga blocks on it; `sagas.retry` once it is
 * mended compensates; `sagas.skip` compensates without running it again; `sagas.abandon` ends
 * the saga cancelled in state abandoned, naming what was left undone, and runs nothing more.
 * Every action on a saga that is not blocked is NOT_BLOCKED (409), journaling nothing. And
 * `sagas.list --machine` pages over the sagas of one machine among many of another.
 */
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Coordinator } from '../../src/coordinator.js';
import type { SagaError } from '../../src/errors.js';
import { JetsagaClient } from '../../src/service/client.js';
import { Endpoint, endpointSubject } from '../../src/service/subjects.js';
import { orderBinding } from '../fixtures/order-saga.js';
import { tidyBinding, type TidyCall, type TidyInput } from '../fixtures/tidy-saga.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { until } from '../helpers/until.js';

const namespace = `blk${process.pid}`;

let server: NatsServerHandle;
let registry: RegistryHandle;
let coordinator: Coordinator;
let nc: NatsConnection;
let client: JetsagaClient;
let tmp: string;
const calls: TidyCall[] = [];

beforeAll(async () => {
  [server, registry] = await Promise.all([startNatsServer(), startRegistry()]);
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-blocked-'));
  const config = loadConfig({ nats: server.url, registry: `127.0.0.1:${registry.port}`, namespace, owner: 'blk-a', dataDir: join(tmp, 'data') }, {});
  coordinator = new Coordinator({ config, machines: [tidyBinding((c) => calls.push(c)), orderBinding()], service: true, healthIntervalMs: 300, recoverIntervalMs: 0 });
  await coordinator.start();
  nc = await connect({ servers: server.url });
  client = JetsagaClient.connect(nc, { namespace });
}, 120_000);

afterAll(async () => {
  await nc?.close();
  await coordinator?.stop();
  await Promise.all([server?.stop(), registry?.stop()]);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<SagaError> {
  try {
    await p;
  } catch (e) {
    return e as SagaError;
  }
  throw new Error('resolved');
}

const callsOf = (sagaId: string, step: string): string[] => calls.filter((c) => c.sagaId === sagaId && c.step === step).map((c) => c.outcome);

/** Starts a tidy saga that fails and blocks on `deprovision`; resolves once it is blocked. Returns the file that breaks it. */
async function blockedSaga(id: string): Promise<string> {
  const broken = join(tmp, `${id}.broken`);
  await writeFile(broken, '');
  const input: TidyInput = { failVerify: true, brokenUndo: { deprovision: broken } };
  await coordinator.runtime.start('tidy', input, { id });
  const info = await coordinator.runtime.wait(id, { timeoutMs: 30_000 });
  expect(info.status).toBe('blocked');
  // What ran: forward steps, verify failed, unpublish undone, deprovision failed terminally (once).
  expect(callsOf(id, 'verify')).toEqual(['error']);
  expect(callsOf(id, 'unpublish')).toEqual(['ok']);
  expect(callsOf(id, 'deprovision')).toEqual(['error']);
  expect(callsOf(id, 'release')).toEqual([]);
  return broken;
}

describe('a saga blocked on a failed undo', () => {
  it('sagas.retry, once the undo is mended: it runs again and the saga compensates', async () => {
    const broken = await blockedSaga('retry-1');
    await unlink(broken);
    const r = await client.retrySaga('retry-1');
    expect(r).toMatchObject({ id: 'retry-1', accepted: true, status: 'compensating' });
    expect((await coordinator.runtime.wait('retry-1', { timeoutMs: 30_000 })).status).toBe('compensated');
    expect(callsOf('retry-1', 'deprovision')).toEqual(['error', 'ok']);
    expect(callsOf('retry-1', 'release')).toEqual(['ok']);
    const last = (await client.sagaEvents('retry-1')).events.map((e) => (e as { event?: { type: string } }).event?.type).filter(Boolean);
    expect(last).toContain('saga.retry');
  });

  it('sagas.retry while the undo is still broken: it blocks again', async () => {
    await blockedSaga('retry-2');
    expect(await client.retrySaga('retry-2')).toMatchObject({ accepted: true });
    await until(async () => callsOf('retry-2', 'deprovision').length === 2, 30_000, 'the undo tried again');
    expect((await coordinator.runtime.wait('retry-2', { timeoutMs: 30_000 })).status).toBe('blocked');
    expect(callsOf('retry-2', 'release')).toEqual([]);
  });

  it('sagas.skip: the failed undo is not run again, the rest are undone', async () => {
    await blockedSaga('skip-1');
    const r = await client.skipSaga('skip-1');
    expect(r).toMatchObject({ id: 'skip-1', accepted: true });
    expect((await coordinator.runtime.wait('skip-1', { timeoutMs: 30_000 })).status).toBe('compensated');
    expect(callsOf('skip-1', 'deprovision')).toEqual(['error']);
    expect(callsOf('skip-1', 'release')).toEqual(['ok']);
  });

  it('sagas.abandon: cancelled in state abandoned, the failed undo and those never run named, none run', async () => {
    await blockedSaga('abandon-1');
    const r = await client.abandonSaga('abandon-1');
    expect(r).toMatchObject({ id: 'abandon-1', accepted: true, status: 'cancelled', state: 'abandoned' });
    const saga = await client.getSaga('abandon-1');
    expect(saga).toMatchObject({ status: 'cancelled', state: 'abandoned' });
    const context = saga.context as { abandoned: unknown; stack: Array<{ step: string }> };
    expect(context.abandoned).toEqual({
      failedUndo: { step: 'provision', undo: 'deprovision', error: expect.objectContaining({ code: 'UNDO_BROKEN', step: 'provision', retryable: false }) },
      notRun: [{ step: 'reserve', undo: 'release' }],
    });
    expect(context.stack.map((e) => e.step)).toEqual(['reserve', 'provision']);
    expect((saga.output as { abandoned?: unknown }).abandoned).toEqual(context.abandoned);
    // Listed as cancelled; nothing ran after the abandon, and nothing will.
    expect((await client.listSagas({ status: 'cancelled', machine: 'tidy' })).sagas.map((s) => s.id)).toContain('abandon-1');
    await coordinator.runtime.recover();
    expect(callsOf('abandon-1', 'deprovision')).toEqual(['error']);
    expect(callsOf('abandon-1', 'release')).toEqual([]);
  });
});

describe('on a saga that is not blocked', () => {
  const actions = [
    ['sagas.retry', (id: string) => client.retrySaga(id)],
    ['sagas.skip', (id: string) => client.skipSaga(id)],
    ['sagas.abandon', (id: string) => client.abandonSaga(id)],
  ] as const;

  it('each answers NOT_BLOCKED (409) naming its status, and journals nothing', async () => {
    await coordinator.runtime.start('tidy', {}, { id: 'fine-1' });
    expect((await coordinator.runtime.wait('fine-1', { timeoutMs: 30_000 })).status).toBe('completed');
    const gate = join(tmp, 'fine-2.go');
    await coordinator.runtime.start('tidy', { holdUntil: { provision: gate } }, { id: 'fine-2' });
    await until(async () => JSON.stringify((await coordinator.runtime.get('fine-2')).state) === '{"provision":"running"}', 30_000, 'fine-2 held in provision');
    try {
      for (const [id, status] of [
        ['fine-1', 'completed'],
        ['fine-2', 'running'],
      ] as const) {
        const before = (await client.sagaEvents(id)).events.length;
        for (const [endpoint, call] of actions) {
          const e = await rejection(call(id));
          expect([endpoint, e.code, e.status, e.retryable], e.message).toEqual([endpoint, 'NOT_BLOCKED', 409, false]);
          expect(e.message).toContain(`is ${status}`);
          expect(e.details).toMatchObject({ sagaId: id, status });
        }
        expect((await client.sagaEvents(id)).events).toHaveLength(before);
      }
    } finally {
      await writeFile(gate, '');
    }
    expect((await coordinator.runtime.wait('fine-2', { timeoutMs: 30_000 })).status).toBe('completed');
  });

  it('an abandoned saga is not blocked any more; an unknown one is UNKNOWN_SAGA (404)', async () => {
    await blockedSaga('abandon-2');
    await client.abandonSaga('abandon-2');
    for (const [, call] of actions) {
      const e = await rejection(call('abandon-2'));
      expect([e.code, e.message]).toEqual(['NOT_BLOCKED', expect.stringContaining('is cancelled')]);
      const unknown = await rejection(call('no-such-saga'));
      expect([unknown.code, unknown.status]).toEqual(['UNKNOWN_SAGA', 404]);
    }
  });

  it('the error reply carries the code in its headers', async () => {
    const m = await nc.request(endpointSubject(Endpoint.SagasSkip, `${namespace}.api`), JSON.stringify({ id: 'fine-1' }), { timeout: 30_000 });
    expect(m.headers?.get('Nats-Service-Error-Code')).toBe('409');
    expect(m.headers?.get('Jetsaga-Error-Code')).toBe('NOT_BLOCKED');
    expect(m.json<{ error: { code: string; details: { status: string } } }>().error).toMatchObject({ code: 'NOT_BLOCKED', details: { status: 'completed' } });
  });
});

describe('sagas.list with machine', () => {
  it('pages over the sagas of that machine, more sagas of another machine than the limit between them', async () => {
    // Ids that sort before, between and after the tidy sagas of this file.
    const orders = ['a-1', 'a-2', 'a-3', 'a-4', 'a-5', 'fine-0', 'm-1', 'm-2', 'm-3', 'z-1'];
    for (const id of orders) await coordinator.runtime.start('order', { order: id }, { id });
    for (const id of orders) await coordinator.runtime.wait(id, { timeoutMs: 30_000 });
    const tidy = (await coordinator.runtime.list({ limit: 1000 })).sagas.filter((s) => s.machine === 'tidy').map((s) => s.id);
    expect(tidy.length).toBeGreaterThanOrEqual(5);

    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(10);
      const page = await client.listSagas({ machine: 'tidy', limit: 2, ...(after ? { after } : {}) });
      expect(page.sagas.every((s) => s.machine === 'tidy')).toBe(true);
      if (page.next !== null) {
        expect(page.sagas).toHaveLength(2);
        expect(page.next).toBe(page.sagas.at(-1)!.id);
      }
      seen.push(...page.sagas.map((s) => s.id));
      if (page.next === null) break;
      after = page.next;
    }
    expect(seen).toEqual(tidy);
    const orderPage = await client.listSagas({ machine: 'order', limit: 3 });
    expect(orderPage.sagas.map((s) => s.id)).toEqual(['a-1', 'a-2', 'a-3']);
    expect(orderPage.next).toBe('a-3');
  });
});

/**
 * The visualizer as a user starts it: `jetsaga serve --ui 0` prints the page's URL in its
 * ready block and the URL answers; `jetsaga ui` against that coordinator; `jetsaga ui --offline`
 * (and `jetsaga ui` with NATS unreachable, which falls back to it) opens an exported bundle with
 * no NATS. Each stops cleanly on Ctrl-C / SIGTERM, exit 0.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_MACHINE_VERSION } from '../../machines/build.machine.js';
import type { BundleOpened, MachineList, SagaAt, Timeline, UiInfo } from '../../src/ui/api-types.js';
import { startCli } from '../helpers/cli.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { exitsOnItsOwn, type TsChild } from '../helpers/ts-child.js';
import { uiGet as get, uiUrl } from '../helpers/ui-http.js';

let nats: NatsServerHandle;
let tmp: string;
beforeAll(async () => {
  nats = await startNatsServer();
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-ui-e2e-'));
}, 60_000);
afterAll(async () => {
  await nats?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function stop(child: TsChild, signal: NodeJS.Signals): Promise<void> {
  child.signalGroup(signal);
  expect((await exitsOnItsOwn(child)).code).toBe(0);
}

/** A build saga's journal as `jetsaga sagas export` writes it: started, its first step done. */
const BUNDLE = {
  format: 'jetsaga-saga-bundle',
  version: 1,
  saga: { id: 'shop-e2e', machine: 'build', version: BUILD_MACHINE_VERSION },
  journal: [
    { entryNo: 1, at: 1_000, streamSeq: 7, init: { machine: 'build', version: BUILD_MACHINE_VERSION, input: { app: 'shop', source: { name: 'shop-e2e' } } } },
    { entryNo: 2, at: 2_000, streamSeq: 9, event: { type: 'xstate.done.actor.allocate', output: 3 } },
  ],
};

async function opensBundle(url: URL): Promise<void> {
  const opened = await get<BundleOpened>(url, '/api/bundles', { method: 'POST', body: JSON.stringify(BUNDLE) });
  expect(opened.status).toBe(200);
  expect(opened.body.saga).toMatchObject({ id: 'shop-e2e', machine: 'build', status: 'running', entryNo: 2, state: { receive: 'running' } });
  expect(opened.body.saga.pending).toEqual([{ id: 'receive', src: expect.any(String), attempt: 1, key: 'shop-e2e:2:receive' }]);
  expect(opened.body.saga.active).toEqual(['build', 'build.receive', 'build.receive.running']);
  const timeline = await get<Timeline>(url, `/api/bundles/${opened.body.bundleId}/timeline`);
  expect(timeline.body.entries.map((e) => [e.no, e.type, e.summary])).toEqual([
    [1, 'init', expect.stringMatching(/^input /)],
    [2, 'xstate.done.actor.allocate', 'allocate done: 3'],
  ]);
  const at1 = await get<SagaAt>(url, `/api/bundles/${opened.body.bundleId}/at/1`);
  expect(at1.body).toMatchObject({ no: 1, state: { allocate: 'running' } });
  const chart = await get<{ id: string; svg: string }>(url, '/api/machines/build');
  expect(chart.status).toBe(200);
  expect(chart.body.svg).toContain('data-state="build.receive"');
}

describe('jetsaga serve --ui', () => {
  it('prints the visualizer URL in the ready block; it answers, and `jetsaga ui` serves the same coordinators', async () => {
    const dataDir = join(tmp, 'serve');
    const args = ['--nats', nats.url, '--registry', `127.0.0.1:${await freePort()}`, '--namespace', 'uie2e', '--data-dir', dataDir];
    const serve = startCli(['serve', '--owner', 'e2e-ui', '--ui', '0', ...args]);
    await serve.waitForLine(/^jetsaga coordinator "e2e-ui" ready$/, 60_000);
    const url = await uiUrl(serve);

    const info = await get<UiInfo>(url, '/api/info');
    expect(info.body).toMatchObject({ mode: 'live', namespace: 'uie2e', natsUrl: nats.url, coordinatorReachable: true });
    const page = await fetch(url);
    expect(page.status).toBe(200);
    // The page and its script hold no data and load without the token; every API route needs it.
    expect(await page.text()).toContain('src="/assets/app.js"');
    expect((await fetch(new URL('/assets/app.js', url.origin))).status).toBe(200);
    expect((await fetch(new URL('/api/info', url))).status).toBe(401);
    const machines = await get<MachineList>(url, '/api/machines');
    expect(machines.body.machines.map((m) => m.id)).toEqual(['build', 'postgres-addon', 'rollback']);

    const ui = startCli(['ui', '--port', '0', '--nats', nats.url, '--namespace', 'uie2e']);
    const other = await uiUrl(ui);
    expect(other.port).not.toBe(url.port);
    expect(other.searchParams.get('token')).not.toBe(url.searchParams.get('token'));
    expect((await get<UiInfo>(other, '/api/info')).body).toMatchObject({ mode: 'live', coordinatorReachable: true });
    expect((await get<MachineList>(other, '/api/machines')).body.machines.map((m) => m.id)).toEqual(['build', 'postgres-addon', 'rollback']);
    // An open event stream does not hold either process up.
    const stream = await fetch(new URL(`/api/stream?token=${other.searchParams.get('token')}`, other));
    expect(stream.status).toBe(200);
    await stop(ui, 'SIGINT');
    await stream.body?.cancel().catch(() => undefined);

    const held = await fetch(new URL(`/api/stream?token=${url.searchParams.get('token')}`, url));
    expect(held.status).toBe(200);
    await stop(serve, 'SIGTERM');
    await held.body?.cancel().catch(() => undefined);
  }, 120_000);
});

describe('jetsaga ui offline', () => {
  it('--offline serves a bundle with no NATS at all', async () => {
    const ui = startCli(['ui', '--offline', '--port', '0']);
    await ui.waitForLine('jetsaga visualizer ready (offline: bundles only)', 30_000);
    const url = await uiUrl(ui);
    expect((await get<UiInfo>(url, '/api/info')).body).toMatchObject({ mode: 'offline', natsUrl: null, coordinatorReachable: false });
    await opensBundle(url);
    await stop(ui, 'SIGINT');
  }, 60_000);

  it('falls back to offline, saying so, when NATS cannot be reached', async () => {
    const ui = startCli(['ui', '--port', '0', '--nats', `127.0.0.1:${await freePort()}`]);
    const url = await uiUrl(ui);
    expect(ui.stderr()).toMatch(/jetsaga ui: .*serving opened bundles only \(offline\)/);
    expect((await get<UiInfo>(url, '/api/info')).body.mode).toBe('offline');
    await opensBundle(url);
    await stop(ui, 'SIGTERM');
  }, 60_000);
});

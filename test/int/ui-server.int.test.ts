/**
 * The visualizer's HTTP server (src/ui/server) against a real nats-server and an in-process
 * Coordinator running the tidy test saga (test/fixtures/tidy-saga.ts) and a one-step saga that
 * waits for the registry (which never answers here): the token on every route, each route's
 * shape (src/ui/api-types.ts) for a saga held at a step, a finished one re-folded at an earlier
 * entry, blocked ones driven by the operator actions, a fork dry run, the boot view with the
 * waiting saga, the event stream as sagas progress, a coordinator going away and coming back,
 * and a bundle opened with no coordinator (offline). No browser. Nested sagas: ui-nested.int.test.ts.
 */
import { unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineSaga } from '../../machines/kit/index.js';
import { exportBundle } from '../../src/runtime/replay.js';
import type { SagaBinding } from '../../src/runtime/types.js';
import type { JetsagaClient } from '../../src/service/client.js';
import type { BootView, BundleOpened, MachineChart, MachineList, SagaAt, SagaDetail, SagaList, Timeline, UiInfo } from '../../src/ui/api-types.js';
import { startUiServer, type UiServerHandle } from '../../src/ui/server/server.js';
import { tidyBinding, tidyMachine, type TidyInput } from '../fixtures/tidy-saga.js';
import type { NatsServerHandle } from '../helpers/nats-server.js';
import { post, startUiLive, type Answer, type ErrorBody, type UiLive } from '../helpers/ui-live.js';
import { until } from '../helpers/until.js';

const namespace = `ui${process.pid}`;

/** One step that needs the registry: with no registry answering, the saga waits in `await_registry`. */
const waiterMachine = defineSaga({ id: 'waiter', description: 'pushes once the registry is ready', steps: [{ name: 'push', run: 'push', needs: ['registry'] }] });
const waiterBinding: SagaBinding = { id: 'waiter', version: 1, machine: waiterMachine, steps: { push: async () => ({ pushed: true }) } };

let live: UiLive;
let server: NatsServerHandle;
let tmp: string;
let client: JetsagaClient;
let ui: UiServerHandle;
let base: string;

beforeAll(async () => {
  live = await startUiLive({ namespace, machines: [tidyBinding(), waiterBinding], owner: 'ui-a' });
  ({ server, tmp, client, ui, base } = live);
}, 120_000);

afterAll(async () => {
  await live?.close();
});

const api = <T>(path: string, init?: RequestInit & { token?: string | null }): Promise<Answer<T>> => live.api<T>(path, init);
const ok = <T>(path: string, init?: RequestInit): Promise<T> => live.ok<T>(path, init);

function gateFile(name: string): { path: string; open: () => Promise<void> } {
  const path = join(tmp, `${name}.open`);
  return { path, open: () => writeFile(path, '') };
}

async function startTidy(id: string, input: TidyInput): Promise<void> {
  await live.coordinator.runtime.start('tidy', input, { id });
}

/** A page's event stream, read as it arrives. */
const openStream = (query = '') => live.openStream(query);

describe('the token', () => {
  it('is required on every data route, by header or ?token=; the page and its assets hold no data and load without it', async () => {
    expect(ui.url).toBe(`http://127.0.0.1:${ui.port}/?token=${ui.token}`);
    expect(ui.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    for (const path of ['/api/info', '/api/sagas', '/api/machines', '/api/boot', '/api/stream', '/api/nothing-here', '/nothing-here']) {
      const none = await api<ErrorBody>(path, { token: null });
      expect(none.status, path).toBe(401);
      expect(none.body.error).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
      expect((await api<ErrorBody>(path, { token: `${ui.token}x` })).status).toBe(401);
    }
    expect((await api<ErrorBody>('/api/info?token=wrong', { token: null })).status).toBe(401);
    expect((await api<UiInfo>(`/api/info?token=${ui.token}`, { token: null })).status).toBe(200);
    // Only reading the page is open: a POST to it still needs the token.
    expect((await api<ErrorBody>('/', { token: null, method: 'POST' })).status).toBe(401);

    const page = await fetch(ui.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('/assets/app.js');
    expect(html).not.toContain(ui.token);
    const js = await fetch(`${base}/assets/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(`${base}/assets/app.css`)).status).toBe(200);
    expect((await fetch(`${base}/favicon.ico`)).status).toBe(204);
  });

  it('answers with strict security headers, JSON errors, 404 and 405', async () => {
    for (const path of ['/', '/api/info', '/api/sagas/no-such-saga']) {
      const r = await api(path);
      expect(r.headers.get('content-security-policy')).toMatch(/^default-src 'self'; script-src 'self';/);
      expect(r.headers.get('content-security-policy')).not.toMatch(/script-src[^;]*unsafe/);
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('referrer-policy')).toBe('no-referrer');
      expect(r.headers.get('cache-control')).toBe('no-store');
    }
    const missing = await api<ErrorBody>('/api/nothing');
    expect([missing.status, missing.body.error.code]).toEqual([404, 'NOT_FOUND']);
    const method = await api<ErrorBody>('/api/info', post());
    expect([method.status, method.body.error.code, method.headers.get('allow')]).toEqual([405, 'METHOD_NOT_ALLOWED', 'GET']);
  });
});

describe('info and machines', () => {
  it('says live, which namespace, and that a coordinator answers', async () => {
    expect(await ok<UiInfo>('/api/info')).toEqual({ mode: 'live', namespace, natsUrl: server.url, coordinatorReachable: true, version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  });

  it('lists the coordinator\'s machines and serves each laid-out chart', async () => {
    const { machines } = await ok<MachineList>('/api/machines');
    expect(machines).toEqual([
      { id: 'tidy', version: 1, description: null },
      { id: 'waiter', version: 1, description: 'pushes once the registry is ready' },
    ]);
    const chart = await ok<MachineChart>('/api/machines/waiter');
    expect(chart).toMatchObject({ id: 'waiter', version: 1, description: 'pushes once the registry is ready' });
    expect(chart.graph.nodes.map((n) => n.id)).toContain('waiter.push.await_registry');
    expect(chart.graph.nodes.find((n) => n.id === 'waiter.push.await_registry')!.tags).toEqual(['awaits:registry']);
    expect(chart.layout.nodes).toHaveLength(chart.graph.nodes.length);
    expect(chart.layout.width).toBeGreaterThan(0);
    expect(chart.svg).toMatch(/^<svg /);
    expect(chart.svg).toContain('data-state="waiter.push.await_registry"');
    // Laid out once: the same chart again (and for the version asked for).
    expect(await ok<MachineChart>('/api/machines/waiter?version=1')).toEqual(chart);
    const unknown = await api<ErrorBody>('/api/machines/nope');
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'UNKNOWN_MACHINE']);
  });
});

describe('a saga held at a step, then completed', () => {
  const id = `held-${process.pid}`;
  let gate: { path: string; open: () => Promise<void> };

  beforeAll(async () => {
    gate = gateFile(id);
    await startTidy(id, { holdUntil: { publish: gate.path } });
    await until(async () => (await client.getSaga(id)).pending.some((p) => p.id === 'publish'), 30_000, 'publish in flight');
  });

  it('detail: active and visited states, the pending step with its key, the compensation plan', async () => {
    const d = await ok<SagaDetail>(`/api/sagas/${id}`);
    expect(d).toMatchObject({ id, machine: 'tidy', version: 1, status: 'running', owner: 'ui-a', entryNo: 3, forkedFrom: null, timers: [], waiting: [] });
    expect(d.state).toEqual({ publish: 'running' });
    expect(d.active).toEqual(['tidy', 'tidy.publish', 'tidy.publish.running']);
    expect(d.visited).toEqual(['tidy', 'tidy.reserve', 'tidy.reserve.running', 'tidy.provision', 'tidy.provision.running', 'tidy.publish', 'tidy.publish.running']);
    expect(d.pending).toEqual([{ id: 'publish', src: 'publish', attempt: 1, key: `${id}:3:publish` }]);
    expect(d.plan).toMatchObject({ phase: 'running', cause: null, actions: [] });
    expect(d.plan!.undos.map((u) => [u.step, u.status])).toEqual([
      ['publish', 'pending'],
      ['provision', 'pending'],
      ['reserve', 'pending'],
    ]);
    expect((d.context as { outputs: Record<string, unknown> }).outputs).toEqual({ reserve: { step: 'reserve' }, provision: { step: 'provision' } });
  });

  it('is listed, and filtered by status and machine', async () => {
    const all = await ok<SagaList>('/api/sagas');
    expect(all.sagas.find((s) => s.id === id)).toEqual({ id, machine: 'tidy', version: 1, status: 'running', owner: 'ui-a', createdAt: expect.any(Number), updatedAt: expect.any(Number), parentId: null });
    expect((await ok<SagaList>('/api/sagas?status=completed,cancelled')).sagas.some((s) => s.id === id)).toBe(false);
    expect((await ok<SagaList>('/api/sagas?machine=waiter')).sagas.some((s) => s.id === id)).toBe(false);
    expect((await ok<SagaList>('/api/sagas?machine=tidy&status=running&limit=5')).sagas.some((s) => s.id === id)).toBe(true);
    const bad = await api<ErrorBody>('/api/sagas?status=sleeping');
    expect([bad.status, bad.body.error.code]).toEqual([400, 'BAD_REQUEST']);
  });

  it('the event stream sends info, the list, the selected saga, and its progress once the step finishes', async () => {
    const stream = await openStream(`&saga=${id}`);
    try {
      await until(() => stream.events.length > 0, 30_000, 'a first event');
      expect(stream.events[0]).toEqual({ type: 'info', info: expect.objectContaining({ mode: 'live', coordinatorReachable: expect.any(Boolean) }) });
      await stream.waitFor('the saga list', (e) => e.type === 'sagas' && e.sagas.some((s) => s.id === id && s.status === 'running'));
      await stream.waitFor('the held saga', (e) => e.type === 'saga' && e.saga.id === id && e.saga.pending.some((p) => p.id === 'publish'));
      await stream.waitFor('the boot view', (e) => e.type === 'boot');
      expect(ui.streams()).toBe(1);

      await gate.open();
      const done = await stream.waitFor('the completed saga', (e) => e.type === 'saga' && e.saga.status === 'completed');
      expect(done.type === 'saga' && done.saga.active).toEqual(['tidy', 'tidy.completed']);
      await stream.waitFor('the list with it completed', (e) => e.type === 'sagas' && e.sagas.some((s) => s.id === id && s.status === 'completed'));
      await stream.waitFor('a heartbeat', (e) => e.type === 'heartbeat');
      // Saga updates are in journal order: never an older entry after a newer one.
      const seen = stream.events.flatMap((e) => (e.type === 'saga' ? [e.saga.entryNo] : []));
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
    } finally {
      await stream.close();
    }
    // A page that goes away releases its stream.
    await until(() => ui.streams() === 0, 10_000, 'the stream released');
  });

  it('timeline: every entry with its type and key fields', async () => {
    const t = await ok<Timeline>(`/api/sagas/${id}/timeline`);
    expect(t.id).toBe(id);
    expect(t.entries.map((e) => e.type)).toEqual([
      'init',
      'xstate.done.actor.reserve',
      'xstate.done.actor.provision',
      'xstate.done.actor.publish',
      'xstate.done.actor.verify',
    ]);
    expect(t.entries.map((e) => e.no)).toEqual([1, 2, 3, 4, 5]);
    expect(t.entries[1]!.summary).toBe('reserve done: {"step":"reserve"}');
    expect(t.entries[0]!.summary).toMatch(/^input \{"holdUntil"/);
    expect(t.entries.every((e, i) => i === 0 || e.at >= t.entries[i - 1]!.at)).toBe(true);
  });

  it('at/:no re-folds the journal to an earlier entry: its state, context, diff and path', async () => {
    const final = await ok<SagaDetail>(`/api/sagas/${id}`);
    expect(final.status).toBe('completed');
    const at2 = await ok<SagaAt>(`/api/sagas/${id}/at/2`);
    expect(at2).toMatchObject({ id, no: 2, state: { provision: 'running' }, status: 'running' });
    expect(at2.event).toEqual({ type: 'xstate.done.actor.reserve', payload: expect.objectContaining({ output: { step: 'reserve' } }) });
    expect((at2.context as { outputs: unknown }).outputs).toEqual({ reserve: { step: 'reserve' } });
    expect(at2.contextDiff).toContainEqual({ path: 'outputs.reserve', op: 'add', after: { step: 'reserve' } });
    expect(at2.effects).toContainEqual(expect.objectContaining({ kind: 'step.started', id: 'provision', key: `${id}:2:provision` }));
    expect(at2.active).toEqual(['tidy', 'tidy.provision', 'tidy.provision.running']);
    expect(at2.visited).toEqual(['tidy', 'tidy.reserve', 'tidy.reserve.running', 'tidy.provision', 'tidy.provision.running']);
    expect(at2.plan!.undos.map((u) => u.step)).toEqual(['provision', 'reserve']);
    expect(at2.context).not.toEqual(final.context);

    const at1 = await ok<SagaAt>(`/api/sagas/${id}/at/1`);
    expect(at1).toMatchObject({ no: 1, state: { reserve: 'running' }, event: { type: 'init' } });
    expect((await ok<SagaAt>(`/api/sagas/${id}/at/5`)).context).toEqual(final.context);

    for (const [path, status, code] of [
      [`/api/sagas/${id}/at/6`, 400, 'INVALID_ARGUMENT'],
      [`/api/sagas/${id}/at/0`, 400, 'BAD_REQUEST'],
      [`/api/sagas/${id}/at/x`, 400, 'BAD_REQUEST'],
    ] as const) {
      const r = await api<ErrorBody>(path);
      expect([r.status, r.body.error.code]).toEqual([status, code]);
    }
  });

  it('fork from an entry: a dry run answers what it would do and writes nothing', async () => {
    const r = await ok<Record<string, unknown>>(`/api/sagas/${id}/fork`, post({ from: 3, dryRun: true }));
    expect(r).toMatchObject({ source: id, from: 3, dryRun: true, created: false, machine: 'tidy' });
    expect(r.willRun).toEqual([expect.objectContaining({ id: 'publish', src: 'publish' })]);
    expect((await ok<SagaList>('/api/sagas?machine=tidy')).sagas.filter((s) => s.id.startsWith(`${id}-f`))).toEqual([]);
    for (const body of [{ from: 3 }, { from: 0, dryRun: true }, { from: 3, dryRun: true, extra: 1 }]) {
      const bad = await api<ErrorBody>(`/api/sagas/${id}/fork`, post(body));
      expect([bad.status, bad.body.error.code]).toEqual([400, 'BAD_REQUEST']);
    }
  });

  it('the service endpoints under it: sagas.replay pages, machines.list and machines.graph', async () => {
    const first = await client.replaySaga(id, { limit: 2 });
    expect(first).toMatchObject({ id, machine: 'tidy', version: 1, replayedOn: 1, entries: 5, next: 3, contextOmitted: false });
    expect(first.steps.map((s) => s.no)).toEqual([1, 2]);
    expect(first.steps.every((s) => s.context === undefined)).toBe(true);
    expect((first.context as { outputs: object }).outputs).toEqual({ reserve: { step: 'reserve' } });
    const rest = await client.replaySaga(id, { from: first.next! });
    expect(rest.steps.map((s) => s.no)).toEqual([3, 4, 5]);
    expect(rest.next).toBeNull();
    expect((await client.replaySaga(id, { from: 2, to: 2 })).steps.map((s) => s.no)).toEqual([2]);

    expect((await client.listMachines()).machines).toContainEqual({ id: 'tidy', version: 1, description: null, resumesFrom: [] });
    expect((await client.machineGraph('tidy', 1)).graph.nodes[0]!.id).toBe('tidy');
    await expect(client.machineGraph('tidy', 7)).rejects.toMatchObject({ code: 'MACHINE_VERSION_MISMATCH', status: 404 });
    await expect(client.machineGraph('nope')).rejects.toMatchObject({ code: 'UNKNOWN_MACHINE' });
    await expect(client.replaySaga('no-such-saga')).rejects.toMatchObject({ code: 'UNKNOWN_SAGA' });
  });

  it('unknown sagas are 404, bad ids 400', async () => {
    for (const path of ['/api/sagas/no-such-saga', '/api/sagas/no-such-saga/timeline', '/api/sagas/no-such-saga/at/1']) {
      const r = await api<ErrorBody>(path);
      expect([r.status, r.body.error.code]).toEqual([404, 'UNKNOWN_SAGA']);
    }
    const bad = await api<ErrorBody>('/api/sagas/bad%20id');
    expect([bad.status, bad.body.error.code]).toEqual([400, 'BAD_REQUEST']);
  });
});

describe('operator actions', () => {
  /** A tidy saga that fails verify and blocks on its `deprovision` undo; returns the file that breaks it. */
  async function blocked(id: string): Promise<string> {
    const broken = join(tmp, `${id}.broken`);
    await writeFile(broken, '');
    await startTidy(id, { failVerify: true, brokenUndo: { deprovision: broken } });
    await until(async () => (await client.getSaga(id)).status === 'blocked', 30_000, `${id} blocked`);
    return broken;
  }

  it('a blocked saga: its plan names the failed undo and the undos done; retry once mended compensates', async () => {
    const id = `blk-retry-${process.pid}`;
    const broken = await blocked(id);
    const d = await ok<SagaDetail>(`/api/sagas/${id}`);
    expect(d.status).toBe('blocked');
    expect(d.plan).toMatchObject({ phase: 'blocked', actions: ['retry', 'skip', 'abandon'], cause: { step: 'verify', code: 'VERIFY_FAILED' } });
    expect(d.plan!.undos.map((u) => [u.step, u.status])).toEqual([
      ['publish', 'done'],
      ['provision', 'failed'],
      ['reserve', 'pending'],
    ]);
    expect(d.plan!.undos[1]!.error).toMatchObject({ code: 'UNDO_BROKEN' });

    await unlink(broken);
    expect(await ok(`/api/sagas/${id}/actions/retry`, post())).toEqual({ id, accepted: true, status: expect.any(String) });
    await until(async () => (await client.getSaga(id)).status === 'compensated', 30_000, 'compensated');
    const after = await ok<SagaDetail>(`/api/sagas/${id}`);
    expect(after.plan!.undos.map((u) => [u.step, u.status])).toEqual([
      ['publish', 'done'],
      ['provision', 'done'],
      ['reserve', 'done'],
    ]);
    const again = await api<ErrorBody>(`/api/sagas/${id}/actions/retry`, post());
    expect([again.status, again.body.error.code]).toEqual([409, 'NOT_BLOCKED']);
  });

  it('skip and abandon', async () => {
    const skipped = `blk-skip-${process.pid}`;
    const abandoned = `blk-abandon-${process.pid}`;
    await Promise.all([blocked(skipped), blocked(abandoned)]);
    expect(await ok(`/api/sagas/${skipped}/actions/skip`, post())).toMatchObject({ id: skipped, accepted: true });
    expect(await ok(`/api/sagas/${abandoned}/actions/abandon`, post())).toMatchObject({ id: abandoned, accepted: true });
    await until(async () => (await client.getSaga(skipped)).status === 'compensated', 30_000, 'skipped: compensated');
    await until(async () => (await client.getSaga(abandoned)).status === 'cancelled', 30_000, 'abandoned: cancelled');
    expect((await ok<SagaDetail>(`/api/sagas/${abandoned}`)).plan).toMatchObject({ phase: 'abandoned', actions: [] });
    const unknown = await api<ErrorBody>(`/api/sagas/${skipped}/actions/reboot`, post());
    expect([unknown.status, unknown.body.error.code]).toEqual([400, 'BAD_REQUEST']);
  });

  it('cancel: a held saga compensates what it started', async () => {
    const id = `cancel-${process.pid}`;
    await startTidy(id, { holdUntil: { provision: gateFile(id).path } });
    await until(async () => (await client.getSaga(id)).pending.some((p) => p.id === 'provision'), 30_000, 'provision in flight');
    expect(await ok(`/api/sagas/${id}/actions/cancel`, post())).toMatchObject({ id, accepted: true });
    await until(async () => ['cancelled', 'compensated'].includes((await client.getSaga(id)).status), 30_000, 'cancelled');
    const d = await ok<SagaDetail>(`/api/sagas/${id}`);
    expect(d.plan!.phase).toMatch(/^(cancelled|compensated)$/);
    expect(d.pending).toEqual([]);
  });
});

describe('the boot view', () => {
  const id = `waiter-${process.pid}`;

  beforeAll(async () => {
    await live.coordinator.runtime.start('waiter', {}, { id });
  });

  it("shows each coordinator's dependencies, live, and the saga waiting for the registry since it entered that state", async () => {
    const boot = await ok<BootView>('/api/boot');
    const me = boot.coordinators.find((c) => c.name === 'ui-a')!;
    expect(me.running).toBe(true);
    const deps = new Map(me.dependencies.map((d) => [d.name, d]));
    expect(deps.get('admission')).toMatchObject({ ready: true, state: 'ready', error: null, dependsOn: expect.arrayContaining(['jetstream']) });
    expect(deps.get('registry')).toMatchObject({ ready: false, error: expect.any(String), dependsOn: ['names'] });
    expect(me.dependencies.map((d) => d.layer)).toEqual([...me.dependencies.map((d) => d.layer)].sort((a, b) => a - b));

    const timeline = await ok<Timeline>(`/api/sagas/${id}/timeline`);
    // The init entry enters `await_registry` at once.
    expect(boot.waiting).toContainEqual({ sagaId: id, machine: 'waiter', dependency: 'registry', since: timeline.entries[0]!.at });
    const d = await ok<SagaDetail>(`/api/sagas/${id}`);
    expect(d.waiting).toEqual([{ dependency: 'registry', state: 'waiter.push.await_registry', since: timeline.entries[0]!.at }]);
    expect(d.active).toContain('waiter.push.await_registry');
  });
});

describe('bundles', () => {
  it('refuses a body over 16 MiB with 413 and garbage with 400', async () => {
    const big = await api<ErrorBody>('/api/bundles', { method: 'POST', body: 'x'.repeat(16 * 1024 * 1024 + 1) });
    expect([big.status, big.body.error.code]).toEqual([413, 'BODY_TOO_LARGE']);
    expect(big.body.error.message).toMatch(/at most 16777216 bytes \(16 MiB\)/);
    const garbage = await api<ErrorBody>('/api/bundles', { method: 'POST', body: '{"format":"zip"}' });
    expect([garbage.status, garbage.body.error.code]).toEqual([400, 'INVALID_ARGUMENT']);
    const unknown = await api<ErrorBody>('/api/bundles/b0123456789abcdef0123');
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'UNKNOWN_BUNDLE']);
  });
});

describe('a coordinator going away', () => {
  it('shows as unreachable, bundles still open offline, and the page recovers when one answers again', async () => {
    const id = `bundled-${process.pid}`;
    await startTidy(id, {});
    await until(async () => (await client.getSaga(id)).status === 'completed', 30_000, 'completed');
    const info = await client.getSaga(id);
    const bundle = exportBundle({ id, machine: info.machine, version: info.version }, (await client.sagaEvents(id)).events as never);

    const stream = await openStream();
    try {
      await stream.waitFor('reachable', (e) => e.type === 'info' && e.info.coordinatorReachable);
      await live.coordinator.stop();
      await stream.waitFor('unreachable', (e) => e.type === 'info' && !e.info.coordinatorReachable);
      expect((await ok<UiInfo>('/api/info')).coordinatorReachable).toBe(false);
      const gone = await api<ErrorBody>(`/api/sagas/${id}`);
      expect([gone.status, gone.body.error.code]).toEqual([503, 'NO_COORDINATOR']);

      // With no coordinator and no NATS at all: an offline server opens the bundle.
      const offline = await startUiServer({ definitions: async () => [{ id: 'tidy', version: 1, machine: tidyMachine }] });
      try {
        const at = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
          const r = await fetch(`http://127.0.0.1:${offline.port}${path}`, { ...init, headers: { 'X-Jetsaga-Token': offline.token } });
          expect(r.status).toBe(200);
          return (await r.json()) as T;
        };
        expect(await at<UiInfo>('/api/info')).toMatchObject({ mode: 'offline', natsUrl: null, coordinatorReachable: false });
        const opened = await at<BundleOpened>('/api/bundles', { method: 'POST', body: JSON.stringify(bundle) });
        expect(opened.bundleId).toMatch(/^b[0-9a-f]{20}$/);
        expect(opened.saga).toMatchObject({ id, machine: 'tidy', status: 'completed', entryNo: 5, pending: [], plan: { phase: 'completed' } });
        expect(opened.saga.active).toEqual(['tidy', 'tidy.completed']);
        expect(opened.saga.context).toEqual(info.context);
        expect(await at<SagaDetail>(`/api/bundles/${opened.bundleId}`)).toEqual(opened.saga);
        const timeline = await at<Timeline>(`/api/bundles/${opened.bundleId}/timeline`);
        expect(timeline.entries.map((e) => e.no)).toEqual([1, 2, 3, 4, 5]);
        const at3 = await at<SagaAt>(`/api/bundles/${opened.bundleId}/at/3`);
        expect(at3).toMatchObject({ no: 3, state: { publish: 'running' } });
        expect(Object.keys((at3.context as { outputs: object }).outputs)).toEqual(['reserve', 'provision']);
        // The same bundle again is the same bundle.
        expect((await at<BundleOpened>('/api/bundles', { method: 'POST', body: JSON.stringify(bundle) })).bundleId).toBe(opened.bundleId);
        const live = await fetch(`http://127.0.0.1:${offline.port}/api/sagas`, { headers: { 'X-Jetsaga-Token': offline.token } });
        expect(live.status).toBe(503);
      } finally {
        await offline.close();
      }

      await live.bootCoordinator('ui-b');
      await stream.waitFor('reachable again', (e) => e.type === 'info' && e.info.coordinatorReachable && stream.events.indexOf(e) > stream.events.findIndex((x) => x.type === 'info' && !x.info.coordinatorReachable));
      expect((await ok<SagaDetail>(`/api/sagas/${id}`)).status).toBe('completed');
    } finally {
      await stream.close();
    }
  }, 120_000);
});

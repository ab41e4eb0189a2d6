/**
 * Operations at scale (issue 11, part 4) against a real nats-server and registry, through an
 * in-process coordinator: the Prometheus text on the loopback metrics endpoint and the same
 * figures in `$SRV.STATS` after sagas ran (completed, compensated, blocked); then retention
 * purges the finished sagas — journal, index record, checkpoint and a build's progress
 * subject — and leaves the blocked one whole.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Svcm, type ServiceStats } from '@nats-io/services';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProgressLog } from '../../src/build/progress.js';
import { loadConfig } from '../../src/config.js';
import { Coordinator } from '../../src/coordinator.js';
import { SagaStatus, type IndexRecord } from '../../src/journal/index-store.js';
import { startMetricsServer, type MetricsServerHandle } from '../../src/metrics/metrics-server.js';
import { openNatsStores } from '../../src/runtime/nats-stores.js';
import type { RuntimeStores } from '../../src/runtime/stores.js';
import { orderBinding } from '../fixtures/order-saga.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { parsePromText, sampleValue } from '../helpers/prom-text.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { until } from '../helpers/until.js';

const namespace = `ops${process.pid}`;
const enc = new TextEncoder();

let server: NatsServerHandle | undefined;
let registry: RegistryHandle | undefined;
let coordinator: Coordinator | undefined;
let metricsServer: MetricsServerHandle | undefined;
let nc: NatsConnection | undefined;
let stores: RuntimeStores | undefined;
let dataDir: string | undefined;

beforeAll(async () => {
  [server, registry] = await Promise.all([startNatsServer(), startRegistry()]);
  dataDir = await mkdtemp(join(tmpdir(), 'jetsaga-ops-'));
  const config = loadConfig({ nats: server.url, registry: `127.0.0.1:${registry.port}`, namespace, owner: 'ops-a', dataDir, retain: '1ms' }, {});
  coordinator = new Coordinator({
    config,
    machines: [orderBinding()],
    builds: true,
    service: true,
    healthIntervalMs: 300,
    recoverIntervalMs: 0,
    // Sweeps are run by the test, not the clock.
    retention: { intervalMs: 3_600_000, pauseMs: 0 },
  });
  await coordinator.start();
  metricsServer = await startMetricsServer({ port: 0, render: () => coordinator!.metrics.render() });
  nc = await connect({ servers: server.url });
  stores = await openNatsStores(nc, { namespace });
}, 120_000);

afterAll(async () => {
  await stores?.close?.();
  await nc?.close();
  await metricsServer?.close();
  await coordinator?.stop();
  await Promise.all([server?.stop(), registry?.stop()]);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('metrics and retention on a coordinator', () => {
  const ids = { ok: 'ops-ok', comp: 'ops-comp', blk: 'ops-blk' };

  it('serves Prometheus text on 127.0.0.1 and the same figures in $SRV.STATS', async () => {
    const c = coordinator!;
    expect(metricsServer!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    await c.runtime.start('order', { order: 'ok' }, { id: ids.ok });
    await c.runtime.start('order', { order: 'comp', fail: { chargeCard: 'terminal' } }, { id: ids.comp });
    await c.runtime.start('order', { order: 'blk', fail: { chargeCard: 'terminal' }, failUndo: { releaseStock: 'always' } }, { id: ids.blk });
    const ended = await Promise.all(Object.values(ids).map((id) => c.runtime.wait(id, { timeoutMs: 20_000 })));
    expect(ended.map((i) => i.status)).toEqual([SagaStatus.Completed, SagaStatus.Compensated, SagaStatus.Blocked]);

    const res = await fetch(metricsServer!.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { samples } = parsePromText(await res.text());
    const order = { machine: 'order' };
    expect(sampleValue(samples, 'jetsaga_sagas_started_total', order)).toBe(3);
    expect(sampleValue(samples, 'jetsaga_sagas_completed_total', order)).toBe(1);
    expect(sampleValue(samples, 'jetsaga_sagas_compensated_total', order)).toBe(1);
    expect(sampleValue(samples, 'jetsaga_sagas_blocked_total', order)).toBe(1);
    expect(sampleValue(samples, 'jetsaga_step_duration_seconds_count', { machine: 'order', step: 'notifyCustomer', outcome: 'ok' })).toBe(1);
    const journaled = (await Promise.all(Object.values(ids).map((id) => stores!.journal.read(id)))).reduce((n, e) => n + e.length, 0);
    expect(sampleValue(samples, 'jetsaga_journal_append_duration_seconds_count', { outcome: 'ok' })).toBe(journaled);
    expect(sampleValue(samples, 'jetsaga_steps_in_flight')).toBe(0);
    expect(sampleValue(samples, 'jetsaga_sagas_open', { status: SagaStatus.Blocked })).toBe(1);
    expect(sampleValue(samples, 'jetsaga_coordinator_lease_valid')).toBe(1);
    expect(sampleValue(samples, 'jetsaga_coordinators_live')).toBe(1);
    expect(sampleValue(samples, 'jetsaga_journal_last_sequence')).toBe(await stores!.journal.lastSeq());
    // Every append acknowledged: nothing on the wire, nothing waiting.
    expect(sampleValue(samples, 'jetsaga_journal_appends_in_flight')).toBe(0);
    expect(sampleValue(samples, 'jetsaga_journal_appends_queued')).toBe(0);
    expect(sampleValue(samples, 'jetsaga_metrics_collect_errors_total', { figure: 'journal_replicas' })).toBeUndefined();
    expect((await fetch(metricsServer!.url.replace('/metrics', '/other'))).status).toBe(404);

    // $SRV.STATS: the figures ride on the boot.status endpoint of this coordinator's service.
    const all: ServiceStats[] = [];
    for await (const s of await new Svcm(nc!).client().stats('jetsaga', c.service!.id)) all.push(s);
    expect(all).toHaveLength(1);
    const boot = (all[0]!.endpoints ?? []).find((e) => e.subject.endsWith('.boot.status'))!;
    const data = boot.data as { coordinator: string; metrics: Record<string, { type: string; series: Array<{ labels: Record<string, string>; value: number }> }> };
    expect(data.coordinator).toBe('ops-a');
    expect(data.metrics.jetsaga_sagas_started_total).toMatchObject({ type: 'counter', series: [{ labels: order, value: 3 }] });
    expect(data.metrics.jetsaga_sagas_open!.series).toContainEqual({ labels: { status: 'blocked' }, value: 1 });
    expect(data.metrics).toHaveProperty('jetsaga_journal_append_duration_seconds');
  });

  it('purges finished sagas whole (journal, checkpoint, progress, then index record) and never the blocked one', async () => {
    const c = coordinator!;
    const s = stores!;
    // A finished build as a crashed coordinator could leave it: a checkpoint still there, and
    // progress under its id.
    const build: IndexRecord = { sagaId: 'ops-build', machine: 'build@1', status: SagaStatus.Running, owner: 'ops-gone', epoch: 1, createdAt: 1, updatedAt: 1 };
    await s.index.create(build);
    await s.journal.append(build.sagaId, enc.encode('{}'), { expectedLastSeq: 0, msgId: 'ops-build:1' });
    await s.index.finish({ ...build, status: SagaStatus.Completed, updatedAt: 2 });
    await s.checkpoints.put(build.sagaId, enc.encode('{}'));
    await s.checkpoints.put(ids.ok, enc.encode('{}'));
    const progress = await ProgressLog.open(nc!, { namespace });
    expect(await progress.publish(build.sagaId, { kind: 'phase', phase: 'push', status: 'running', state: 'push' })).toBe(true);
    const progressOf = async (id: string): Promise<number> => {
      let n = 0;
      for await (const _ of progress.read(id)) n++;
      return n;
    };
    expect(await progressOf(build.sagaId)).toBe(1);
    const blockedEntries = (await s.journal.read(ids.blk)).length;

    // Retention is 1 ms: everything finished before now is past it.
    const newest = Math.max(...(await Promise.all([ids.ok, ids.comp].map(async (id) => (await s.index.get(id))!.record.updatedAt))));
    await until(() => Date.now() > newest + 1, 5_000, 'the retention to pass');
    const report = await c.retention!.sweep();
    expect(report).toMatchObject({ purged: 3, failed: 0, more: false });

    for (const id of [ids.ok, ids.comp, build.sagaId]) {
      expect(await s.journal.read(id), id).toEqual([]);
      expect(await s.index.get(id), id).toBeNull();
      expect(await s.checkpoints.get(id), id).toBeNull();
    }
    expect(await progressOf(build.sagaId)).toBe(0);
    // The blocked saga is untouched: an operator must still be able to look at it.
    expect((await s.index.get(ids.blk))!.record.status).toBe(SagaStatus.Blocked);
    expect(await s.journal.read(ids.blk)).toHaveLength(blockedEntries);
    expect((await c.runtime.list()).sagas.map((x) => x.id)).toEqual([ids.blk]);

    const { samples } = parsePromText(await c.metrics.render());
    expect(sampleValue(samples, 'jetsaga_sagas_purged_total', { machine: 'order' })).toBe(2);
    expect(sampleValue(samples, 'jetsaga_sagas_purged_total', { machine: 'build' })).toBe(1);
  });
});

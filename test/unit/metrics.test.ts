/**
 * Metrics (issue 11, part 4): the text exposition is well-formed Prometheus text, and the
 * figures follow what the runtime did — sagas started, completed, compensated, blocked and
 * resumed by machine, steps and appends timed, steps in flight back to 0, open sagas by status.
 * Also the duration syntax of `--retain` / `JETSAGA_RETAIN`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { MetricsRegistry } from '../../src/metrics/exposition.js';
import { JetsagaMetrics } from '../../src/metrics/jetsaga-metrics.js';
import { meteredStores } from '../../src/metrics/metered-stores.js';
import { SagaStatus } from '../../src/journal/index-store.js';
import { formatDuration, parseDuration } from '../../src/util/duration.js';
import { memoryCluster, type Cluster } from '../helpers/memory-cluster.js';
import { parsePromText, sampleValue } from '../helpers/prom-text.js';
import { orderBinding } from '../fixtures/order-saga.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.closeAll();
  cluster = undefined;
});

describe('durations', () => {
  it('reads 30m, 12h, 7d and 0, and refuses the rest', () => {
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('12h')).toBe(43_200_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    for (const bad of ['', '7', 'd', '-1d', '7 days', '1y', 'Infinityd']) expect(() => parseDuration(bad), bad).toThrow(/not a duration/);
    expect(formatDuration(604_800_000)).toBe('1w');
    expect(formatDuration(43_200_000)).toBe('12h');
  });

  it('takes the retention from --retain, then JETSAGA_RETAIN, naming the setting in errors', () => {
    expect(loadConfig({}, {}).retainMs).toBeUndefined();
    expect(loadConfig({}, { JETSAGA_RETAIN: '12h' }).retainMs).toBe(43_200_000);
    expect(loadConfig({ retain: '0' }, { JETSAGA_RETAIN: '12h' }).retainMs).toBe(0);
    expect(() => loadConfig({ retain: 'soon' }, {})).toThrow(/--retain: "soon" is not a duration/);
    expect(() => loadConfig({}, { JETSAGA_RETAIN: '3 days' })).toThrow(/JETSAGA_RETAIN/);
  });
});

describe('the text exposition', () => {
  it('renders counters, gauges and histograms with escaped labels', () => {
    const r = new MetricsRegistry();
    r.counter('t_total', 'a counter').inc({ machine: 'a"b\\c\nd' }, 2);
    r.gauge('t_gauge', 'a gauge').set(-1.5);
    const h = r.histogram('t_seconds', 'a histogram', [0.1, 1]);
    h.observe(0.05, { step: 's' });
    h.observe(0.5, { step: 's' });
    h.observe(5, { step: 's' });
    const { samples, types } = parsePromText(r.render());
    expect(types).toEqual(new Map([['t_total', 'counter'], ['t_gauge', 'gauge'], ['t_seconds', 'histogram']]));
    expect(sampleValue(samples, 't_total', { machine: 'a"b\\c\nd' })).toBe(2);
    expect(sampleValue(samples, 't_gauge')).toBe(-1.5);
    expect(sampleValue(samples, 't_seconds_bucket', { step: 's', le: '0.1' })).toBe(1);
    expect(sampleValue(samples, 't_seconds_bucket', { step: 's', le: '1' })).toBe(2);
    expect(sampleValue(samples, 't_seconds_bucket', { step: 's', le: '+Inf' })).toBe(3);
    expect(sampleValue(samples, 't_seconds_count', { step: 's' })).toBe(3);
    expect(sampleValue(samples, 't_seconds_sum', { step: 's' })).toBeCloseTo(5.55);
  });
});

describe('coordinator figures', () => {
  it('follow the runtime: started, completed, compensated, blocked, resumed; steps and appends timed', async () => {
    cluster = memoryCluster();
    const metrics = new JetsagaMetrics({ collectEveryMs: 0 });
    const open = (owner: string) =>
      cluster!.open(owner, {
        machines: metrics.wrapBindings([orderBinding()]),
        stores: meteredStores(cluster!.stores, owner, metrics),
        onResumed: (_id, machine) => metrics.resumed(machine),
      });
    const rt = await open('a');
    rt.subscribe(metrics.notice);
    metrics.attach({ index: cluster.stores.index, coordinators: cluster.stores.coordinators, loaded: () => rt.loadedSagaIds().length, leaseValid: () => rt.coordinatorLease.valid() });

    await rt.start('order', { order: '1' }, { id: 'ok1' });
    await rt.start('order', { order: '2' }, { id: 'ok2' });
    await rt.start('order', { order: '3', fail: { chargeCard: 'terminal' } }, { id: 'comp' });
    await rt.start('order', { order: '4', fail: { chargeCard: 'terminal' }, failUndo: { releaseStock: 'always' } }, { id: 'blk' });
    await Promise.all(['ok1', 'ok2', 'comp', 'blk'].map((id) => rt.wait(id, { timeoutMs: 10_000 })));

    // A second coordinator takes over the sagas the first let go of (the blocked one stays
    // open, and the one in flight): they count as resumed there.
    await rt.start('order', { order: '5', delayMs: { reserveStock: 60_000 } }, { id: 'moved' });
    await rt.close();
    const rt2 = await open('b');
    expect(await rt2.recover()).toMatchObject({ recovered: 2 });

    const { samples, types } = parsePromText(await metrics.render());
    const order = { machine: 'order' };
    expect(sampleValue(samples, 'jetsaga_sagas_started_total', order)).toBe(5);
    expect(sampleValue(samples, 'jetsaga_sagas_completed_total', order)).toBe(2);
    expect(sampleValue(samples, 'jetsaga_sagas_compensated_total', order)).toBe(1);
    expect(sampleValue(samples, 'jetsaga_sagas_blocked_total', order)).toBe(1);
    expect(sampleValue(samples, 'jetsaga_sagas_recovered_total', order)).toBe(2);
    expect(sampleValue(samples, 'jetsaga_sagas_loaded')).toBe(0); // rt, attached, is closed
    expect(types.get('jetsaga_step_duration_seconds')).toBe('histogram');
    // ok1 and ok2 ran every step once; reserve ran in all five sagas.
    expect(sampleValue(samples, 'jetsaga_step_duration_seconds_count', { machine: 'order', step: 'notifyCustomer', outcome: 'ok' })).toBe(2);
    expect(sampleValue(samples, 'jetsaga_step_duration_seconds_count', { machine: 'order', step: 'chargeCard', outcome: 'error' })).toBe(2);
    const appends = sampleValue(samples, 'jetsaga_journal_append_duration_seconds_count', { outcome: 'ok' })!;
    const entries = [...(await cluster.stores.journal.listSagas()).values()].reduce((a, b) => a + b, 0);
    expect(appends).toBe(entries);
    // The moved saga's reserve step runs on b (60 s): one step in flight, the rest settled.
    expect(sampleValue(samples, 'jetsaga_steps_in_flight')).toBe(1);
    // Open sagas from the index, every status listed: one blocked (alert!), one running.
    expect(sampleValue(samples, 'jetsaga_sagas_open', { status: SagaStatus.Blocked })).toBe(1);
    expect(sampleValue(samples, 'jetsaga_sagas_open', { status: SagaStatus.Running })).toBe(1);
    expect(sampleValue(samples, 'jetsaga_sagas_open', { status: SagaStatus.Parked })).toBe(0);
    expect(sampleValue(samples, 'jetsaga_coordinators_live')).toBe(1);
    expect(sampleValue(samples, 'jetsaga_lease_renewals_total', { outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    // The JSON form carries the same figures.
    const json = (await metrics.json()) as Record<string, { series: Array<{ labels: Record<string, string>; value: number }> }>;
    expect(json.jetsaga_sagas_started_total!.series).toEqual([{ labels: order, value: 5 }]);
  });
});

/**
 * What a coordinator reports to operators (Prometheus text on `--metrics`, and the same figures
 * in `$SRV.STATS`): sagas started / completed / compensated / cancelled / blocked / recovered /
 * purged by machine, step and journal-append latency, steps in flight, and — read when scraped
 * — sagas open by status (blocked and parked are the ones to alert on), the lease, the live
 * coordinators and the journal's replica lag.
 *
 * Fed from the outside of the runtime: transition notices (`runtime.subscribe`), wrapped step
 * implementations and metered stores, so the saga host itself stays free of metrics code.
 */
import { SagaStatus, type IndexStore } from '../journal/index-store.js';
import type { AppendLoad } from '../journal/journal.js';
import type { KvStore } from '../journal/kv-store.js';
import type { SagaBinding, StepFn, TransitionNotice } from '../runtime/types.js';
import { MetricsRegistry } from './exposition.js';
import type { StoreMeters } from './metered-stores.js';

/** Seconds: from a fast in-memory step to a long image build. */
const STEP_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900];
/** Seconds: a JetStream ack on loopback takes ~0.2–1 ms; a leader election stalls it for seconds. */
const APPEND_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Figures read from NATS are refreshed at most this often, however often one scrapes. */
const DEFAULT_COLLECT_EVERY_MS = 10_000;
/** Statuses kept per saga to tell a change (blocked entered) from another event while blocked. */
const STATUS_MEMORY_MAX = 100_000;

/** What the scrape-time figures are read from (absent parts are left out). */
export interface MetricsSources {
  readonly index?: IndexStore;
  readonly coordinators?: KvStore;
  readonly loaded?: () => number;
  readonly leaseValid?: () => boolean;
  /** Per replica of the journal stream: its name and how many operations it is behind. */
  readonly journalReplicas?: () => Promise<ReadonlyArray<{ name: string; lag: number; current: boolean }>>;
  readonly journalLastSeq?: () => Promise<number>;
  /** Journal appends on the wire now, and how many wait for room. */
  readonly appendLoad?: () => AppendLoad;
  readonly now?: () => number;
}

const machineOf = (m: string): string => m.split('@')[0]!;

export class JetsagaMetrics implements StoreMeters {
  readonly registry = new MetricsRegistry();
  readonly started = this.registry.counter('jetsaga_sagas_started_total', 'Sagas started on this coordinator, by machine.');
  readonly completed = this.registry.counter('jetsaga_sagas_completed_total', 'Sagas that completed on this coordinator, by machine.');
  readonly compensated = this.registry.counter('jetsaga_sagas_compensated_total', 'Sagas rolled back cleanly on this coordinator, by machine.');
  readonly cancelled = this.registry.counter('jetsaga_sagas_cancelled_total', 'Sagas cancelled on this coordinator, by machine.');
  readonly blocked = this.registry.counter('jetsaga_sagas_blocked_total', 'Times a saga driven here became blocked (an undo keeps failing; an operator must look), by machine.');
  readonly recovered = this.registry.counter('jetsaga_sagas_recovered_total', 'Sagas this coordinator resumed from the journal (recovery or takeover), by machine.');
  readonly purged = this.registry.counter('jetsaga_sagas_purged_total', 'Finished sagas purged by retention on this coordinator, by machine.');
  readonly stepSeconds = this.registry.histogram('jetsaga_step_duration_seconds', 'Step run time (attempt start to result), by machine, step and outcome.', STEP_BUCKETS);
  readonly appendSeconds = this.registry.histogram('jetsaga_journal_append_duration_seconds', 'Journal append latency (publish to ack, retries included), by outcome.', APPEND_BUCKETS);
  readonly stepsInFlight = this.registry.gauge('jetsaga_steps_in_flight', 'Step attempts running on this coordinator now.');
  readonly leaseRenewals = this.registry.counter('jetsaga_lease_renewals_total', "Writes of this coordinator's lease record, by outcome (failures: NATS away or the name taken).");
  readonly leaseValid = this.registry.gauge('jetsaga_coordinator_lease_valid', 'Whether this coordinator holds a valid lease and may drive sagas (1) or not (0).');
  readonly loaded = this.registry.gauge('jetsaga_sagas_loaded', 'Sagas driven by this coordinator now.');
  readonly open = this.registry.gauge('jetsaga_sagas_open', 'Unfinished sagas in the index (all coordinators), by status; blocked and parked need an operator.');
  readonly liveCoordinators = this.registry.gauge('jetsaga_coordinators_live', 'Coordinators of this namespace whose lease is unexpired.');
  readonly journalLastSeq = this.registry.gauge('jetsaga_journal_last_sequence', 'Last sequence of the journal stream.');
  readonly appendsInFlight = this.registry.gauge('jetsaga_journal_appends_in_flight', 'Journal appends sent and not yet acknowledged (at most 512 at once).');
  readonly appendsQueued = this.registry.gauge('jetsaga_journal_appends_queued', 'Journal appends waiting for room to be sent: a backlog (a mass resume, a slow server).');
  readonly journalLag = this.registry.gauge('jetsaga_journal_replica_lag', 'Operations a replica of the journal stream is behind its leader (0 everywhere on a single server).');
  readonly journalReplicaCurrent = this.registry.gauge('jetsaga_journal_replica_current', 'Whether a follower replica of the journal stream is current (1) or not (0).');
  readonly scrapeErrors = this.registry.counter('jetsaga_metrics_collect_errors_total', 'Scrape-time figures that could not be read (NATS away), by figure.');

  private readonly statuses = new Map<string, SagaStatus>();
  private sources: MetricsSources = {};
  private collecting: Promise<void> | undefined;
  private collectedAt = -Infinity;

  constructor(private readonly options: { collectEveryMs?: number } = {}) {}

  /** Where scrape-time figures come from (set once the coordinator admits work). */
  attach(sources: MetricsSources): void {
    this.sources = sources;
    this.collectedAt = -Infinity;
  }

  /** A runtime transition notice: counts starts, ends and sagas entering `blocked`. */
  readonly notice = (n: TransitionNotice): void => {
    const labels = { machine: n.machine };
    if (n.entryNo === 1) this.started.inc(labels);
    const before = this.statuses.get(n.sagaId);
    switch (n.status) {
      case SagaStatus.Completed:
        this.completed.inc(labels);
        break;
      case SagaStatus.Compensated:
        this.compensated.inc(labels);
        break;
      case SagaStatus.Cancelled:
        this.cancelled.inc(labels);
        break;
      case SagaStatus.Blocked:
        if (before !== SagaStatus.Blocked) this.blocked.inc(labels);
        break;
      default:
    }
    if (n.status === SagaStatus.Completed || n.status === SagaStatus.Compensated || n.status === SagaStatus.Cancelled) {
      this.statuses.delete(n.sagaId);
    } else {
      // Sagas taken over elsewhere never finish here: a bound keeps the memory of them small.
      if (this.statuses.size >= STATUS_MEMORY_MAX && before === undefined) this.statuses.clear();
      this.statuses.set(n.sagaId, n.status);
    }
  };

  /** A saga resumed here from its journal (recovery, takeover). */
  resumed(machine: string): void {
    this.recovered.inc({ machine: machineOf(machine) });
  }

  sagaPurged(machine: string): void {
    this.purged.inc({ machine: machineOf(machine) });
  }

  append(seconds: number, ok: boolean): void {
    this.appendSeconds.observe(seconds, { outcome: ok ? 'ok' : 'error' });
  }

  leaseRenewal(ok: boolean): void {
    this.leaseRenewals.inc({ outcome: ok ? 'ok' : 'failed' });
  }

  /** Wraps a step implementation to time it and count it in flight. */
  wrapStep(machine: string, step: string, fn: StepFn): StepFn {
    return async (input, ctx) => {
      this.stepsInFlight.inc();
      const t0 = process.hrtime.bigint();
      let outcome = 'error';
      try {
        const out: unknown = await fn(input, ctx);
        outcome = 'ok';
        return out;
      } finally {
        this.stepsInFlight.dec();
        this.stepSeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9, { machine, step, outcome });
      }
    };
  }

  /** The bindings with every step wrapped by `wrapStep`. */
  wrapBindings(bindings: readonly SagaBinding[]): SagaBinding[] {
    return bindings.map((b) => ({
      ...b,
      steps: Object.fromEntries(Object.entries(b.steps).map(([name, fn]) => [name, this.wrapStep(b.id, name, fn)])),
    }));
  }

  /** The Prometheus text, after refreshing the scrape-time figures if they are stale. */
  async render(): Promise<string> {
    await this.collect();
    return this.registry.render();
  }

  /** The same figures as JSON, for `$SRV.STATS`. */
  async json(): Promise<Record<string, unknown>> {
    await this.collect();
    return this.registry.toJSON();
  }

  /** Reads the figures that live in NATS; concurrent scrapes share one read. */
  collect(): Promise<void> {
    const now = (this.sources.now ?? Date.now)();
    if (now - this.collectedAt < (this.options.collectEveryMs ?? DEFAULT_COLLECT_EVERY_MS)) return this.collecting ?? Promise.resolve();
    this.collectedAt = now;
    this.collecting = this.doCollect().finally(() => (this.collecting = undefined));
    return this.collecting;
  }

  private async doCollect(): Promise<void> {
    const s = this.sources;
    if (s.loaded) this.loaded.set(s.loaded());
    if (s.leaseValid) this.leaseValid.set(s.leaseValid() ? 1 : 0);
    if (s.appendLoad) {
      const load = s.appendLoad();
      this.appendsInFlight.set(load.inFlight);
      this.appendsQueued.set(load.queued);
    }
    const tasks: Array<[string, () => Promise<void>]> = [];
    if (s.index) tasks.push(['open', () => this.collectOpen(s.index!)]);
    if (s.coordinators) tasks.push(['coordinators', () => this.collectCoordinators(s.coordinators!, (s.now ?? Date.now)())]);
    if (s.journalLastSeq) tasks.push(['journal_last_sequence', async () => this.journalLastSeq.set(await s.journalLastSeq!())]);
    if (s.journalReplicas) {
      tasks.push([
        'journal_replicas',
        async () => {
          const replicas = await s.journalReplicas!();
          this.journalLag.reset();
          this.journalReplicaCurrent.reset();
          for (const r of replicas) {
            this.journalLag.set(r.lag, { replica: r.name });
            this.journalReplicaCurrent.set(r.current ? 1 : 0, { replica: r.name });
          }
        },
      ]);
    }
    await Promise.all(tasks.map(([figure, fn]) => fn().catch(() => this.scrapeErrors.inc({ figure }))));
  }

  private async collectOpen(index: IndexStore): Promise<void> {
    const counts = new Map<string, number>();
    let after: string | undefined;
    do {
      const page = await index.listOpen({ ...(after === undefined ? {} : { after }), limit: 10_000 });
      for (const e of page.entries) counts.set(e.record.status, (counts.get(e.record.status) ?? 0) + 1);
      after = page.next;
    } while (after !== undefined);
    this.open.reset();
    // Every open status is reported, 0 included, so an alert on `> 0` sees it fall back.
    for (const status of [SagaStatus.Running, SagaStatus.Compensating, SagaStatus.Blocked, SagaStatus.Parked]) this.open.set(counts.get(status) ?? 0, { status });
  }

  private async collectCoordinators(kv: KvStore, now: number): Promise<void> {
    let live = 0;
    for (const key of await kv.keys()) {
      const e = await kv.get(key);
      if (!e) continue;
      try {
        const rec = JSON.parse(new TextDecoder().decode(e.value)) as { expiresAt?: number };
        if (typeof rec.expiresAt === 'number' && rec.expiresAt > now) live++;
      } catch {
        // not a lease record
      }
    }
    this.liveCoordinators.set(live);
  }
}

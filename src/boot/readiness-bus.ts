/**
 * The readiness bus: every change of a boot dependency is published on
 * `<namespace>.boot.<coordinator>.<dependency>` and kept in the `<namespace>_boot` KV bucket
 * under `<coordinator>.<dependency>`, so a late reader (`jetsaga boot status`, another
 * coordinator) sees the current state without having watched the changes.
 *
 * Every change is published on its subject as it happens (core NATS, in order). NATS is itself
 * a boot dependency, so the bus starts detached: it keeps the latest status of every
 * dependency and writes them all out once `connect()` gives it a connection. The KV writes
 * keep only the latest status per dependency and are retried after a failure (e.g. while
 * JetStream was away).
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { openNatsKvStore } from '../journal/nats-kv-store.js';
import type { KvStore } from '../journal/kv-store.js';
import type { Logger } from '../log.js';
import { streamInfoOrNull } from '../nats/streams.js';
import { natsNames } from '../runtime/nats-stores.js';
import type { DependencyStatus } from './boot-graph.js';

/** What the bus carries: a dependency's status plus who reports it and when. */
export interface ReadinessRecord extends DependencyStatus {
  readonly coordinator: string;
  /** Epoch ms of the write. */
  readonly at: number;
}

export interface ReadinessBusOptions {
  readonly coordinator: string;
  readonly namespace?: string;
  readonly replicas?: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

const encoder = new TextEncoder();

export class ReadinessBus {
  private readonly latest = new Map<string, DependencyStatus>();
  private readonly dirty = new Set<string>();
  private readonly names: ReturnType<typeof natsNames>;
  private readonly now: () => number;
  private nc: NatsConnection | undefined;
  private kv: KvStore | undefined;
  private flushing: Promise<void> | undefined;

  constructor(private readonly options: ReadinessBusOptions) {
    this.names = natsNames(options.namespace);
    this.now = options.now ?? Date.now;
  }

  /** Attaches a connection (opening the bucket) and writes out every status known so far. */
  async connect(nc: NatsConnection): Promise<void> {
    this.kv = await openNatsKvStore(nc, this.names.bootBucket, { history: 1, replicas: this.options.replicas ?? 1 });
    this.nc = nc;
    for (const name of this.latest.keys()) {
      this.send(name);
      this.dirty.add(name);
    }
    await this.flush();
  }

  detach(): void {
    this.nc = undefined;
    this.kv = undefined;
  }

  /** Records a change; published at once when connected, else on `connect()`. */
  publish(status: DependencyStatus): void {
    this.latest.set(status.name, status);
    this.send(status.name);
    this.dirty.add(status.name);
    void this.flush();
  }

  private record(name: string): Uint8Array {
    const record: ReadinessRecord = { ...this.latest.get(name)!, coordinator: this.options.coordinator, at: this.now() };
    return encoder.encode(JSON.stringify(record));
  }

  /** The change event on the subject: fire and forget (the client buffers while reconnecting). */
  private send(name: string): void {
    if (!this.nc) return;
    try {
      this.nc.publish(this.subject(name), this.record(name));
    } catch (e) {
      this.options.logger.debug({ dependency: name, err: (e as Error).message }, 'readiness change not published');
    }
  }

  subject(dependency: string): string {
    return `${this.names.bootPrefix}.${this.options.coordinator}.${dependency}`;
  }

  /** Writes every dirty status; a failed write stays dirty for the next flush. */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.nc && this.kv && this.dirty.size > 0) {
      const [name] = this.dirty;
      this.dirty.delete(name!);
      try {
        await this.kv.put(`${this.options.coordinator}.${name}`, this.record(name!));
      } catch (e) {
        // Retried by the next change, the next flush or connect().
        this.dirty.add(name!);
        this.options.logger.debug({ dependency: name, err: (e as Error).message }, 'readiness not written yet');
        return;
      }
    }
  }
}

/** Every readiness record in the bucket (all coordinators, or one), for late readers. */
export async function readReadiness(nc: NatsConnection, options: { namespace?: string; coordinator?: string } = {}): Promise<ReadinessRecord[]> {
  const bucket = natsNames(options.namespace).bootBucket;
  // A reader never creates the bucket: a least-privilege client may not (examples/nats-permissions),
  // and before any coordinator reported there is nothing to read.
  if (!(await streamInfoOrNull(await jetstreamManager(nc), `KV_${bucket}`))) return [];
  const kv = await openNatsKvStore(nc, bucket, { history: 1 });
  const keys = await kv.keys(options.coordinator ? `${options.coordinator}.` : undefined);
  const decoder = new TextDecoder();
  const records = await Promise.all(keys.map(async (k) => kv.get(k)));
  return records
    .filter((e) => e !== null)
    .map((e) => JSON.parse(decoder.decode(e.value)) as ReadinessRecord)
    .sort((a, b) => a.coordinator.localeCompare(b.coordinator));
}

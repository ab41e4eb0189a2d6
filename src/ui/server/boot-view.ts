/**
 * The boot panel's data: each coordinator's dependency graph from the readiness records
 * (`boot.status`), with whether the coordinator still runs — its lease in the coordinators
 * bucket, read the way `jetsaga boot status` reads it, since readiness is written on change
 * only and a dead coordinator keeps its last report.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ReadinessRecord } from '../../boot/readiness-bus.js';
import { decode as decodeLease } from '../../runtime/coordinator-lease.js';
import { natsNames } from '../../runtime/nats-stores.js';
import type { BootCoordinatorView, BootDependencyView } from '../api-types.js';

/** A readiness record as `boot.status` answers it (read defensively: an older coordinator may lack fields). */
type ReadinessLike = ReadinessRecord;

/**
 * Whether each coordinator holds a live lease: true, false (lapsed or released), or null when
 * unknown (it never took one, or the bucket cannot be read). Opens the bucket without creating it.
 */
export async function coordinatorsRunning(nc: NatsConnection, namespace: string, names: Iterable<string>, now = Date.now()): Promise<Map<string, boolean | null>> {
  const out = new Map<string, boolean | null>();
  for (const name of names) out.set(name, null);
  try {
    const bucket = natsNames(namespace).coordinatorsBucket;
    // A bound bucket reads with STREAM.MSG.GET unless told it answers direct gets, and a
    // least-privilege client may only use those (examples/nats-permissions): ask the stream.
    const { config } = await (await jetstreamManager(nc, { checkAPI: false })).streams.info(`KV_${bucket}`);
    const kv = await new Kvm(nc).open(bucket, { allow_direct: config.allow_direct ?? false });
    for (const name of out.keys()) {
      const entry = await kv.get(name);
      const lease = entry && entry.operation === 'PUT' ? decodeLease(entry.value) : null;
      out.set(name, lease ? lease.expiresAt > now : entry ? false : null);
    }
  } catch {
    // No bucket yet, or JetStream away: liveness stays unknown.
  }
  return out;
}

function dependencyView(r: ReadinessLike): BootDependencyView {
  const loose = r as unknown as Record<string, unknown>;
  const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  return {
    name: r.name,
    state: text(loose.state) ?? (r.ready ? 'ready' : 'unknown'),
    ready: r.ready,
    since: typeof loose.since === 'number' ? loose.since : typeof loose.at === 'number' ? loose.at : 0,
    error: r.ready ? null : text(loose.lastError),
    dependsOn: Array.isArray(loose.dependsOn) ? loose.dependsOn.filter((d): d is string => typeof d === 'string') : [],
    layer: typeof loose.layer === 'number' ? loose.layer : 0,
  };
}

export function bootCoordinators(records: readonly ReadinessLike[], running: ReadonlyMap<string, boolean | null>): BootCoordinatorView[] {
  const byCoordinator = new Map<string, BootDependencyView[]>();
  for (const r of records) {
    let deps = byCoordinator.get(r.coordinator);
    if (!deps) byCoordinator.set(r.coordinator, (deps = []));
    deps.push(dependencyView(r));
  }
  return [...byCoordinator.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, deps]) => ({
      name,
      running: running.get(name) ?? null,
      dependencies: deps.sort((a, b) => a.layer - b.layer || a.name.localeCompare(b.name)),
    }));
}

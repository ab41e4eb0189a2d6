/**
 * Whether coordinators still run, from their leases in the coordinators bucket: readiness is
 * written on change only, so a dead coordinator keeps its last report, and `jetsaga boot status`
 * and the visualizer's boot view both need to tell. Read only: a client reading it must neither
 * create the bucket nor need more than the least-privilege client of examples/nats-permissions
 * has (stream info and direct gets on the bucket).
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { decode as decodeLease } from '../runtime/coordinator-lease.js';
import { natsNames } from '../runtime/nats-stores.js';

/**
 * Per coordinator: true (its lease is live), false (lapsed or released), or null when unknown
 * (it never took one, or the bucket cannot be read).
 */
export async function coordinatorsRunning(nc: NatsConnection, namespace: string, names: Iterable<string>, now = Date.now()): Promise<Map<string, boolean | null>> {
  const out = new Map<string, boolean | null>();
  for (const name of names) out.set(name, null);
  if (out.size === 0) return out;
  try {
    const bucket = natsNames(namespace).coordinatorsBucket;
    // A bound bucket reads with STREAM.MSG.GET unless told it answers direct gets, and a
    // least-privilege client may only use those: ask the stream.
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

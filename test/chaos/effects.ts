/**
 * The idempotent effect sink: a JetStream KV bucket on the same nats-server, where a step's
 * effect is `create(<idempotency key>)`. A create that finds the key ("wrong last sequence")
 * means an earlier run applied it; a create whose outcome is unknown (timeout, server away) is
 * retried, so the sink rides out a nats-server restart. The bucket keeps a history per key, so
 * a second write of one key would show in the checks rather than overwrite the first.
 */
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { isTransient, isWrongLastSequence } from '../../src/nats/nats-errors.js';
import { readUntilCaughtUp } from '../../src/nats/ordered-read.js';
import { backoffMs, sleep } from '../../src/nats/retry.js';

export function effectsBucket(namespace: string): string {
  return `${namespace}_chaos_effects`;
}

/** KV keys are dot-separated tokens: `<saga>:<no>:<invocation>` → `<saga>.<no>.<invocation>`. */
export function kvKeyOf(idempotencyKey: string): string {
  return idempotencyKey.replaceAll(':', '.');
}

/** The inverse of `kvKeyOf`: saga ids have no dots and entry numbers are digits. */
export function idempotencyKeyOf(kvKey: string): string {
  const [saga, no, ...rest] = kvKey.split('.');
  return `${saga}:${no}:${rest.join('.')}`;
}

export interface EffectValue {
  readonly sagaId: string;
  readonly step: string;
  readonly attempt: number;
  readonly owner: string;
  readonly pid: number;
}

export class EffectSink {
  private constructor(private readonly kv: KV) {}

  /** Creates the bucket or binds to it (every process opens it with the same settings). */
  static async open(nc: NatsConnection, namespace: string): Promise<EffectSink> {
    return new EffectSink(await new Kvm(nc).create(effectsBucket(namespace), { history: 64 }));
  }

  /** Applies the effect of `key` once; retries while the outcome is unknown. */
  async apply(key: string, value: EffectValue, signal: AbortSignal): Promise<'applied' | 'already'> {
    const data = JSON.stringify({ ...value, t: Date.now() });
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted();
      try {
        await this.kv.create(kvKeyOf(key), data);
        return 'applied';
      } catch (e) {
        if (isWrongLastSequence(e)) return 'already';
        if (!isTransient(e)) throw e;
      }
      await sleep(backoffMs(attempt), [signal]);
    }
  }
}

/** Every write the sink holds, per idempotency key, read in one pass over its stream. */
export async function readEffects(nc: NatsConnection, namespace: string): Promise<Map<string, EffectValue[]>> {
  const stream = `KV_${effectsBucket(namespace)}`;
  const js = jetstream(nc, { timeout: 10_000 });
  const out = new Map<string, EffectValue[]>();
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  const untilSeq = (await jsm.streams.info(stream)).state.last_seq;
  const oc = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const prefix = `$KV.${effectsBucket(namespace)}.`;
  try {
    for await (const m of readUntilCaughtUp(oc, { untilSeq })) {
      // Only puts: a delete or purge marker carries a KV-Operation header.
      if (m.headers?.get('KV-Operation')) continue;
      const key = idempotencyKeyOf(m.subject.slice(prefix.length));
      const list = out.get(key) ?? [];
      list.push(m.json<EffectValue>());
      out.set(key, list);
    }
  } finally {
    await oc.delete().catch(() => undefined);
  }
  return out;
}

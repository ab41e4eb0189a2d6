/** The entity stores on a NATS KV bucket, `<namespace>_entities`. */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { NatsKvStore } from '../journal/nats-kv-store.js';
import { assertServerVersion } from '../nats/connect.js';
import { withReplicas } from '../nats/replicas.js';
import { natsNames } from '../runtime/nats-stores.js';
import { unavailable } from './entity-kv.js';
import { assertMillis } from './names.js';
import { createEntityStores, type EntityStoreOptions, type EntityStores } from './entity-stores.js';

/** `EntityStoreOptions` plus the bucket's settings on NATS. */
export interface NatsEntityStoreOptions extends EntityStoreOptions {
  /** Replicas of the bucket (3 in a production cluster). Default 1. */
  readonly replicas?: number;
  /**
   * How long one request to the server may take before the operation fails with
   * ENTITIES_UNAVAILABLE (retryable). Default 5 000 ms: while NATS is away, a request waits
   * this long rather than failing at once (the client buffers it across a reconnect).
   */
  readonly timeoutMs?: number;
}

/** The bucket holding a namespace's entities. */
export function entitiesBucket(namespace = 'jetsaga'): string {
  natsNames(namespace); // validates the namespace, with the same error as the runtime's stores
  return `${namespace}_entities`;
}

/**
 * Creates (or binds to) the namespace's entities bucket and returns the stores over it. The
 * bucket keeps one value per key: the stores only ever read the latest.
 */
export async function openEntityStores(nc: NatsConnection, namespace = 'jetsaga', options: NatsEntityStoreOptions = {}): Promise<EntityStores> {
  const bucket = entitiesBucket(namespace);
  const timeout = options.timeoutMs ?? 5_000;
  assertMillis(timeout, 'timeoutMs', true);
  assertServerVersion(nc);
  try {
    const js = jetstream(nc, { timeout });
    const jsm = await jetstreamManager(nc, { timeout });
    const kv = await withReplicas(nc, jsm, { stream: `KV_${bucket}`, what: `KV bucket ${bucket}`, replicas: options.replicas }, () =>
      new Kvm(js).create(bucket, {
        history: 1,
        ...(options.replicas === undefined ? {} : { replicas: options.replicas }),
      }),
    );
    const store = new NatsKvStore(bucket, kv, jsm, nc);
    return createEntityStores(store, options);
  } catch (e) {
    throw unavailable(e, `open the entities bucket ${bucket}`, { bucket });
  }
}

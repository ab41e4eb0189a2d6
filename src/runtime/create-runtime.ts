/** `createRuntime`: opens the stores (on NATS unless given) and a runtime on them. */
import type { NatsConnection } from '@nats-io/transport-node';
import { InvalidArgumentError } from '../errors.js';
import { connectNats } from '../nats/connect.js';
import { openNatsStores } from './nats-stores.js';
import { Runtime, type RuntimeCoreOptions } from './runtime.js';
import type { RuntimeStores } from './stores.js';

export interface RuntimeOptions extends Omit<RuntimeCoreOptions, 'stores'> {
  /** An open NATS connection; the runtime leaves it open on close. */
  readonly nats?: NatsConnection;
  /** NATS server URL(s) to connect to; the runtime closes this connection on close. */
  readonly servers?: string | string[];
  /** Prefix of every stream and bucket name (default `jetsaga`). */
  readonly namespace?: string;
  /** Stream and bucket replicas (default 1; 3 in a production cluster). */
  readonly replicas?: number;
  /** Explicit stores instead of NATS, e.g. `memoryStores()`. */
  readonly stores?: RuntimeStores;
}

/**
 * Opens a runtime: connects (with endless reconnects), makes sure the streams and buckets
 * exist with the settings jetsaga needs, takes the coordinator lease and begins recovery.
 */
export async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  const given = [options.nats, options.servers, options.stores].filter((x) => x !== undefined).length;
  if (given !== 1) throw new InvalidArgumentError('createRuntime needs exactly one of: nats, servers, stores');
  let stores = options.stores;
  if (!stores) {
    const owns = options.nats === undefined;
    const nc = options.nats ?? (await connectNats({ servers: options.servers!, name: `jetsaga:${options.owner ?? 'runtime'}`, logger: options.logger }));
    try {
      stores = await openNatsStores(nc, { namespace: options.namespace, replicas: options.replicas, logger: options.logger, ownsConnection: owns });
    } catch (e) {
      if (owns) await nc.close();
      throw e;
    }
  }
  return new Runtime({ ...options, stores }).open();
}

/** `createRuntime`: opens the stores (on NATS unless given) and a runtime on them. */
import type { NatsConnection } from '@nats-io/transport-node';
import { defaultOwner, OWNER_PATTERN } from '../config.js';
import { InvalidArgumentError } from '../errors.js';
import { connectNats } from '../nats/connect.js';
import type { NatsAuth } from '../nats/nats-auth.js';
import { openNatsStores } from './nats-stores.js';
import { MachineRegistry } from './registry.js';
import { Runtime, type RuntimeCoreOptions } from './runtime.js';
import type { RuntimeStores } from './stores.js';
import { defaultLeaseTtlMs } from './lease-defaults.js';

export interface RuntimeOptions extends Omit<RuntimeCoreOptions, 'stores'> {
  /** An open NATS connection; the runtime leaves it open on close. */
  readonly nats?: NatsConnection;
  /**
   * NATS server URL(s) to connect to (`host:port` or `nats://host:port`); the runtime closes
   * this connection on close. An unreachable server fails with NATS_UNREACHABLE.
   */
  readonly servers?: string | string[];
  /** Credentials and TLS for `servers` (see `loadNatsAuth`). */
  readonly auth?: NatsAuth;
  /** How long the first connection to `servers` may take (default NATS_CONNECT_TIMEOUT_MS, 4 s). */
  readonly connectTimeoutMs?: number;
  /** Prefix of every stream and bucket name (default `jetsaga`). */
  readonly namespace?: string;
  /** Stream and bucket replicas (default 1; 3 in a production cluster). */
  readonly replicas?: number;
  /** Explicit stores instead of NATS, e.g. `memoryStores()`. */
  readonly stores?: RuntimeStores;
}


/**
 * Opens a runtime: connects (with endless reconnects once connected), makes sure the streams
 * and buckets exist with the settings jetsaga needs, takes the coordinator lease and begins
 * recovery. Arguments are checked before anything is opened, and on any failure whatever was
 * opened here is closed again, so a caller that catches the error can exit.
 */
export async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  const given = [options.nats, options.servers, options.stores].filter((x) => x !== undefined).length;
  if (given !== 1) throw new InvalidArgumentError('createRuntime needs exactly one of: nats, servers, stores');
  const owner = options.owner ?? defaultOwner(process.env);
  if (!OWNER_PATTERN.test(owner)) throw new InvalidArgumentError(`owner "${owner}" must match ${OWNER_PATTERN}`);
  // Throws for a machine that invokes a step nobody implements, before connecting.
  new MachineRegistry(options.machines);

  let stores = options.stores;
  if (!stores) {
    const owns = options.nats === undefined;
    const nc =
      options.nats ??
      (await connectNats({ servers: options.servers!, name: `jetsaga:${owner}`, logger: options.logger, timeoutMs: options.connectTimeoutMs, auth: options.auth }));
    try {
      stores = await openNatsStores(nc, { namespace: options.namespace, replicas: options.replicas, logger: options.logger, ownsConnection: owns });
    } catch (e) {
      if (owns) await nc.close();
      throw e;
    }
  }
  const openedHere = options.stores === undefined;
  let runtime: Runtime;
  try {
    runtime = new Runtime({ ...options, stores, leaseTtlMs: options.leaseTtlMs ?? defaultLeaseTtlMs(options.replicas) });
  } catch (e) {
    // The caller's own stores stay theirs; ours (and our connection) go.
    if (openedHere) await stores.close?.().catch(() => undefined);
    throw e;
  }
  try {
    return await runtime.open();
  } catch (e) {
    // A runtime owns its stores once built: closing it stops the lease timer (if the lease was
    // taken) and closes the stores and, when ours, the connection.
    await runtime.close().catch(() => undefined);
    throw e;
  }
}

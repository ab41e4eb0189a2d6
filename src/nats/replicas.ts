/**
 * Replication of jetsaga's streams and buckets (`--replicas`). On nats-server 2.9 one node's
 * ack means "in one page cache" (no per-write fsync); R3 on a cluster makes it "in the page
 * cache of at least two nodes". This module decides whether the servers can hold the asked
 * number of replicas, raises (never lowers) the replicas of streams that exist with fewer, and
 * turns the server's placement refusals into one clear, non-retryable error.
 */
import { JetStreamApiError, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { SagaError } from '../errors.js';

export const REPLICAS_UNAVAILABLE = 'REPLICAS_UNAVAILABLE';
/** JetStream's limit: a stream has 1 to 5 replicas. */
export const MAX_REPLICAS = 5;

/** Server refusals that mean "this cluster cannot place that many replicas". */
const PLACEMENT_CODES = new Set([
  10005 /* no suitable peers for placement */,
  10023 /* insufficient resources */,
  10074 /* replicas > 1 not supported in non-clustered mode */,
]);

export class ReplicasUnavailableError extends SagaError {
  override name = 'ReplicasUnavailableError';
  constructor(message: string, details: Record<string, unknown>, cause?: unknown) {
    // Not retryable: the boot fails at once with this message instead of waiting forever.
    super(REPLICAS_UNAVAILABLE, message, { status: 503, retryable: false, cause, details });
  }
}

/** The cluster the connected server belongs to; undefined for a single, non-clustered server. */
export function clusterName(nc: NatsConnection): string | undefined {
  return nc.info?.cluster || undefined;
}

/** How many servers the client knows of: the one it talks to plus the others it was told about. */
export function knownServers(nc: NatsConnection): number {
  const urls = new Set(nc.info?.connect_urls ?? []);
  return Math.max(1, urls.size);
}

/**
 * Refuses more than one replica on a server that is not part of a cluster. Checked before any
 * stream is touched because 2.9 refuses to *create* such a stream but silently accepts an
 * *update* to R3 on a single server (and then reports num_replicas 3 for one copy).
 */
export function assertReplicasPossible(nc: NatsConnection, replicas: number): void {
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) {
    throw new ReplicasUnavailableError(`replicas must be an integer from 1 to ${MAX_REPLICAS}, not ${replicas}`, { replicas });
  }
  if (replicas > 1 && clusterName(nc) === undefined) {
    throw new ReplicasUnavailableError(
      `--replicas ${replicas} needs a NATS cluster with JetStream, but ${nc.getServer()} is a single server ` +
        `(replicas > 1 not supported in non-clustered mode); use --replicas 1 or point --nats at a cluster`,
      { replicas, server: nc.getServer() },
    );
  }
}

/** The server's placement refusal as a ReplicasUnavailableError; anything else unchanged. */
export function replicasError(err: unknown, what: string, replicas: number, nc?: NatsConnection): unknown {
  if (!(err instanceof JetStreamApiError) || !PLACEMENT_CODES.has(err.code)) return err;
  const where = nc ? ` (${clusterName(nc) ? `cluster ${clusterName(nc)}, ${knownServers(nc)} servers known` : 'a single server'})` : '';
  return new ReplicasUnavailableError(`${what}: the NATS servers cannot hold ${replicas} replicas${where}: ${err.message}`, { replicas, code: err.code }, err);
}

/**
 * Raises the replicas of an existing stream (a KV bucket's `KV_<bucket>`, an object store's
 * `OBJ_<bucket>`) to `replicas` when it has fewer; the client libraries bind to an existing
 * bucket as it is. A stream with more replicas is left alone: a coordinator started with the
 * default of 1 must not lower what an operator set up.
 */
export async function ensureReplicas(jsm: JetStreamManager, stream: string, replicas: number, what = `stream ${stream}`): Promise<StreamInfo> {
  const info = await jsm.streams.info(stream);
  if ((info.config.num_replicas || 1) >= replicas) return info;
  try {
    return await jsm.streams.update(stream, { ...info.config, num_replicas: replicas });
  } catch (err) {
    throw replicasError(err, `could not raise ${what} to ${replicas} replicas`, replicas);
  }
}

/**
 * Creates or binds to a bucket through its client library (`create`), then raises its stream
 * to `replicas` if it existed with fewer. Without `replicas` (a reader binding to a bucket a
 * coordinator set up) the bucket is used as it is.
 */
export async function withReplicas<T>(
  nc: NatsConnection,
  jsm: JetStreamManager,
  target: { readonly stream: string; readonly what: string; readonly replicas: number | undefined },
  create: () => Promise<T>,
): Promise<T> {
  const { stream, what, replicas } = target;
  if (replicas === undefined) return create();
  assertReplicasPossible(nc, replicas);
  let made: T;
  try {
    made = await create();
  } catch (err) {
    throw replicasError(err, `could not create ${what}`, replicas, nc);
  }
  await ensureReplicas(jsm, stream, replicas, what);
  return made;
}

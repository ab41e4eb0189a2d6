/**
 * The runtime's stores on NATS JetStream. A `namespace` keeps several independent jetsaga
 * deployments (or test cases) apart on one server; the default is `jetsaga`.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { InvalidArgumentError } from '../errors.js';
import { openJetStreamIndexStore } from '../journal/jetstream-index-store.js';
import { openJetStreamJournal } from '../journal/jetstream-journal.js';
import { openNatsKvStore } from '../journal/nats-kv-store.js';
import type { Logger } from '../log.js';
import { assertServerVersion } from '../nats/connect.js';
import type { RuntimeStores } from './stores.js';

export interface NatsStoreOptions {
  /** Prefix of every stream, subject and bucket name (`[a-z0-9_-]`, default `jetsaga`). */
  readonly namespace?: string;
  /** Replicas of every stream and bucket (3 in a production cluster). Default 1. */
  readonly replicas?: number;
  readonly logger?: Logger;
  /** Closed with the stores (when the runtime opened the connection itself). */
  readonly ownsConnection?: boolean;
}

const NAMESPACE = /^[a-z0-9_-]{1,32}$/;

/** Names of every NATS resource in a namespace (also used by the CLI and the docs). */
export function natsNames(namespace = 'jetsaga') {
  if (!NAMESPACE.test(namespace)) throw new InvalidArgumentError(`namespace "${namespace}" must match ${NAMESPACE}`);
  const up = namespace.toUpperCase().replace(/-/g, '_');
  return {
    eventsStream: `${up}_EVENTS`,
    eventsPrefix: `${namespace}.ev`,
    indexStream: `${up}_INDEX`,
    indexPrefix: `${namespace}.idx`,
    checkpointsBucket: `${namespace}_checkpoints`,
    coordinatorsBucket: `${namespace}_coordinators`,
    /** Readiness changes: `<bootPrefix>.<coordinator>.<dependency>`. */
    bootPrefix: `${namespace}.boot`,
    /** Latest readiness per `<coordinator>.<dependency>`, for late readers. */
    bootBucket: `${namespace}_boot`,
    /** Build progress: `<progressPrefix>.<buildId>`, one subject per build. */
    progressStream: `${up}_PROGRESS`,
    progressPrefix: `${namespace}.progress`,
    /** Source tars handed to builds (object store). */
    sourcesBucket: `${namespace}_sources`,
    /** Apps, versions, config versions, sandboxes and deployment locks. */
    entitiesBucket: `${namespace}_entities`,
  };
}

export async function openNatsStores(nc: NatsConnection, options: NatsStoreOptions = {}): Promise<RuntimeStores> {
  assertServerVersion(nc);
  const names = natsNames(options.namespace);
  const replicas = options.replicas ?? 1;
  const [journal, index, checkpoints, coordinators] = await Promise.all([
    openJetStreamJournal(nc, { stream: names.eventsStream, subjectPrefix: names.eventsPrefix, replicas, logger: options.logger }),
    openJetStreamIndexStore(nc, { stream: names.indexStream, subjectPrefix: names.indexPrefix, replicas }),
    openNatsKvStore(nc, names.checkpointsBucket, { history: 1, replicas }),
    openNatsKvStore(nc, names.coordinatorsBucket, { history: 1, replicas }),
  ]);
  return {
    journal,
    index,
    checkpoints,
    coordinators,
    close: async () => {
      await journal.close();
      index.close();
      if (options.ownsConnection) await nc.drain().catch(() => nc.close());
    },
  };
}

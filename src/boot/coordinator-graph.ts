/**
 * The coordinator's boot graph (DESIGN §4):
 *
 *   nats → jetstream → staging → builder ─┐
 *   names → registry                      ├→ admission → recovery
 *   names ────────────────────────────────┘
 *
 * - nats: the configured server; with none configured and nothing listening on the default
 *   address, an embedded `nats-server -js` under the data dir.
 * - jetstream: the streams and buckets exist (opening the stores creates them); the readiness
 *   bus attaches here.
 * - staging: the staging dir exists and is writable. builder: the in-process image builder's
 *   work dir is usable.
 * - names: `cluster.local` (the registry name) → the registry's address, in jetsaga's own
 *   lookup. registry: `GET /v2/` answers; with none configured and nothing listening on the
 *   default address, an embedded `docker-registry`.
 * - admission: the runtime opens and work is accepted. recovery: background recovery begins —
 *   strictly after admission, and without waiting for the pass, so boot ends promptly.
 *
 * Admission does not wait for the registry: an unreachable registry must not take the whole
 * API down. Sagas that push declare `needs: ['registry']` and wait, journaled, for its
 * readiness event in a state of their own (see readiness-gate.ts).
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { lookup } from 'node:dns/promises';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { parseHostPort, type CoordinatorConfig } from '../config.js';
import type { Logger } from '../log.js';
import { connectNats, NATS_CONNECT_TIMEOUT_MS } from '../nats/connect.js';
import { assertReplicasPossible, clusterName } from '../nats/replicas.js';
import { natsNames, openNatsStores } from '../runtime/nats-stores.js';
import type { RuntimeStores } from '../runtime/stores.js';
import { natsAuthFor } from './embedded-auth.js';
import { startEmbeddedNats, type EmbeddedNats } from './embedded-nats.js';
import { startEmbeddedRegistry, type EmbeddedRegistry } from './embedded-registry.js';
import type { BootDependency } from './graph.js';
import type { NameMap } from './name-map.js';
import { embedUnlessTaken, replaceExited } from './embedded-takeover.js';
import { isListening } from './port-probe.js';
import { probeRegistry } from './registry-probe.js';

/** Names of the coordinator's boot dependencies. */
export const Dep = {
  Nats: 'nats',
  JetStream: 'jetstream',
  Staging: 'staging',
  Builder: 'builder',
  Names: 'names',
  Registry: 'registry',
  Admission: 'admission',
  Recovery: 'recovery',
} as const;

const LOOPBACK = '127.0.0.1';

/** What the graph brings up, shared with the coordinator that owns it. */
export interface CoordinatorResources {
  nc?: NatsConnection;
  natsUrl?: string;
  embeddedNats?: EmbeddedNats;
  stores?: RuntimeStores;
  embeddedRegistry?: EmbeddedRegistry;
  /** `http://<registry name>:<port>`, resolved through the name map. */
  registryUrl?: string;
}

export interface CoordinatorGraphHooks {
  readonly config: CoordinatorConfig;
  readonly resources: CoordinatorResources;
  readonly names: NameMap;
  readonly logger: Logger;
  /** Called when the NATS connection reports a disconnect. */
  readonly natsDisconnected: () => void;
  readonly admit: () => Promise<void>;
  readonly checkAdmitted: () => void;
  readonly closeAdmission: () => Promise<void>;
  readonly beginRecovery: () => void;
  /** Health-check period of the network dependencies (default 2 s). */
  readonly healthIntervalMs?: number;
}

export function coordinatorDependencies(h: CoordinatorGraphHooks): BootDependency[] {
  const { config, resources: r, names } = h;
  const health = h.healthIntervalMs ?? 2_000;
  const staging = join(config.dataDir, 'staging');
  const builderDir = join(config.dataDir, 'builder');
  let announced = false;
  let durabilityWarned = false;
  // How an embedded server is started, at boot and again after it exited.
  const embedNats = (logger: Logger, signal: AbortSignal) => (): Promise<EmbeddedNats> =>
    startEmbeddedNats({ dataDir: config.dataDir, port: config.nats.port, bin: config.nats.bin, logger, signal });
  const embedRegistry = (logger: Logger, signal: AbortSignal) => (): Promise<EmbeddedRegistry> =>
    startEmbeddedRegistry({ dataDir: config.dataDir, port: config.registry.port, bin: config.registry.bin, logger, signal });
  const registry = (): { host: string; port: number } =>
    config.registry.address ? parseHostPort(config.registry.address, 'registry') : { host: LOOPBACK, port: config.registry.port };

  return [
    {
      name: Dep.Nats,
      description: 'the NATS server (embedded when none is configured or listening)',
      healthIntervalMs: health,
      start: async ({ logger, signal }) => {
        if (!r.natsUrl) {
          if (config.nats.url) r.natsUrl = config.nats.url;
          else if (await isListening(LOOPBACK, config.nats.port)) r.natsUrl = `nats://${LOOPBACK}:${config.nats.port}`;
          else {
            logger.info({ port: config.nats.port, dataDir: config.dataDir }, 'no NATS server configured or listening: starting an embedded one');
            r.embeddedNats = await embedUnlessTaken(embedNats(logger, signal), 'nats-server', config.nats.port, logger);
            r.natsUrl = r.embeddedNats?.url ?? `nats://${LOOPBACK}:${config.nats.port}`;
          }
        }
        // Said before the first attempt: one against a server that never answers takes the
        // whole connect timeout, and the operator should not watch a silent process meanwhile.
        if (!announced) logger.info({ url: r.natsUrl }, `connecting to NATS at ${r.natsUrl}`);
        announced = true;
        // Bounded and abortable: a server that never answers fails this attempt (the boot
        // graph retries, saying what it waits for), and a stop gives up the attempt at once.
        // The embedded server takes only its own nkey; any other takes what was configured
        // (for the default address, the data dir's embedded nkey when none was).
        const auth = r.embeddedNats?.auth ?? natsAuthFor(config);
        r.nc ??= await connectNats({ servers: r.natsUrl, name: `jetsaga:${config.owner}`, logger: h.logger, timeoutMs: NATS_CONNECT_TIMEOUT_MS, signal, auth });
        void watchDisconnects(r.nc, h.natsDisconnected);
      },
      check: async ({ signal }) => {
        // An embedded server that died is started again on the same store.
        if (r.embeddedNats && !r.embeddedNats.process.running) {
          r.embeddedNats = await replaceExited(embedNats(h.logger, signal), 'nats-server', config.nats.port, h.logger);
        }
        if (!r.nc || r.nc.isClosed()) throw new Error('not connected to NATS');
        await withTimeout(r.nc.flush(), 3_000, 'NATS did not answer a ping within 3 s');
      },
      stop: async () => {
        await r.nc?.drain().catch(() => r.nc?.close());
        r.nc = undefined;
        await r.embeddedNats?.stop();
      },
    },
    {
      name: Dep.JetStream,
      dependsOn: [Dep.Nats],
      description: 'JetStream answers and the streams and buckets exist',
      healthIntervalMs: health,
      start: async () => {
        if (r.stores) return;
        // Refused before anything is created: more replicas than a single server can hold.
        assertReplicasPossible(r.nc!, config.replicas);
        // Answered by the meta leader only: in a cluster, none may be elected yet (retried).
        await (await jetstreamManager(r.nc!, { timeout: 3_000 })).getAccountInfo();
        r.stores = await openNatsStores(r.nc!, { namespace: config.namespace, replicas: config.replicas, logger: h.logger });
        if (!durabilityWarned && config.replicas === 1 && clusterName(r.nc!) === undefined) {
          durabilityWarned = true;
          h.logger.warn(
            { replicas: 1, server: r.nc!.getServer() },
            'one replica on a single NATS server: durability rests on one page cache (nats-server 2.9 does not fsync each write); run a cluster with --replicas 3 for acks held by two nodes',
          );
        }
      },
      check: async () => {
        const jsm = await jetstreamManager(r.nc!, { timeout: 3_000 });
        // A meta leader (account info) and the journal stream's leader (stream info) answer.
        await jsm.getAccountInfo();
        await jsm.streams.info(natsNames(config.namespace).eventsStream);
      },
    },
    {
      name: Dep.Staging,
      dependsOn: [Dep.JetStream],
      description: `the staging dir ${staging} is writable`,
      start: () => mkdir(staging, { recursive: true }).then(() => undefined),
      check: () => probeWritable(staging),
    },
    {
      name: Dep.Builder,
      dependsOn: [Dep.Staging],
      description: 'the in-process image builder has a usable work dir',
      start: () => mkdir(builderDir, { recursive: true }).then(() => undefined),
      check: () => probeWritable(builderDir),
    },
    {
      name: Dep.Names,
      description: `${config.registry.name} resolves to the registry, in jetsaga's own lookup`,
      check: async () => {
        const { host, port } = registry();
        const address = isIP(host) ? host : (await lookup(host)).address;
        names.set(config.registry.name, address);
        r.registryUrl = `http://${config.registry.name}:${port}`;
      },
    },
    {
      name: Dep.Registry,
      dependsOn: [Dep.Names],
      description: 'the OCI registry answers GET /v2/ (embedded when none is configured or listening)',
      healthIntervalMs: health,
      start: async ({ logger, signal }) => {
        if (config.registry.address || r.embeddedRegistry) return;
        if (await isListening(LOOPBACK, config.registry.port)) return;
        logger.info({ port: config.registry.port, dataDir: config.dataDir }, 'no registry configured or listening: starting an embedded one');
        r.embeddedRegistry = await embedUnlessTaken(embedRegistry(logger, signal), 'docker-registry', config.registry.port, logger);
      },
      check: async ({ signal }) => {
        if (r.embeddedRegistry && !r.embeddedRegistry.process.running) {
          r.embeddedRegistry = await replaceExited(embedRegistry(h.logger, signal), 'docker-registry', config.registry.port, h.logger);
        }
        await probeRegistry(r.registryUrl!, { names, signal });
      },
      stop: async () => {
        await r.embeddedRegistry?.stop();
      },
    },
    {
      name: Dep.Admission,
      dependsOn: [Dep.JetStream, Dep.Staging, Dep.Builder, Dep.Names],
      description: 'the saga runtime accepts work',
      start: () => h.admit(),
      check: () => h.checkAdmitted(),
      stop: () => h.closeAdmission(),
      stopTimeoutMs: 15_000,
    },
    {
      name: Dep.Recovery,
      dependsOn: [Dep.Admission],
      description: 'background recovery of open sagas has begun',
      start: () => h.beginRecovery(),
      check: () => undefined,
    },
  ];
}

async function probeWritable(dir: string): Promise<void> {
  const probe = join(dir, `.probe-${process.pid}`);
  await writeFile(probe, '');
  await rm(probe, { force: true });
}

async function watchDisconnects(nc: NatsConnection, onDisconnect: () => void): Promise<void> {
  try {
    for await (const s of nc.status()) if (s.type === 'disconnect') onDisconnect();
  } catch {
    // the status iterator ends with the connection
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * The service API against a real nats-server and registry, with two in-process coordinators
 * (different owners, one namespace) answering in one queue group: discovery through `$SRV`, a
 * deploy of examples/static-site through the client, every read endpoint, bad requests and
 * unknown ids as typed errors, load sharing, nobody listening, and a fuzz of random bodies.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Svcm, type ServiceInfo, type ServiceStats } from '@nats-io/services';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Coordinator } from '../../src/coordinator.js';
import type { SagaError } from '../../src/errors.js';
import { JetsagaClient } from '../../src/service/client.js';
import { startService, type ServiceHandle } from '../../src/service/service.js';
import { Endpoint, endpointSubject } from '../../src/service/subjects.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { until } from '../helpers/until.js';

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');
const namespace = `svc${process.pid}`;

let server: NatsServerHandle;
let registry: RegistryHandle;
let nc: NatsConnection;
let client: JetsagaClient;
const coordinators: Coordinator[] = [];
const dataDirs: string[] = [];
let small: ServiceHandle | undefined;

async function bootCoordinator(owner: string): Promise<Coordinator> {
  const dataDir = await mkdtemp(join(tmpdir(), 'jetsaga-svc-'));
  dataDirs.push(dataDir);
  const config = loadConfig({ nats: server.url, registry: `127.0.0.1:${registry.port}`, namespace, owner, dataDir }, {});
  const c = new Coordinator({ config, machines: [], builds: true, service: true, healthIntervalMs: 300, recoverIntervalMs: 0 });
  coordinators.push(c);
  await c.allReady();
  return c;
}

beforeAll(async () => {
  [server, registry] = await Promise.all([startNatsServer(), startRegistry()]);
  await Promise.all([bootCoordinator('svc-a'), bootCoordinator('svc-b')]);
  nc = await connect({ servers: server.url });
  client = JetsagaClient.connect(nc, { namespace });
}, 120_000);

afterAll(async () => {
  await small?.stop();
  await nc?.close();
  await Promise.all(coordinators.map((c) => c.stop()));
  await Promise.all([server?.stop(), registry?.stop()]);
  await Promise.all(dataDirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function raw(endpoint: Endpoint, body: Uint8Array | string, prefix = `${namespace}.api`): Promise<Msg> {
  return nc.request(endpointSubject(endpoint, prefix), body, { timeout: 40_000 });
}

function expectTypedError(m: Msg, code: string, status: number): { code: string; message: string; status: number; retryable: boolean } {
  expect(m.headers?.get('Nats-Service-Error-Code')).toBe(String(status));
  expect(m.headers?.get('Nats-Service-Error')).toBeTruthy();
  expect(m.headers?.get('Jetsaga-Error-Code')).toBe(code);
  const body = m.json<{ error: { code: string; message: string; status: number; retryable: boolean } }>();
  expect(body.error).toMatchObject({ code, status });
  expect(typeof body.error.retryable).toBe('boolean');
  return body.error;
}

async function rejection(p: Promise<unknown>): Promise<SagaError> {
  try {
    await p;
  } catch (e) {
    return e as SagaError;
  }
  throw new Error('resolved');
}

describe('discovery', () => {
  it('$SRV.INFO.jetsaga lists every endpoint with its request schema and error codes, per coordinator', async () => {
    const infos = await collect<ServiceInfo>(await new Svcm(nc).client({ strategy: 'timer', maxWait: 2_000 }).info('jetsaga'));
    const mine = infos.filter((i) => i.metadata?.namespace === namespace);
    expect(mine.map((i) => i.metadata?.coordinator).sort()).toEqual(['svc-a', 'svc-b']);
    for (const info of mine) {
      expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
      expect(info.endpoints.map((e) => e.subject).sort()).toEqual(Object.values(Endpoint).map((e) => `${namespace}.api.${e}`).sort());
      for (const e of info.endpoints) {
        expect(e.queue_group).toBe('jetsaga');
        expect(e.metadata?.request).toMatch(/Request$/);
        expect(e.metadata?.errors).toMatch(/^[A-Z_]+(,[A-Z_]+)*$/);
      }
    }
  });
});

describe('a deploy through the client', () => {
  let id: string;

  beforeAll(async () => {
    ({ id } = await client.deploy(join(EXAMPLES, 'static-site'), { app: 'static-site' }));
    await until(async () => ['completed', 'compensated', 'cancelled', 'blocked', 'parked'].includes((await client.getBuild(id)).build.status), 240_000, 'build finished');
  }, 300_000);

  it('builds.get: completed, with version, image digest and a url that answers HTTP', async () => {
    const { saga, build } = await client.getBuild(id);
    expect(saga.id).toBe(id);
    expect(build).toMatchObject({ app: 'static-site', version: 1, status: 'completed' });
    expect(build.image).toMatch(/^sha256:[0-9a-f]{64}$/);
    const res = await fetch(build.url!);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/<html/i);
  });

  it('builds.progress pages through the stored records to the result; followBuild reads the same', async () => {
    // Followed first: progress is written just after each transition, so it may trail the saga's status.
    const followed = await collect(client.followBuild(id));
    const paged: number[] = [];
    let afterSeq: number | undefined;
    for (let page = 0; page < 1000; page++) {
      const r = await client.buildProgress(id, { afterSeq, limit: 5 });
      paged.push(...r.records.map((x) => x.seq));
      expect(r.records.length).toBeLessThanOrEqual(5);
      if (!r.more) {
        expect(r.done).toBe(true);
        expect(r.records.at(-1)?.kind).toBe('result');
        break;
      }
      afterSeq = r.next ?? undefined;
    }
    expect(followed.map((r) => r.seq)).toEqual(paged);
    expect(paged.length).toBeGreaterThan(5);
  });

  it('sagas.list / sagas.get / sagas.events', async () => {
    const list = await client.listSagas({ machine: 'build' });
    expect(list.sagas.map((s) => s.id)).toContain(id);
    expect((await client.listSagas({ status: 'running', machine: 'build' })).sagas.map((s) => s.id)).not.toContain(id);
    const saga = await client.getSaga(id);
    expect(saga).toMatchObject({ id, machine: 'build', status: 'completed' });
    const { events } = await client.sagaEvents(id);
    expect(events[0]?.entryNo).toBe(1);
    expect(events[0]?.init).toMatchObject({ input: { app: 'static-site' } });
    expect(events.length).toBe(saga.entryNo);
  });

  it('apps.list / apps.get / versions.list', async () => {
    expect((await client.listApps()).apps.map((a) => a.name)).toContain('static-site');
    const app = await client.getApp('static-site');
    expect(app.app.activeVersion).toBe(1);
    expect(app.versions.map((v) => [v.version, v.status])).toEqual([[1, 'active']]);
    expect(app.sandboxes.map((s) => s.version)).toEqual([1]);
    expect((await client.listVersions('static-site')).versions[0]).toMatchObject({ version: 1, sagaId: id });
  });

  it('sagas.cancel of a finished build changes nothing', async () => {
    const r = await client.cancelSaga(id);
    expect(r).toMatchObject({ id, accepted: false, status: 'completed' });
  });
});

describe('boot.status', () => {
  it('gives both coordinators readiness records, or one when asked', async () => {
    const all = await client.bootStatus();
    expect(new Set(all.records.map((r) => r.coordinator))).toEqual(new Set(['svc-a', 'svc-b']));
    const one = await client.bootStatus({ coordinator: 'svc-b' });
    expect(one.records.length).toBeGreaterThan(0);
    expect(one.records.every((r) => r.coordinator === 'svc-b')).toBe(true);
  });
});

describe('bad requests and unknown ids', () => {
  it('garbage, unknown fields and wrong types are BAD_REQUEST with the path', async () => {
    expectTypedError(await raw(Endpoint.SagasGet, new Uint8Array([0xff, 0x00, 0x7b])), 'BAD_REQUEST', 400);
    expectTypedError(await raw(Endpoint.SagasGet, '{"id": '), 'BAD_REQUEST', 400);
    expect(expectTypedError(await raw(Endpoint.SagasGet, JSON.stringify({ id: 'x', nope: true })), 'BAD_REQUEST', 400).message).toMatch(/nope/);
    expect(expectTypedError(await raw(Endpoint.BuildsStart, JSON.stringify({ app: 'a', source: { name: 1 } })), 'BAD_REQUEST', 400).message).toMatch(/source\.name/);
    expect(expectTypedError(await raw(Endpoint.SagasList, JSON.stringify({ limit: 'ten' })), 'BAD_REQUEST', 400).message).toMatch(/limit/);
    const e = await rejection(client.call(Endpoint.SagasList, { limit: 0 }));
    expect([e.code, e.status, e.retryable]).toEqual(['BAD_REQUEST', 400, false]);
  });

  it('a body over the limit is BAD_REQUEST (a service with a small limit), and the client refuses > 1 MiB itself', async () => {
    small = await startService(coordinators[0]!, { prefix: `${namespace}.small`, maxRequestBytes: 1024 });
    const m = await raw(Endpoint.AppsList, JSON.stringify({ pad: 'x'.repeat(2048) }), `${namespace}.small`);
    expect(expectTypedError(m, 'BAD_REQUEST', 400).message).toMatch(/at most 1024/);
    const e = await rejection(client.call(Endpoint.AppsList, { pad: 'x'.repeat(1024 * 1024) }));
    expect(e.code).toBe('BAD_REQUEST');
  });

  it('unknown ids give the 404 codes', async () => {
    for (const endpoint of [Endpoint.SagasGet, Endpoint.SagasEvents, Endpoint.SagasCancel, Endpoint.BuildsGet, Endpoint.BuildsProgress]) {
      expectTypedError(await raw(endpoint, JSON.stringify({ id: 'no-such-saga' })), 'UNKNOWN_SAGA', 404);
    }
    expectTypedError(await raw(Endpoint.AppsGet, JSON.stringify({ app: 'no-such-app' })), 'UNKNOWN_APP', 404);
    const e = await rejection(client.listVersions('no-such-app'));
    expect([e.code, e.status]).toEqual(['UNKNOWN_APP', 404]);
  });
});

describe('a coordinator that cannot answer', () => {
  it('a hanging handler is answered TIMEOUT; one not admitted NOT_ADMITTED', async () => {
    // runtime.get (and show, which sagas.get answers with) never settles: the handler is cut off by its timeout.
    const never = (): Promise<never> => new Promise(() => undefined);
    const hanging = { config: { namespace, owner: 'hanging' }, nats: nc, runtime: { get: never, show: never } } as unknown as Coordinator;
    const h1 = await startService(hanging, { prefix: `${namespace}.hang`, handlerTimeoutMs: 100 });
    // A coordinator whose runtime is not open answers with its own NOT_ADMITTED error.
    const closed = new Coordinator({ config: loadConfig({ nats: server.url, namespace, owner: 'closed', dataDir: tmpdir() }, {}), machines: [] });
    const notAdmitted = Object.create(closed, { nats: { get: () => nc } }) as Coordinator;
    const h2 = await startService(notAdmitted, { prefix: `${namespace}.closed` });
    try {
      expect(expectTypedError(await raw(Endpoint.SagasGet, JSON.stringify({ id: 'x' }), `${namespace}.hang`), 'TIMEOUT', 504).retryable).toBe(true);
      expect(expectTypedError(await raw(Endpoint.SagasGet, JSON.stringify({ id: 'x' }), `${namespace}.closed`), 'NOT_ADMITTED', 503).retryable).toBe(true);
      const e = await rejection(JetsagaClient.connect(nc, { prefix: `${namespace}.closed` }).listSagas());
      expect([e.code, e.status]).toEqual(['NOT_ADMITTED', 503]);
    } finally {
      await Promise.all([h1.stop(), h2.stop()]);
    }
  });
});

describe('several coordinators, one queue group', () => {
  it('both answer a stream of requests', async () => {
    for (let i = 0; i < 60; i++) await client.listApps();
    const stats = await collect<ServiceStats>(await new Svcm(nc).client({ strategy: 'timer', maxWait: 2_000 }).stats('jetsaga'));
    const counts = stats
      .filter((s) => s.metadata?.namespace === namespace && s.metadata.prefix === `${namespace}.api`)
      .map((s) => s.endpoints?.find((e) => e.name === 'apps-list')?.num_requests ?? 0);
    expect(counts).toHaveLength(2);
    expect(counts.every((n) => n > 0)).toBe(true);
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(60);
  });
});

describe('nobody listening', () => {
  it('a client of a namespace without coordinators gets NO_COORDINATOR', async () => {
    const lonely = JetsagaClient.connect(nc, { namespace: 'nobody-here' });
    const e = await rejection(lonely.listSagas());
    expect([e.code, e.status, e.retryable]).toEqual(['NO_COORDINATOR', 503, true]);
    expect(e.message).toMatch(/no jetsaga coordinator answers nobody-here\.api\.sagas\.list/);
  });
});

describe('fuzz', () => {
  it('random bodies to every endpoint get success JSON or a typed error', async () => {
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? ''),
      fc.dictionary(fc.constantFrom('id', 'app', 'limit', 'after', 'status', 'afterSeq', 'coordinator', 'machine'), fc.jsonValue({ maxDepth: 1 })).map((v) => JSON.stringify(v)),
      fc.record({ id: fc.stringMatching(/^[a-z0-9-]{1,20}$/) }).map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.values(Endpoint)), body, async (endpoint, data) => {
        const m = await raw(endpoint, data);
        const code = m.headers?.get('Jetsaga-Error-Code');
        if (code) {
          const e = m.json<{ error: { code: string; status: number; message: string } }>().error;
          expect(e.code).toBe(code);
          expect(m.headers?.get('Nats-Service-Error-Code')).toBe(String(e.status));
          expect(e.status).toBeLessThan(500);
        } else {
          expect(m.headers?.get('Nats-Service-Error-Code') ?? null).toBeNull();
          expect(() => m.json()).not.toThrow();
        }
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});

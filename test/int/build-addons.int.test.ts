/**
 * A deploy provisions the database its app asks for (app.toml `[[addons]] kind = "postgres"`),
 * end to end on a real coordinator (real nats-server, docker-registry and PostgreSQL): the build
 * saga runs the postgres-addon saga as a child in its `addons` step, the sample app
 * (examples/postgres-visits) gets DATABASE_URL and counts its visits in its own database; the
 * child is held until the build ends, then released; a second deploy reuses the database; a
 * build that fails after provisioning compensates its child, and the database and role are gone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_ADDON_MACHINE_ID } from '../../machines/postgres-addon.machine.js';
import type { SagaInfo } from '../../src/runtime/types.js';
import { askApp, startBuildWorld, type BuildWorld } from '../helpers/build-world.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startPostgres, type PostgresHandle } from '../helpers/postgres.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { until } from '../helpers/until.js';
import { visitsSample, type VisitsSample } from '../helpers/visits-sample.js';

let server: NatsServerHandle;
let registry: RegistryHandle;
let postgres: PostgresHandle;
let world: BuildWorld;
let tmp: string;
/** Every role and database name a test may have made, dropped at the end whatever happened. */
const made: string[] = [];

beforeAll(async () => {
  [server, registry, postgres] = await Promise.all([startNatsServer(), startRegistry(), startPostgres()]);
  world = await startBuildWorld(server.url, registry.port, { addonPostgres: postgres.adminUrl });
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-build-addons-'));
}, 120_000);
afterAll(async () => {
  await world?.stop();
  await postgres?.forget(made).catch(() => undefined);
  await Promise.all([server?.stop(), registry?.stop(), postgres?.stop()]);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** A copy of the sample for a new app, whose role and database are dropped at the end. */
async function sample(prefix: string): Promise<VisitsSample> {
  const copy = await visitsSample(tmp, prefix);
  made.push(copy.identifier);
  return copy;
}

async function exists(identifier: string): Promise<{ role: boolean; database: boolean }> {
  const [r] = await postgres.query<{ role: boolean; database: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS role, EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS database',
    [identifier],
  );
  return r!;
}

const versionOf = (info: SagaInfo): number => (info.context as { outputs: { allocate: number } }).outputs.allocate;
const visits = async (app: string, version: number): Promise<number> => {
  const res = await askApp(world, app, version);
  expect(res.status, res.body).toBe(200);
  return (JSON.parse(res.body) as { visits: number }).visits;
};

describe('a deploy of an app with [[addons]] kind = "postgres"', () => {
  it('gets a database of its own through a child saga, counts its visits in it, and a later deploy reuses it', async () => {
    const { app, dir, identifier } = await sample('visits');
    const first = await world.deploy({ app, dir });
    expect(first.info.status, JSON.stringify(first.info.context)).toBe('completed');
    const v1 = versionOf(first.info);
    expect(await visits(app, v1)).toBe(1);
    expect(await visits(app, v1)).toBe(2);
    expect(await exists(identifier)).toEqual({ role: true, database: true });

    // The build ran the addon saga as its child; once the build ended it released it.
    const shown = await world.coordinator.runtime.show(first.id);
    expect(shown.children).toEqual([expect.objectContaining({ step: 'addons', machine: POSTGRES_ADDON_MACHINE_ID })]);
    const childId = shown.children![0]!.sagaId;
    await until(async () => (await world.coordinator.runtime.get(childId)).status === 'completed');
    const [record] = await world.coordinator.builds.entities.addons.list(app);
    expect(record).toMatchObject({ app, name: 'db', database: identifier, role: identifier, env: 'DATABASE_URL', createdBy: childId });
    // The password is sealed in the record, never in the clear.
    expect(JSON.stringify(record)).not.toMatch(/postgres(ql)?:\/\/[^:]+:[^@[]+@/);

    const second = await world.deploy({ app, dir });
    expect(second.info.status, JSON.stringify(second.info.context)).toBe('completed');
    const v2 = versionOf(second.info);
    expect(v2).toBeGreaterThan(v1);
    // The same database: the count goes on.
    expect(await visits(app, v2)).toBe(3);
    const databases = await postgres.query('SELECT datname FROM pg_database WHERE datname = $1', [identifier]);
    expect(databases).toHaveLength(1);
    expect(await world.coordinator.builds.entities.addons.list(app)).toEqual([expect.objectContaining({ createdBy: childId })]);
  }, 480_000);

  it('a failure after provisioning undoes the deploy: its child is compensated, the database and the role are gone', async () => {
    const { app, dir, identifier } = await sample('undone');
    world.failAfter = 'createConfigVersion';
    try {
      const { id, info } = await world.deploy({ app, dir });
      expect(info.status).toBe('compensated');
      const child = (await world.coordinator.runtime.show(id)).children?.[0];
      expect(child?.step).toBe('addons');
      expect((await world.coordinator.runtime.get(child!.sagaId)).status).toBe('compensated');
    } finally {
      world.failAfter = undefined;
    }
    expect(await exists(identifier)).toEqual({ role: false, database: false });
    expect(await world.coordinator.builds.entities.addons.list(app)).toEqual([]);
    // The undos ran newest first: databases before roles, and the claim last.
    const undos = world.calls.filter((c) => ['dropAddonDatabases', 'dropAddonRoles', 'releaseAddons'].includes(c.step)).map((c) => c.step);
    expect(undos).toEqual(['dropAddonDatabases', 'dropAddonRoles', 'releaseAddons']);
  }, 480_000);
});

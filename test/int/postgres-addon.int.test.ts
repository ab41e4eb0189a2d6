/**
 * The PostgreSQL addon saga on a real coordinator (real nats-server and docker-registry) against
 * a real PostgreSQL (test/helpers/postgres.ts): it makes a role and a database for each addon of
 * the app, and the sealed URLs it outputs open to passwords that connect; the journal never
 * holds them; the build's settings step takes them into the version's secrets; a later saga for
 * the same addon reuses it, and its undo leaves it in place; a saga that fails after
 * provisioning compensates — databases (with a session open), roles and records gone; every
 * step and undo repeated, or an undo run when nothing was made, is safe; a coordinator restart
 * in the middle loses nothing; a role of the same name that jetsaga did not make is neither
 * taken over nor dropped; the service API and the CLI show addons with the password redacted; a
 * coordinator without a provider makes nothing and refuses an app with `[[addons]]` in config
 * preparation, naming `--addon-postgres`.
 */
import { Readable } from 'node:stream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_ADDON_MACHINE_ID, type PostgresAddonInput } from '../../machines/postgres-addon.machine.js';
import { addonIdentifier } from '../../src/addons/addon-names.js';
import { addonSteps, type AddonsReady, type ProvisionedAddon } from '../../src/addons/addon-steps.js';
import { parseAppConfig } from '../../src/build/app/app-config.js';
import { buildSteps } from '../../src/build/build-steps.js';
import { scramMatches } from '../../src/addons/scram-verifier.js';
import type { SagaError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import type { SagaInfo, StepContext } from '../../src/runtime/types.js';
import { openEnv } from '../../src/secrets/index.js';
import { JetsagaClient } from '../../src/service/client.js';
import { tarOf } from '../fixtures/tars/tar-builder.js';
import { startBuildWorld, type BuildWorld } from '../helpers/build-world.js';
import { runCli } from '../helpers/cli.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import pg from 'pg';
import { queryAt, startPostgres, uniqueApp, type PostgresHandle } from '../helpers/postgres.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { until } from '../helpers/until.js';

let server: NatsServerHandle;
let registry: RegistryHandle;
let postgres: PostgresHandle;
let world: BuildWorld;
let nc: NatsConnection;
let client: JetsagaClient;
/** Every role and database name a test may have made, dropped at the end whatever happened. */
const made: string[] = [];
let sagas = 0;

beforeAll(async () => {
  [server, registry, postgres] = await Promise.all([startNatsServer(), startRegistry(), startPostgres()]);
  world = await startBuildWorld(server.url, registry.port, { service: true, addonPostgres: postgres.adminUrl });
  nc = await connect({ servers: server.url });
  client = JetsagaClient.connect(nc, { namespace: world.coordinator.config.namespace });
}, 120_000);
afterAll(async () => {
  await nc?.close();
  await world?.stop();
  await postgres?.forget(made).catch(() => undefined);
  await Promise.all([server?.stop(), registry?.stop(), postgres?.stop()]);
});

/** A new app whose addon `db` the test owns: its identifier is dropped at the end. */
function newApp(prefix: string): { app: string; identifier: string } {
  const app = uniqueApp(prefix);
  const identifier = addonIdentifier(app, 'db');
  made.push(identifier);
  return { app, identifier };
}

/** Runs the saga for the app's addons (by name) on `on`'s coordinator and waits for its end. */
async function provision(app: string, names: readonly string[] = ['db'], on: BuildWorld = world): Promise<{ id: string; info: SagaInfo }> {
  const input: PostgresAddonInput = { app, addons: names.map((name) => ({ kind: 'postgres', name })) };
  const id = `addon-${process.pid}-${sagas++}`;
  await on.coordinator.runtime.start(POSTGRES_ADDON_MACHINE_ID, input, { id });
  return { id, info: await on.coordinator.runtime.wait(id, { timeoutMs: 60_000 }) };
}

const outputsOf = (info: SagaInfo): Record<string, unknown> => (info.context as { outputs: Record<string, unknown> }).outputs;
const readyOf = (info: SagaInfo): AddonsReady => outputsOf(info).ready as AddonsReady;
/** The saga's one addon (the tests that provision one). */
const addonOf = (info: SagaInfo): ProvisionedAddon => {
  expect(readyOf(info).addons).toHaveLength(1);
  return readyOf(info).addons[0]!;
};

/** The plain URL the app is given (what the sandbox opens for its process). */
const urlOf = (addon: ProvisionedAddon): string => openEnv(world.coordinator.builds.secrets, addon.app, { [addon.env]: addon.url })[addon.env]!;

async function exists(identifier: string): Promise<{ role: boolean; database: boolean }> {
  const [r] = await postgres.query<{ role: boolean; database: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS role, EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS database',
    [identifier],
  );
  return r!;
}

function stepContext(sagaId: string): StepContext {
  return { sagaId, invocationId: 'direct', idempotencyKey: `${sagaId}:1:direct`, attempt: 1, signal: new AbortController().signal, logger: silentLogger };
}

describe('postgres addon saga', () => {
  it('makes a role and a database for each addon, whose sealed URL connects, and never journals the password', async () => {
    const { app, identifier } = newApp('pga');
    const analytics = addonIdentifier(app, 'analytics');
    made.push(analytics);
    const { id, info } = await provision(app, ['db', 'analytics']);
    expect(info.status, JSON.stringify(info.context)).toBe('completed');
    const [db, second] = readyOf(info).addons;
    expect(readyOf(info).unprovided).toEqual([]);
    expect(db).toMatchObject({ app, name: 'db', kind: 'postgres', role: identifier, database: identifier, env: 'DATABASE_URL', reused: false, createdBy: id });
    expect(second).toMatchObject({ name: 'analytics', role: analytics, database: analytics, env: 'ANALYTICS_DATABASE_URL', reused: false });
    expect(db!.url).toEqual({ $secret: expect.any(String) });

    const url = urlOf(db!);
    const password = decodeURIComponent(new URL(url).password);
    expect(password.length).toBeGreaterThanOrEqual(32);
    expect(decodeURIComponent(new URL(urlOf(second!)).password)).not.toBe(password);
    // The app's own connection: its role, its database, and it may make tables there.
    const [who] = await queryAt<{ usr: string; db: string }>(url, 'SELECT current_user AS usr, current_database() AS db');
    expect(who).toEqual({ usr: identifier, db: identifier });
    await queryAt(url, 'CREATE TABLE visits (n int)');
    // The server holds a SCRAM verifier of exactly that password (whatever the server's own auth rules).
    const [auth] = await postgres.query<{ pw: string }>('SELECT rolpassword AS pw FROM pg_authid WHERE rolname = $1', [identifier]);
    expect(auth!.pw.startsWith('SCRAM-SHA-256$')).toBe(true);
    expect(scramMatches(auth!.pw, password)).toBe(true);
    expect(scramMatches(auth!.pw, `${password}x`)).toBe(false);
    if (postgres.own) {
      const wrong = new URL(url);
      wrong.password = 'wrong';
      await expect(queryAt(wrong.href, 'SELECT 1')).rejects.toMatchObject({ code: '28P01' });
    }
    // No other role may connect: PUBLIC lost CONNECT.
    const [pub] = await postgres.query<{ ok: boolean }>("SELECT has_database_privilege('pg_monitor', $1, 'CONNECT') AS ok", [identifier]);
    expect(pub!.ok).toBe(false);

    const journal = JSON.stringify(await world.coordinator.runtime.events(id));
    expect(journal).not.toContain(password);
    expect(journal).not.toContain(encodeURIComponent(password));
    expect(await world.coordinator.builds.entities.addons.get(app, 'db')).toMatchObject({ state: 'ready', createdBy: id });
    expect((await world.coordinator.builds.entities.addons.list(app)).map((a) => a.name)).toEqual(['analytics', 'db']);

    // Progress lines (a build's, when the saga runs as its child; here its own), best-effort.
    const lines = async (): Promise<string[]> => {
      const out: string[] = [];
      for await (const r of world.coordinator.builds.progress.read(id)) if (r.kind === 'log') out.push(r.text);
      return out;
    };
    await until(async () => (await lines()).length >= 4, 20_000, 'progress lines');
    expect(await lines()).toEqual(
      expect.arrayContaining([`postgres addon "db": provisioning database "${identifier}" on ${postgres.adminUrl}`, `postgres addon "analytics": database "${analytics}" created`]),
    );
  });

  it('does nothing for an app without addons', async () => {
    const { info } = await provision(uniqueApp('pge'), []);
    expect(info.status).toBe('completed');
    expect(readyOf(info)).toEqual({ addons: [], unprovided: [] });
  });

  it("gives the build's settings step the addon's sealed URL for the version's secrets", async () => {
    const { app } = newApp('pgb');
    const { info } = await provision(app);
    const addon = addonOf(info);
    const config = parseAppConfig(`[require]\nenv = ["DATABASE_URL"]\n[[addons]]\nkind = "postgres"\n`);
    const settings = buildSteps(() => world.coordinator.builds).prepareConfig;
    // As a child step's result holds it (the saga's outputs), or as the list.
    const prepared = await settings({ app, config, env: {}, addons: info.output });
    expect(await settings({ app, config, env: {}, addons: [addon] })).toEqual(prepared);
    expect(prepared.secrets).toEqual({ DATABASE_URL: addon.url });
    expect(openEnv(world.coordinator.builds.secrets, app, prepared.secrets!)).toEqual({ DATABASE_URL: urlOf(addon) });
    await expect(settings({ app: uniqueApp('other'), config, env: {}, addons: [addon] })).rejects.toMatchObject({ code: 'ADDON_ENV_CONFLICT' });
    await expect(settings({ app, config, env: {}, addons: [{ ...addon, url: 'plain' }] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('reuses the addon for a later saga of the app; undoing that saga leaves it in place', async () => {
    const { app, identifier } = newApp('pgr');
    const first = await provision(app);
    expect(first.info.status).toBe('completed');
    const second = await provision(app);
    expect(second.info.status).toBe('completed');
    const reused = addonOf(second.info);
    expect(reused).toMatchObject({ reused: true, createdBy: first.id, role: identifier });
    expect(urlOf(reused)).toBe(urlOf(addonOf(first.info)));
    expect(outputsOf(second.info)).toMatchObject({ roles: { roles: [{ name: 'db', outcome: 'reused' }] }, databases: { databases: [{ name: 'db', outcome: 'reused' }] } });

    // A third saga that fails after its last step compensates — and must not drop the app's database.
    await queryAt(urlOf(reused), 'CREATE TABLE kept (n int)');
    world.failAfter = 'markAddonsReady';
    try {
      const third = await provision(app);
      expect(third.info.status).toBe('compensated');
    } finally {
      world.failAfter = undefined;
    }
    expect(await exists(identifier)).toEqual({ role: true, database: true });
    expect(await queryAt(urlOf(reused), 'SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 0 }]);
    expect(await world.coordinator.builds.entities.addons.get(app, 'db')).toMatchObject({ state: 'ready', createdBy: first.id });
  });

  it('compensates a saga that fails after provisioning: database (with a session still on it), role and record are gone', async () => {
    const { app, identifier } = newApp('pgc');
    world.failAfter = 'markAddonsReady';
    const hold = world.holdAt('markAddonsReady');
    let id: string;
    try {
      const running = provision(app);
      await hold.reached;
      const record = (await world.coordinator.builds.entities.addons.get(app, 'db'))!;
      const url = openEnv(world.coordinator.builds.secrets, app, { [record.env]: record.url })[record.env]!;
      // The app is connected when the undo drops its database: its session is ended, not waited for.
      const open = new pg.Client({ connectionString: url });
      open.on('error', () => undefined);
      await open.connect();
      await open.query('CREATE TABLE visits (n int)');
      hold.release();
      const run = await running;
      id = run.id;
      expect(run.info.status).toBe('compensated');
      expect(outputsOf(run.info)).toMatchObject({ roles: { roles: [{ outcome: 'created' }] }, databases: { databases: [{ outcome: 'created' }] } });
      await expect(open.query('SELECT 1')).rejects.toThrow();
      await open.end().catch(() => undefined);
    } finally {
      world.failAfter = undefined;
    }
    expect(await exists(identifier)).toEqual({ role: false, database: false });
    expect(await world.coordinator.builds.entities.addons.get(app, 'db')).toBeNull();

    // The undos again, as a recovered saga would run them: nothing left to do, no error.
    const steps = addonSteps(() => world.coordinator.builds);
    const claim = { addons: [{ name: 'db', outcome: 'created' as const, role: identifier, database: identifier, createdBy: id }], unprovided: [] };
    const input = { app, claim };
    expect(await steps.dropAddonDatabases({ input, output: null }, stepContext(id))).toEqual({ databases: [] });
    expect(await steps.dropAddonRoles({ input, output: null }, stepContext(id))).toEqual({ roles: [] });
    expect(await steps.releaseAddons({ input: { app, addons: [{ kind: 'postgres', name: 'db' }] }, output: null }, stepContext(id))).toBeNull();
    // A later deploy makes it anew.
    const again = await provision(app);
    expect(again.info.status).toBe('completed');
    expect(addonOf(again.info)).toMatchObject({ reused: false, createdBy: again.id });
  });

  it('undoes a claim whose role and database were never made, and repeats every step and undo safely', async () => {
    const { app, identifier } = newApp('pgn');
    const steps = addonSteps(() => world.coordinator.builds);
    const sagaId = `addon-direct-${process.pid}`;
    const asked = { app, addons: [{ kind: 'postgres', name: 'db' }] };
    const claim = await steps.claimAddons(asked, stepContext(sagaId));
    expect(claim).toEqual({ addons: [{ name: 'db', outcome: 'created', role: identifier, database: identifier, createdBy: sagaId }], unprovided: [] });
    const input = { app, claim };
    const absent = { name: 'db', identifier, outcome: 'absent' };
    for (let i = 0; i < 2; i++) {
      expect(await steps.dropAddonDatabases({ input, output: null }, stepContext(sagaId))).toEqual({ databases: [absent] });
      expect(await steps.dropAddonRoles({ input, output: null }, stepContext(sagaId))).toEqual({ roles: [absent] });
    }
    await steps.releaseAddons({ input: asked, output: claim }, stepContext(sagaId));
    await steps.releaseAddons({ input: asked, output: claim }, stepContext(sagaId));
    expect(await world.coordinator.builds.entities.addons.get(app, 'db')).toBeNull();
    expect(await exists(identifier)).toEqual({ role: false, database: false });

    // Every step again, twice (at-least-once): a repeated claim keeps the password it recorded
    // first, and the repeated role and database steps converge on it.
    const again = await steps.claimAddons(asked, stepContext(sagaId));
    const url = (await world.coordinator.builds.entities.addons.get(app, 'db'))!.url;
    expect((await steps.claimAddons(asked, stepContext(sagaId))).addons).toEqual([{ ...again.addons[0], outcome: 'own' }]);
    expect((await world.coordinator.builds.entities.addons.get(app, 'db'))!.url).toEqual(url);
    const claimed = { app, claim: again };
    const outcome = (o: string) => [{ name: 'db', identifier, outcome: o }];
    expect(await steps.ensureAddonRoles(claimed, stepContext(sagaId))).toEqual({ roles: outcome('created') });
    expect(await steps.ensureAddonRoles(claimed, stepContext(sagaId))).toEqual({ roles: outcome('updated') });
    expect(await steps.ensureAddonDatabases(claimed, stepContext(sagaId))).toEqual({ databases: outcome('created') });
    expect(await steps.ensureAddonDatabases(claimed, stepContext(sagaId))).toEqual({ databases: outcome('exists') });
    const plain = openEnv(world.coordinator.builds.secrets, app, { DATABASE_URL: url }).DATABASE_URL!;
    expect(await queryAt(plain, 'SELECT current_user AS usr')).toEqual([{ usr: identifier }]);
    const [auth] = await postgres.query<{ pw: string }>('SELECT rolpassword AS pw FROM pg_authid WHERE rolname = $1', [identifier]);
    expect(scramMatches(auth!.pw, decodeURIComponent(new URL(plain).password))).toBe(true);
    for (const o of ['dropped', 'absent']) {
      expect(await steps.dropAddonDatabases({ input: claimed, output: null }, stepContext(sagaId))).toEqual({ databases: outcome(o) });
      expect(await steps.dropAddonRoles({ input: claimed, output: null }, stepContext(sagaId))).toEqual({ roles: outcome(o) });
    }
    await steps.releaseAddons({ input: asked, output: again }, stepContext(sagaId));
    expect(await exists(identifier)).toEqual({ role: false, database: false });
    await expect(steps.claimAddons({ app, addons: [{ kind: 'postgres', name: 'db' }, { kind: 'postgres', name: 'db' }] }, stepContext(sagaId))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('goes on after a coordinator restart in the middle, with the password it recorded', async () => {
    const { app, identifier } = newApp('pgk');
    const hold = world.holdAt('ensureAddonDatabases');
    const id = `addon-restart-${process.pid}`;
    await world.coordinator.runtime.start(POSTGRES_ADDON_MACHINE_ID, { app, addons: [{ kind: 'postgres', name: 'db' }] } satisfies PostgresAddonInput, { id });
    expect(await hold.reached).toBe(id);
    const before = (await world.coordinator.builds.entities.addons.get(app, 'db'))!.url;
    await world.restart();
    hold.release();
    const info = await world.coordinator.runtime.wait(id, { timeoutMs: 60_000 });
    expect(info.status).toBe('completed');
    const addon = addonOf(info);
    expect(addon.url).toEqual(before);
    expect(await queryAt(urlOf(addon), 'SELECT current_database() AS db')).toEqual([{ db: identifier }]);
  });

  it('neither takes over nor drops a role of the same name that jetsaga did not make', async () => {
    const { app, identifier } = newApp('pgt');
    const taken = addonIdentifier(app, 'cache');
    made.push(taken);
    await postgres.query(`CREATE ROLE "${taken}" LOGIN`);
    const { info } = await provision(app, ['db', 'cache']);
    expect(info.status).toBe('compensated');
    expect((info.context as { error: { code: string; message: string } }).error).toMatchObject({ code: 'ADDON_NAME_TAKEN', step: 'roles' });
    // The addon it did make is undone; the role it found is left as it was.
    expect(await exists(identifier)).toEqual({ role: false, database: false });
    expect(await exists(taken)).toEqual({ role: true, database: false });
    expect(await world.coordinator.builds.entities.addons.list(app)).toEqual([]);
  });

  it('shows addons through the service API with the password redacted', async () => {
    const { app, identifier } = newApp('pgs');
    const { id, info } = await provision(app);
    const password = decodeURIComponent(new URL(urlOf(addonOf(info))).password);
    const listed = await client.listAddons(app);
    expect(listed.addons).toHaveLength(1);
    expect(listed.addons[0]).toMatchObject({ name: 'db', kind: 'postgres', state: 'ready', env: 'DATABASE_URL', createdBy: id });
    expect(listed.addons[0]!.url).toBe(`postgresql://${identifier}:[redacted]@127.0.0.1:${postgres.port}/${identifier}`);
    const shown = await client.getAddon(app, 'db');
    expect(shown.addon.url).toBe(listed.addons[0]!.url);
    expect(JSON.stringify([listed, shown])).not.toContain(password);
    expect(JSON.stringify([listed, shown])).not.toContain('$secret');
    const missing = await client.getAddon(app, 'other').catch((e: SagaError) => e);
    expect(missing).toMatchObject({ code: 'UNKNOWN_ADDON', status: 404 });
    expect((await client.listAddons(uniqueApp('none'))).addons).toEqual([]);

    // The CLI over the same API.
    const at = ['--nats', server.url, '--namespace', world.coordinator.config.namespace];
    const list = await runCli(['addons', 'list', '--app', app, ...at]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^db +postgres +ready +DATABASE_URL +postgresql://${identifier}:\\[redacted\\]@127\\.0\\.0\\.1:${postgres.port}/${identifier}$`, 'm'));
    const show = await runCli(['addons', 'show', app, 'db', '--json', ...at]);
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ name: 'db', state: 'ready', createdBy: id, url: listed.addons[0]!.url });
    for (const out of [list.stdout, show.stdout]) expect(out).not.toContain(password);
    const unknown = await runCli(['addons', 'show', app, 'other', ...at]);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain(`app "${app}" has no addon "other"`);
  });
});

describe('a coordinator without a PostgreSQL provider', () => {
  it('refuses a deploy of an app with [[addons]] in config preparation, naming --addon-postgres', async () => {
    const bare = await startBuildWorld(server.url, registry.port);
    try {
      const app = uniqueApp('pgm');
      const appToml = `name = "${app}"\n\n[[addons]]\nkind = "postgres"\n`;
      const tar = Readable.from([tarOf([{ name: 'app.toml', data: appToml }, { name: 'index.html', data: '<h1>hi</h1>\n' }])]);
      const { info } = await bare.deploy({ app, tar });
      expect(info.status).toBe('compensated');
      const error = (info.context as { error: { code: string; message: string; step: string } }).error;
      expect(error).toMatchObject({ code: 'APP_CONFIG_INVALID', step: 'settings' });
      expect(error.message).toBe(
        'app.toml:4: addons[0].kind asks for a postgres addon ("db"), but this coordinator has no postgres provider: start it with --addon-postgres <url> (or JETSAGA_ADDON_POSTGRES)',
      );
      expect(await bare.coordinator.builds.entities.addons.list(app)).toEqual([]);

      // The addon saga itself makes nothing there and says which addons it could not make.
      const { info: addons } = await provision(app, ['db'], bare);
      expect(addons.status).toBe('completed');
      expect(readyOf(addons)).toEqual({ addons: [], unprovided: ['db'] });
    } finally {
      await bare.stop();
    }
  });
});

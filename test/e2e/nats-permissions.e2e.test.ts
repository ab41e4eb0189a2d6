/**
 * The least-privilege sample (examples/nats-permissions/nats-server.conf) on a real nats-server:
 * a coordinator runs as `coordinator`, and `client` deploys the sample app and follows its
 * build and reads the coordinators' readiness, but may not write the journal or a KV bucket, nor delete a stream. A CLI command that
 * needs a subject the user lacks says so in one line naming it (exit 3); `boot status` before any
 * coordinator ran says there is none, creating nothing. A user of another
 * account (another team's) publishing to the journal's subjects adds nothing to it. `jetsaga ui` run as
 * `client` lists the sagas, shows one with its journal and the coordinator running, and follows
 * a build live, with the build's secret redacted.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { usernamePasswordAuthenticator } from '@nats-io/nats-core';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { permissionViolation } from '../../src/nats/permission-denied.js';
import { natsNames } from '../../src/runtime/nats-stores.js';
import type { BootView, SagaDetail, SagaList, Timeline } from '../../src/ui/api-types.js';
import { runCli, startCli } from '../helpers/cli.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { exitsOnItsOwn } from '../helpers/ts-child.js';
import { openUiStream, uiGet, uiUrl } from '../helpers/ui-http.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SLOW = 240_000;
const passwords = { coordinator: randomBytes(18).toString('base64url'), client: randomBytes(18).toString('base64url'), other: randomBytes(18).toString('base64url') };
const names = natsNames();

let nats: NatsServerHandle;
let registry: RegistryHandle;
let tmp: string;
beforeAll(async () => {
  const sample = await readFile(join(ROOT, 'examples', 'nats-permissions', 'nats-server.conf'), 'utf8');
  // Another team, where the sample says it goes: an account of its own, its user allowed everything there.
  const shared = sample.replace(/^ {2}# Other teams: .*$/m, (line) => `${line}\n  OTHERS: { jetstream: enabled, users: [ { user: other, password: "${passwords.other}" } ] }`);
  expect(shared).not.toBe(sample);
  // The sample takes its passwords from variables: defined here, they win over the environment.
  const config = `COORDINATOR_PASSWORD: "${passwords.coordinator}"\nCLIENT_PASSWORD: "${passwords.client}"\n${shared}`;
  [nats, registry] = await Promise.all([
    startNatsServer({ config, probe: { authenticator: usernamePasswordAuthenticator('coordinator', passwords.coordinator) } }),
    startRegistry(),
  ]);
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-nats-perm-'));
}, 60_000);
afterAll(async () => {
  await Promise.all([nats?.stop(), registry?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

const as = (user: 'coordinator' | 'client') => ({ JETSAGA_NATS_USER: user, JETSAGA_NATS_PASSWORD: passwords[user] });
const NODE_HELLO = join(ROOT, 'examples', 'node-hello');

async function deniedError(what: Promise<unknown>): Promise<string> {
  const e = await what.then(
    () => undefined,
    (err: unknown) => err,
  );
  const denied = permissionViolation(e);
  expect(denied, `expected a permissions violation, got ${String(e)}`).toBeDefined();
  return denied!.subject;
}

describe('the least-privilege sample config', () => {
  // First: before any coordinator of the namespace ran.
  it('lets the client ask for the boot status before any coordinator reported: none yet (exit 4), nothing created', async () => {
    const status = await runCli(['boot', 'status', '--nats', nats.url], as('client'));
    expect(status.stderr).not.toMatch(/Permissions Violation|lacks permission/);
    expect(status.stdout).toBe('no boot status in namespace "jetsaga" yet');
    expect(status.code).toBe(4);
    const own = await connect({ servers: nats.url, authenticator: usernamePasswordAuthenticator('coordinator', passwords.coordinator) });
    try {
      expect(await (await jetstreamManager(own)).streams.names().next()).toEqual([]);
    } finally {
      await own.close();
    }
  }, SLOW);

  it('lets the client deploy and follow, and refuses it the journal, progress, KV writes, consumers and deleting or purging a stream', async () => {
    const coordinator = startCli(['serve', '--nats', nats.url, '--owner', 'perm', '--data-dir', join(tmp, 'data'), '--registry', `127.0.0.1:${registry.port}`], {
      ...as('coordinator'),
      JETSAGA_LOG: 'warn',
    });
    let nc: NatsConnection | undefined;
    let outsider: NatsConnection | undefined;
    try {
      await coordinator.waitForLine(/^jetsaga coordinator ".*" ready$/, 90_000);

      const deploy = await runCli(['deploy', NODE_HELLO, '--nats', nats.url], as('client'), 180_000);
      expect(deploy.stderr).not.toMatch(/Permissions Violation|lacks permission/);
      expect(deploy.code).toBe(0);
      const build = /^deployed node-hello v1: http:\/\/127\.0\.0\.1:\d+ \(.*build ([A-Za-z0-9_-]+)\)$/m.exec(deploy.stdout)?.[1];
      expect(build).toBeDefined();
      const followed = await runCli(['builds', 'follow', build!, '--nats', nats.url], as('client'), 60_000);
      expect(followed.code).toBe(0);
      expect(followed.stdout).toContain(`deployed node-hello v1`);
      expect((await runCli(['boot', 'status', '--nats', nats.url], as('client'), 60_000)).code).toBe(0);

      nc = await connect({ servers: nats.url, authenticator: usernamePasswordAuthenticator('client', passwords.client) });
      const js = jetstream(nc);
      expect(await deniedError(js.publish(`${names.eventsPrefix}.x`, 'forged'))).toBe(`${names.eventsPrefix}.x`);
      expect(await deniedError(js.publish(`$KV.${names.entitiesBucket}.apps.forged`, '{}'))).toBe(`$KV.${names.entitiesBucket}.apps.forged`);
      const jsm = await jetstreamManager(nc);
      expect(await deniedError(jsm.streams.delete(names.eventsStream))).toBe(`$JS.API.STREAM.DELETE.${names.eventsStream}`);
      expect(await deniedError(jsm.streams.purge(names.eventsStream))).toBe(`$JS.API.STREAM.PURGE.${names.eventsStream}`);
      expect(await deniedError(jsm.consumers.add(names.eventsStream, { ack_policy: AckPolicy.None }))).toMatch(new RegExp(`^\\$JS\\.API\\.CONSUMER\\.CREATE\\.${names.eventsStream}\\b`));
      expect(await deniedError(js.publish(`${names.progressPrefix}.${build}`, '{}'))).toBe(`${names.progressPrefix}.${build}`);
      // Nor may it listen to the journal as it is written.
      expect(await deniedError(nc.subscribe(`${names.eventsPrefix}.>`).closed.then((e) => Promise.reject(e)))).toBe(`${names.eventsPrefix}.>`);

      // Another team's user publishes to the journal's subjects in vain: they are its account's own.
      const own = await connect({ servers: nats.url, authenticator: usernamePasswordAuthenticator('coordinator', passwords.coordinator) });
      try {
        const ownJsm = await jetstreamManager(own);
        const entries = async (): Promise<number> => (await ownJsm.streams.info(names.eventsStream, { subjects_filter: `${names.eventsPrefix}.${build}` })).state.subjects?.[`${names.eventsPrefix}.${build}`] ?? 0;
        const before = await entries();
        expect(before).toBeGreaterThan(1);
        outsider = await connect({ servers: nats.url, authenticator: usernamePasswordAuthenticator('other', passwords.other) });
        outsider.publish(`${names.eventsPrefix}.${build}`, 'forged');
        await outsider.flush();
        expect(await (await jetstreamManager(outsider)).streams.names().next()).toEqual([]);
        expect(await entries()).toBe(before);
      } finally {
        await own.close();
      }

      // A command needing a subject the user lacks (another namespace's API): one line, exit 3.
      const other = await runCli(['sagas', 'list', '--namespace', 'other', '--nats', nats.url], as('client'));
      expect(other.code).toBe(3);
      expect(other.stderr.trimEnd().split('\n')).toEqual([
        'jetsaga: the NATS user lacks permission to publish to "other.api.sagas.list": grant it in the server\'s permissions for this user (see examples/nats-permissions)',
      ]);
    } finally {
      await nc?.close();
      await outsider?.close();
      coordinator.signalGroup('SIGTERM');
      await exitsOnItsOwn(coordinator, 60_000).catch(() => coordinator.kill());
    }
  }, SLOW);

  it('lets the client run the visualizer: sagas, a saga and its journal, the boot view, a build followed live', async () => {
    const coordinator = startCli(['serve', '--nats', nats.url, '--owner', 'perm-ui', '--data-dir', join(tmp, 'data-ui'), '--registry', `127.0.0.1:${registry.port}`], {
      ...as('coordinator'),
      JETSAGA_LOG: 'warn',
    });
    const ui = startCli(['ui', '--port', '0', '--nats', nats.url], { ...as('client'), JETSAGA_LOG: 'warn' });
    let stream: Awaited<ReturnType<typeof openUiStream>> | undefined;
    try {
      await coordinator.waitForLine(/^jetsaga coordinator ".*" ready$/, 90_000);
      const url = await uiUrl(ui);

      const secret = randomBytes(12).toString('hex');
      const detached = await runCli(['deploy', NODE_HELLO, '--nats', nats.url, '--detach', '--secret', 'API_KEY'], { ...as('client'), API_KEY: secret }, 120_000);
      expect(detached.code).toBe(0);
      const id = detached.stdout.trim();
      stream = await openUiStream(url, `&saga=${id}`);
      const done = await stream.waitFor(`build ${id} followed to its end`, (e) => e.type === 'saga' && e.saga.id === id && e.saga.status === 'completed');
      expect(done.type === 'saga' && done.saga.context).toMatchObject({ input: { secretEnv: { API_KEY: '[redacted]' } } });
      await stream.waitFor(`build ${id} in the list`, (e) => e.type === 'sagas' && e.sagas.some((s) => s.id === id));

      const sagas = await uiGet<SagaList>(url, '/api/sagas');
      expect(sagas.status).toBe(200);
      expect(sagas.body.sagas.map((s) => s.id)).toContain(id);
      const detail = await uiGet<SagaDetail>(url, `/api/sagas/${id}`);
      expect(detail.status).toBe(200);
      expect(detail.body).toMatchObject({ id, machine: 'build', status: 'completed' });
      const timeline = await uiGet<Timeline>(url, `/api/sagas/${id}/timeline`);
      expect(timeline.status).toBe(200);
      expect(timeline.body.entries[0]).toMatchObject({ no: 1, type: 'init' });
      expect(timeline.body.entries.length).toBe(detail.body.entryNo);
      // Whether the coordinator runs comes from its lease, read with direct gets only.
      const boot = await uiGet<BootView>(url, '/api/boot');
      expect(boot.body.coordinators).toContainEqual(expect.objectContaining({ name: 'perm-ui', running: true }));
      expect(JSON.stringify([stream.events, detail.body, timeline.body])).not.toContain(secret);
      expect(ui.stderr()).not.toMatch(/Permissions Violation|lacks permission/);

      ui.signalGroup('SIGINT');
      expect((await exitsOnItsOwn(ui, 30_000)).code).toBe(0);

      // Another namespace's API, or a wrong password: refused at start like any command (exit 3).
      const other = await runCli(['ui', '--port', '0', '--namespace', 'other', '--nats', nats.url], as('client'));
      expect(other.code).toBe(3);
      // Its log says the same, naming the subject, rather than dumping the client's stack.
      expect(other.stderr).toContain('"subject":"other.api.machines.list"');
      expect(other.stderr).not.toContain('"stack"');
      expect(other.stderr.trimEnd().split('\n').at(-1)).toBe(
        'jetsaga: the NATS user lacks permission to publish to "other.api.machines.list": grant it in the server\'s permissions for this user (see examples/nats-permissions)',
      );
      const wrong = await runCli(['ui', '--port', '0', '--nats', nats.url], { ...as('client'), JETSAGA_NATS_PASSWORD: 'not-it' });
      expect(wrong.code).toBe(3);
      expect(wrong.stderr.trimEnd().split('\n')).toEqual([
        `jetsaga: NATS at ${nats.url} refused the credentials (Authorization Violation): check JETSAGA_NATS_USER, JETSAGA_NATS_PASSWORD`,
      ]);
    } finally {
      await stream?.close();
      ui.kill();
      coordinator.signalGroup('SIGTERM');
      await exitsOnItsOwn(coordinator, 60_000).catch(() => coordinator.kill());
    }
  }, SLOW);
});

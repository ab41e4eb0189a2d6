/**
 * `jetsaga deploy` and `jetsaga builds follow` as a user runs them, against a live coordinator
 * (`jetsaga serve`, a child process) on a real NATS and registry: a sample deploys and answers
 * HTTP, --detach returns the build id and `builds follow` re-attaches to it, a failing build
 * exits 1, an unknown build exits 4, no coordinator exits 3, a bad flag exits 2; `rollback`
 * makes the first of the two deployed versions active again.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { exitsOnItsOwn, spawnTs, type TsChild } from '../helpers/ts-child.js';

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');
const NS = 'clideploy';

let nats: NatsServerHandle;
let registry: RegistryHandle;
let tmp: string;
let coordinator: TsChild;

beforeAll(async () => {
  [nats, registry] = await Promise.all([startNatsServer(), startRegistry()]);
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-cli-deploy-'));
  // One coordinator for the whole file (startCli would stop it after the first test).
  coordinator = spawnTs(
    CLI,
    ['serve', '--owner', 'cli-c1', '--namespace', NS, '--data-dir', join(tmp, 'data'), '--nats', nats.url, '--registry', `127.0.0.1:${registry.port}`],
    { JETSAGA_LOG: 'warn', JETSAGA_NATS_URL: '', JETSAGA_REGISTRY: '' },
    { ownGroup: true },
  );
  await coordinator.waitForLine(/^jetsaga coordinator "cli-c1" ready$/, 60_000);
}, 120_000);
afterAll(async () => {
  if (coordinator) {
    coordinator.signal('SIGTERM');
    await exitsOnItsOwn(coordinator).catch(() => coordinator.kill());
  }
  await Promise.all([nats?.stop(), registry?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

const cli = (args: string[], timeoutMs = 120_000) => runCli([...args, '--nats', nats.url, '--namespace', NS], {}, timeoutMs);

describe('jetsaga deploy and builds follow', () => {
  it('deploys a sample (JSON outcome, URL answers); --detach then builds follow re-attaches', async () => {
    const deployed = await cli(['deploy', join(EXAMPLES, 'static-site'), '--app', 'static-site', '--json']);
    expect(deployed.code, deployed.stderr).toBe(0);
    const outcome = JSON.parse(deployed.stdout.trim().split('\n').at(-1)!) as { sagaId: string; app: string; status: string; version: number; image: string; url: string };
    expect(outcome).toMatchObject({ app: 'static-site', status: 'completed', version: 1 });
    expect(outcome.image).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect((await fetch(outcome.url)).status).toBe(200);
    expect(deployed.stderr).toContain('finalize.running');

    const detached = await cli(['deploy', join(EXAMPLES, 'static-site'), '--app', 'static-site', '--detach']);
    expect(detached.code, detached.stderr).toBe(0);
    const id = detached.stdout.trim();
    expect(id).toMatch(/^static-site-/);
    const followed = await cli(['builds', 'follow', id]);
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stdout).toMatch(new RegExp(`^deployed static-site v2: http://127\\.0\\.0\\.1:\\d+ \\(image sha256:[a-f0-9]{64}, build ${id}\\)$`, 'm'));
    expect(followed.stderr).toContain('receive.running');
  }, 240_000);

  it('sagas, apps and versions: list, show, events, cancel, with their JSON shapes and exit codes', async () => {
    const listed = await cli(['sagas', 'list', '--machine', 'build', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const sagas = JSON.parse(listed.stdout) as Array<Record<string, unknown>>;
    expect(sagas.length).toBeGreaterThanOrEqual(2);
    // A build runs its addons as a child saga (none asked for here: the child makes nothing): `children` names it.
    for (const s of sagas) expect(Object.keys(s).sort()).toEqual(['children', 'context', 'id', 'machine', 'owner', 'seq', 'state', 'status', 'updatedAt']);
    for (const s of sagas) expect(s.children).toEqual([expect.objectContaining({ step: 'addons', machine: 'postgres-addon' })]);
    // The coordinator that drives (or drove) each saga.
    expect(new Set(sagas.map((s) => s.owner))).toEqual(new Set(['cli-c1']));
    const id = sagas[0]!.id as string;

    const shown = await cli(['sagas', 'show', id, '--json']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id, machine: 'build', status: 'completed' });
    const human = await cli(['sagas', 'show', id]);
    expect(human.stdout).toMatch(new RegExp(`^${id}  build  completed`));

    const events = await cli(['sagas', 'events', id]);
    expect(events.code).toBe(0);
    expect(events.stdout.split('\n')[0]).toMatch(/^\s+1\s+\S+\s+init$/);

    const cancelled = await cli(['sagas', 'cancel', id]);
    expect(cancelled.code).toBe(1);
    expect(cancelled.stdout).toContain('nothing to cancel');

    expect((await cli(['sagas', 'show', 'no-such-saga'])).code).toBe(4);
    expect((await cli(['sagas', 'list', '--status', 'bogus'])).code).toBe(2);

    const apps = await cli(['apps', 'list', '--json']);
    expect((JSON.parse(apps.stdout) as Array<{ name: string }>).map((a) => a.name)).toContain('static-site');
    const app = await cli(['apps', 'show', 'static-site']);
    expect(app.stdout).toMatch(/^static-site: active v2$/m);
    const versions = await cli(['versions', 'list', '--app', 'static-site', '--json']);
    const rows = JSON.parse(versions.stdout) as Array<Record<string, unknown>>;
    expect(rows.map((v) => [v.version, v.active])).toEqual([
      [1, false],
      [2, true],
    ]);
    for (const v of rows) expect(Object.keys(v).sort()).toEqual(['active', 'createdAt', 'image', 'version']);
  }, 240_000);

  it('sagas replay shows each entry with its state, context diff and effects; export + replay --file works offline', async () => {
    const listed = JSON.parse((await cli(['sagas', 'list', '--machine', 'build', '--status', 'completed', '--json'])).stdout) as Array<{ id: string; seq: number }>;
    const { id, seq } = listed[0]!;
    const replayed = await cli(['sagas', 'replay', id, '--json']);
    expect(replayed.code, replayed.stderr).toBe(0);
    const steps = JSON.parse(replayed.stdout) as Array<{ no: number; event: { type: string } | null; state: unknown; effects: Array<{ kind: string; src?: string }> }>;
    expect(steps.at(-1)!.no).toBe(seq);
    expect(steps[0]!.event?.type).toBe('init');
    const started = steps.flatMap((s) => s.effects.filter((e) => e.kind === 'step.started').map((e) => e.src));
    expect(started.slice(0, 3)).toEqual(['allocateVersion', 'receiveSource', 'takeDeployLock']);
    expect(started.at(-1)).toBe('finalizeBuild');
    const partial = JSON.parse((await cli(['sagas', 'replay', id, '--to', '3', '--json'])).stdout) as unknown[];
    expect(partial).toHaveLength(3);

    const exported = await cli(['sagas', 'export', id]);
    expect(exported.code).toBe(0);
    const file = join(tmp, 'bundle.json');
    await writeFile(file, exported.stdout);
    // Offline: a NATS URL nothing listens on is never dialled.
    const offline = await runCli(['sagas', 'replay', '--file', file, '--json', '--nats', 'nats://127.0.0.1:1']);
    expect(offline.code, offline.stderr).toBe(0);
    expect(JSON.parse(offline.stdout)).toEqual(steps);
    const human = await cli(['sagas', 'replay', id, '--to', '2']);
    expect(human.stdout).toMatch(/^\s+1\s+init$/m);
    expect(human.stdout).toContain('! start allocateVersion');
  }, 240_000);

  it('a build that fails exits 1 naming the step; an unknown build exits 4', async () => {
    const bad = join(tmp, 'bad-app');
    await rm(bad, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(bad));
    await writeFile(join(bad, 'index.html'), '<h1>x</h1>\n');
    await writeFile(join(bad, 'app.toml'), '[run]\nport = "eighty"\n');
    const failed = await cli(['deploy', bad, '--app', 'bad-app']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/ended compensated: appConfig failed: app\.toml:2.*run\.port.*\[APP_CONFIG_INVALID\]/);

    const unknown = await cli(['builds', 'follow', 'no-such-build']);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
  }, 240_000);

  it('no coordinator on the namespace exits 3 with one line; a bad flag exits 2', async () => {
    const none = await runCli(['deploy', join(EXAMPLES, 'static-site'), '--app', 'static-site', '--nats', nats.url, '--namespace', 'nobody-here'], {}, 60_000);
    expect(none.code).toBe(3);
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
    const usage = await cli(['deploy', join(EXAMPLES, 'static-site'), '--app', 'x', '--env', 'novalue']);
    expect(usage.code).toBe(2);
    // No --app and no name in app.toml (static-site has none): which app is a usage question.
    const missing = await cli(['deploy', join(EXAMPLES, 'static-site')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/which app\? give --app <name>, or set name = "<app>" in .*static-site\/app\.toml/);
  }, 120_000);
});

describe('jetsaga rollback', () => {
  it('after two deploys, --to 1 --json makes v1 active and its URL answers; the active version exits 1, an unknown one 4', async () => {
    const before = JSON.parse((await cli(['versions', 'list', '--app', 'static-site', '--json'])).stdout) as Array<{ version: number; active: boolean }>;
    expect(before.map((v) => [v.version, v.active])).toEqual([
      [1, false],
      [2, true],
    ]);
    const rolled = await cli(['rollback', '--app', 'static-site', '--to', '1', '--json']);
    expect(rolled.code, rolled.stderr).toBe(0);
    const outcome = JSON.parse(rolled.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(Object.keys(outcome).sort()).toEqual(['app', 'image', 'sagaId', 'status', 'url', 'version']);
    expect(outcome).toMatchObject({ app: 'static-site', status: 'completed', version: 1 });
    expect(outcome.sagaId).toMatch(/^static-site-rollback-/);
    expect(outcome.image).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect((await fetch(outcome.url as string)).status).toBe(200);
    expect(rolled.stderr).toContain('stopOld.running');
    const after = JSON.parse((await cli(['versions', 'list', '--app', 'static-site', '--json'])).stdout) as Array<{ version: number; active: boolean; image: string }>;
    expect(after.map((v) => [v.version, v.active])).toEqual([
      [1, true],
      [2, false],
    ]);
    expect(after[0]!.image).toBe(outcome.image);

    const again = await cli(['rollback', '--app', 'static-site', '--to', 'v1']);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/^rollback static-site-rollback-\S+ of static-site to v1 ended compensated: check failed: .*already the active one.*\[ALREADY_ACTIVE\]$/m);
    const unknown = await cli(['rollback', '--app', 'static-site', '--to', '9']);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr.trim().split('\n')).toEqual([expect.stringContaining('[UNKNOWN_VERSION]')]);
    expect((await cli(['rollback', '--app', 'static-site', '--to', 'latest'])).code).toBe(2);
  }, 240_000);
});

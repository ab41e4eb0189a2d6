/**
 * The build saga end to end on a NATS cluster, as a user runs it: two `jetsaga serve`
 * coordinators (`--replicas 3`) on a three-node cluster share a namespace and a registry;
 * `jetsaga deploy` of the sample answers HTTP. Then a second deploy's owner is SIGKILLed (its
 * process group, sandboxes included) while the build waits in its image phase for the registry
 * (stopped for it, so the kill lands at a known point): the other coordinator takes the saga
 * over once the lease lapses and, with the registry back, builds, pushes and starts the new
 * version, which answers; the same `jetsaga deploy` follows it to the end. The journal shows
 * one takeover to the survivor before the image result, and no step result twice.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JournalView } from '../../src/runtime/journal-view.js';
import { CLI, runCli } from '../helpers/cli.js';
import { expectWellFormed, takeoversOf } from '../helpers/journal-checks.js';
import { startNatsCluster, type NatsClusterHandle } from '../helpers/nats-cluster.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { exitsOnItsOwn, spawnTs, type TsChild } from '../helpers/ts-child.js';
import { until } from '../helpers/until.js';

const SAMPLE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'node-hello');
const NS = 'clusterdeploy';
const OWNERS = ['c1', 'c2'] as const;

let cluster: NatsClusterHandle;
let registry: RegistryHandle;
let tmp: string;
const coordinators = new Map<string, TsChild>();

beforeAll(async () => {
  [cluster, registry] = await Promise.all([startNatsCluster(), startRegistry()]);
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-cluster-deploy-'));
  // Both in beforeAll, in their own process groups: a SIGKILL of the group takes the sandboxes too.
  for (const owner of OWNERS) {
    const args = ['serve', '--owner', owner, '--namespace', NS, '--data-dir', join(tmp, owner), '--nats', cluster.servers, '--replicas', '3', '--lease-ttl-ms', '3000', '--registry', `127.0.0.1:${registry.port}`];
    coordinators.set(owner, spawnTs(CLI, args, { JETSAGA_LOG: 'info', JETSAGA_NATS_URL: '', JETSAGA_REGISTRY: '' }, { ownGroup: true }));
  }
  await Promise.all(OWNERS.map((o) => coordinators.get(o)!.waitForLine(`jetsaga coordinator "${o}" ready`, 90_000)));
}, 180_000);

afterAll(async () => {
  for (const c of coordinators.values()) {
    try {
      c.signalGroup('SIGKILL');
    } catch {
      // its group is gone already
    }
    await c.kill();
  }
  await Promise.all([cluster?.stop(), registry?.stop()]);
  if (tmp) await rm(tmp, { recursive: true, force: true });
}, 60_000);

const cli = (args: string[], timeoutMs = 60_000) => runCli([...args, '--nats', cluster.servers, '--namespace', NS], {}, timeoutMs);

interface Outcome {
  readonly sagaId: string;
  readonly status: string;
  readonly version: number;
  readonly url: string;
}
const outcomeOf = (stdout: string): Outcome => JSON.parse(stdout.trim().split('\n').at(-1)!) as Outcome;

async function sagaOwner(id: string): Promise<string> {
  const shown = await cli(['sagas', 'show', id, '--json']);
  expect(shown.code, shown.stderr).toBe(0);
  return (JSON.parse(shown.stdout) as { owner: string }).owner;
}

describe('the build saga on a three-node cluster with two coordinators', () => {
  let v1: Outcome;

  it('jetsaga deploy builds the sample; its URL answers; one of the two coordinators owns the build', async () => {
    const deployed = await cli(['deploy', SAMPLE, '--json'], 240_000);
    expect(deployed.code, deployed.stderr).toBe(0);
    v1 = outcomeOf(deployed.stdout);
    expect(v1).toMatchObject({ status: 'completed', version: 1 });
    const res = await fetch(v1.url);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('hello from jetsaga');
    expect(OWNERS).toContain(await sagaOwner(v1.sagaId));
  }, 300_000);

  it('a coordinator SIGKILLed mid-build: the other takes the build over, v2 becomes active and answers', async () => {
    expect(v1, 'the first deploy').toBeDefined();
    // With the registry away the build waits in its image phase: in flight at a known point
    // (its storage stays, so the registry comes back with v1's image).
    await registry.kill();
    await until(async () => {
      const boot = JSON.parse((await cli(['boot', 'status', '--json'])).stdout) as Array<{ coordinator: string; name: string; ready: boolean }>;
      return boot.filter((r) => r.name === 'registry' && !r.ready).length === OWNERS.length;
    }, 120_000, 'both coordinators seeing the registry down');
    const deploy = spawnTs(CLI, ['deploy', SAMPLE, '--json', '--nats', cluster.servers, '--namespace', NS], { JETSAGA_LOG: 'warn', JETSAGA_NATS_URL: '', JETSAGA_REGISTRY: '' });
    try {
      await until(() => /prepare\.image\.image\.await_registry/.test(deploy.stderr()), 180_000, 'the second build waiting for the registry');
      const id = /^deploying node-hello \(build (\S+)\)$/m.exec(deploy.stderr())![1]!;
      const victim = await sagaOwner(id);
      const survivor = OWNERS.find((o) => o !== victim)!;
      const killed = coordinators.get(victim)!;
      killed.signalGroup('SIGKILL');
      expect((await killed.exited).signal).toBe('SIGKILL');
      // Taken over once the victim's lease lapsed; then the registry comes back and the survivor builds.
      await until(async () => (await sagaOwner(id)) === survivor, 120_000, `the takeover of ${id} by ${survivor}`);
      await registry.restart();

      // The same deploy follows the build through the takeover to its end.
      const { code } = await exitsOnItsOwn(deploy, 240_000);
      expect(code, deploy.stderr()).toBe(0);
      const v2 = outcomeOf(deploy.lines.join('\n'));
      expect(v2).toMatchObject({ sagaId: id, status: 'completed', version: 2 });
      const res = await fetch(v2.url);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('hello from jetsaga');

      const events = await cli(['sagas', 'events', id, '--json']);
      expect(events.code, events.stderr).toBe(0);
      const journal = JSON.parse(events.stdout) as JournalView[];
      expectWellFormed(journal);
      const takeovers = takeoversOf(journal);
      expect(takeovers.map((t) => [t.from, t.owner])).toEqual([[victim, survivor]]);
      // The image was built by the survivor: its result comes after the takeover.
      const imageNo = journal.find((e) => e.event?.type === 'xstate.done.actor.image')!.entryNo;
      expect(takeovers[0]!.entryNo).toBeLessThan(imageNo);
      // The follow printed nothing twice across the takeover.
      for (const line of [/staged the source/, /building the image/, /^\s+built sha256:/, /is healthy at/]) {
        expect(deploy.stderr().split('\n').filter((l) => line.test(l)), String(line)).toHaveLength(1);
      }
      const shown = JSON.parse((await cli(['sagas', 'show', id, '--json'])).stdout) as { status: string };
      expect(shown.status).toBe('completed');
      const versions = JSON.parse((await cli(['versions', 'list', '--app', 'node-hello', '--json'])).stdout) as Array<{ version: number; active: boolean }>;
      expect(versions.map((v) => [v.version, v.active])).toEqual([
        [1, false],
        [2, true],
      ]);

      // The survivor stops on Ctrl-C, exit 0, its sandbox with it.
      const rest = coordinators.get(survivor)!;
      rest.signalGroup('SIGINT');
      expect(await exitsOnItsOwn(rest, 30_000)).toEqual({ code: 0, signal: null });
      await expect(fetch(v2.url)).rejects.toThrow();
    } finally {
      await deploy.kill();
    }
  }, 420_000);
});

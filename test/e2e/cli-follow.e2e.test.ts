/**
 * `jetsaga builds follow` and `jetsaga sagas events --follow` across a coordinator crash: a
 * deploy is started with --detach against a coordinator child process (real NATS and
 * registry), held at its onbuild step; both followers run as child processes; the coordinator
 * is SIGKILLed and started again on the same NATS and data. The followers say they lost it and
 * that they resumed; `builds follow` exits with the build's outcome (0) having printed every
 * progress record exactly once, in order; `sagas events --follow --json` prints the whole
 * journal as NDJSON, ending with the entry that completed the saga.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProgressRecord } from '../../src/build/progress.js';
import { connectNats } from '../../src/nats/connect.js';
import { JetsagaClient } from '../../src/service/client.js';
import { CLI, runCli } from '../helpers/cli.js';
import { killAllCoordinators, spawnCoordinator, until, type CoordinatorProc } from '../helpers/coordinator-proc.js';
import { gate } from '../helpers/gate.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { exitsOnItsOwn, spawnTs, type TsChild } from '../helpers/ts-child.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPT = join(ROOT, 'test', 'fixtures', 'build-coordinator.ts');
const NS = 'clifollow';
const APP = 'follow-site';

let nats: NatsServerHandle;
let registry: RegistryHandle;
let tmp: string;

beforeAll(async () => {
  [nats, registry] = await Promise.all([startNatsServer(), startRegistry()]);
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-cli-follow-'));
}, 60_000);
afterAll(async () => {
  await killAllCoordinators();
  await Promise.all([nats?.stop(), registry?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

const cli = (args: string[], timeoutMs = 120_000) => runCli([...args, '--nats', nats.url, '--namespace', NS], {}, timeoutMs);

/** A long-running CLI command (killed when the test ends, however it ends). */
function follower(args: string[], ctx: { onTestFinished(fn: () => unknown): void }): TsChild {
  const child = spawnTs(CLI, [...args, '--nats', nats.url, '--namespace', NS], { JETSAGA_LOG: 'warn', JETSAGA_NATS_URL: '', JETSAGA_REGISTRY: '' });
  ctx.onTestFinished(() => child.kill());
  return child;
}

/** What `print()` in src/cli/follow-build.ts writes for a record (null: nothing). */
function printed(p: ProgressRecord): string | null {
  if (p.kind === 'phase') return `  ${p.phase}`;
  if (p.kind === 'log') return `    ${p.text}`;
  if (p.kind === 'error') return `  ${p.step} failed: ${p.message} [${p.code}]`;
  return null;
}

describe('following across a coordinator crash', () => {
  it('builds follow prints lost/resumed, every record once, and exits 0; sagas events --follow --json prints the journal as NDJSON', async (ctx) => {
    const hold = gate(ctx);
    const spawn = (): CoordinatorProc =>
      spawnCoordinator({
        url: nats.url,
        namespace: NS,
        owner: 'follow-c',
        leaseTtlMs: 3_000,
        script: SCRIPT,
        env: {
          BUILD_FIXTURE: JSON.stringify({ registry: `127.0.0.1:${registry.port}`, dataDir: join(tmp, 'data'), holdIn: 'runOnbuild', holdUntil: hold.path, service: true }),
        },
      });
    const first = spawn();
    await first.ready;

    const detached = await cli(['deploy', join(ROOT, 'examples', 'static-site'), '--app', APP, '--detach']);
    expect(detached.code, detached.stderr).toBe(0);
    const id = detached.stdout.trim();

    const builds = follower(['builds', 'follow', id], ctx);
    const events = follower(['sagas', 'events', id, '--follow', '--json'], ctx);
    // Both attached and the build held at onbuild: then the coordinator dies.
    await until(() => first.calls().some((c) => c.step === 'runOnbuild' && c.outcome === 'start'), 'the build to reach onbuild', 120_000);
    await until(() => /onbuild/.test(builds.stderr()) && events.lines.length >= 3, 'the followers to show the build so far', 60_000);
    await first.kill();

    await until(() => /lost the coordinator/.test(builds.stderr()) && /lost the coordinator/.test(events.stderr()), 'the followers to notice', 60_000);
    const second = spawn();
    await second.ready;
    hold.open();

    const followed = await exitsOnItsOwn(builds, 240_000);
    const tail = `stdout:\n${builds.lines.join('\n')}\nstderr:\n${builds.stderr()}`;
    expect(followed.code, tail).toBe(0);
    expect(builds.lines.join('\n')).toMatch(new RegExp(`^deployed ${APP} v1: http://127\\.0\\.0\\.1:\\d+ \\(image sha256:[a-f0-9]{64}, build ${id}\\)$`, 'm'));
    const stderr = builds.stderr().split('\n');
    const lost = stderr.findIndex((l) => l.startsWith('lost the coordinator'));
    const resumed = stderr.findIndex((l) => l.startsWith(`resumed following build ${id}`));
    expect(lost, tail).toBeGreaterThanOrEqual(0);
    expect(resumed, tail).toBeGreaterThan(lost);
    expect(stderr.filter((l) => l.startsWith('lost the coordinator') || l.startsWith('resumed following'))).toHaveLength(2);

    // Every stored progress record printed once, in order: nothing twice across the restart, nothing lost.
    const nc = await connectNats({ servers: nats.url });
    try {
      const client = JetsagaClient.connect(nc, { namespace: NS });
      const records: ProgressRecord[] = [];
      for await (const p of client.followBuild(id)) records.push(p);
      const expected = records.map(printed).filter((l): l is string => l !== null);
      expect(stderr.filter((l) => l.startsWith('  ')), tail).toEqual(expected);
      const phases = records.filter((p) => p.kind === 'phase').map((p) => p.phase);
      expect(phases.some((p) => p.includes('onbuild'))).toBe(true);
      expect(phases.at(-1)).toBe('completed');
    } finally {
      await nc.close();
    }

    // The journal as NDJSON, the same as `sagas events --json`, ending with the completing entry.
    const eventsDone = await exitsOnItsOwn(events, 60_000);
    expect(eventsDone.code, events.stderr()).toBe(0);
    expect(events.stderr()).toMatch(new RegExp(`resumed following saga ${id}`));
    const streamed = events.lines.map((l) => JSON.parse(l) as { entryNo: number; streamSeq: number });
    const whole = await cli(['sagas', 'events', id, '--json']);
    expect(streamed).toEqual(JSON.parse(whole.stdout));
    const shown = JSON.parse((await cli(['sagas', 'show', id, '--json'])).stdout) as { status: string; seq: number };
    expect(shown.status).toBe('completed');
    expect(streamed.at(-1)!.entryNo).toBe(shown.seq);
  }, 420_000);
});

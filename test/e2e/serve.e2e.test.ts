/**
 * `jetsaga serve` as a user runs it, with nothing running: it embeds nats-server and
 * docker-registry, reports its boot status, and leaves no process behind when it stops —
 * gracefully (SIGTERM) or not (SIGKILL).
 */
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import type { ReadinessRecord } from '../../src/boot/readiness-bus.js';
import { until } from '../helpers/coordinator-proc.js';
import { freePort } from '../helpers/nats-server.js';
import { alive, killIfSame, spawnTs, startTimeOf, type TsChild } from '../helpers/ts-child.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.ts');

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-serve-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/**
 * Runs `jetsaga serve` until it is ready. Whatever the test does, the coordinator and the
 * embedded servers it reported are killed when the test ends: a failing test leaves nothing
 * running either.
 */
async function serve(ctx: TestContext, name: string, env: NodeJS.ProcessEnv = {}): Promise<{ child: TsChild; natsPort: number; pids: number[] }> {
  // Its own process group, like a command started from a shell, so a test can Ctrl-C it.
  const [natsPort, registryPort] = [await freePort(), await freePort()];
  const child = spawnTs(CLI, ['serve', '--owner', name, '--data-dir', join(tmp, name), '--nats-port', String(natsPort), '--registry-port', String(registryPort)], {
    JETSAGA_LOG: 'warn',
    // nothing explicit: the coordinator must find nothing listening and embed both servers
    JETSAGA_NATS_URL: '',
    JETSAGA_REGISTRY: '',
    ...env,
  }, { ownGroup: true });
  const started: Array<{ pid: number; startTime: string | undefined }> = [];
  ctx.onTestFinished(async () => {
    await child.kill();
    for (const { pid, startTime } of started) killIfSame(pid, startTime);
  });
  await child.waitForLine(/^jetsaga coordinator ".*" ready$/, 60_000);
  const pids = child.lines.flatMap((l) => [...l.matchAll(/embedded, pid (\d+)/g)].map((m) => Number(m[1])));
  // Read while the coordinator runs them: the clean-up kills these processes, not a later
  // process that happens to get one of their pids.
  started.push(...pids.map((pid) => ({ pid, startTime: startTimeOf(pid) })));
  return { child, natsPort, pids };
}

async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const c = spawnTs(CLI, args, { JETSAGA_LOG: 'warn', JETSAGA_NATS_URL: '', JETSAGA_NATS_PORT: '' });
  const { code } = await c.exited;
  return { code, stdout: c.lines.join('\n'), stderr: c.stderr() };
}

describe('jetsaga serve (embedded default)', () => {
  it('boots with nothing running, reports every dependency ready, and stops its children on Ctrl-C', async (ctx) => {
    const { child, natsPort, pids } = await serve(ctx, 'e2e-term');
    expect(pids).toHaveLength(2);
    expect(pids.every(alive)).toBe(true);

    // The port given: the data dir still gives the embedded server's credentials.
    const status = await cli(['boot', 'status', '--json', '--nats-port', String(natsPort), '--data-dir', join(tmp, 'e2e-term')]);
    expect(status.code).toBe(0);
    const records = JSON.parse(status.stdout) as ReadinessRecord[];
    expect(records.map((r) => r.name).sort()).toEqual(['admission', 'builder', 'jetstream', 'names', 'nats', 'recovery', 'registry', 'staging']);
    expect(records.filter((r) => !r.ready)).toEqual([]);
    // The documented shape: name, state, since, error (what keeps it from being ready; null when ready).
    for (const r of records as unknown as Array<Record<string, unknown>>) expect(r).toMatchObject({ state: 'ready', since: expect.any(Number), error: null });
    expect(records.every((r) => r.coordinator === 'e2e-term')).toBe(true);

    // No --nats, no port: the CLI finds the coordinator's NATS from the record in its data dir.
    const dataDir = join(tmp, 'e2e-term');
    const record = JSON.parse(await readFile(join(dataDir, 'coordinator.json'), 'utf8')) as { natsUrl: string; pid: number };
    expect(record.natsUrl).toBe(`nats://127.0.0.1:${natsPort}`);
    const table = await cli(['boot', 'status', '--data-dir', dataDir]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^COORDINATOR\s+DEPENDENCY\s+STATE\s+SINCE/);
    expect(table.stdout).toMatch(/e2e-term\s+registry\s+ready/);

    // Ctrl-C signals the whole foreground group; the embedded servers, in groups of their
    // own, must outlive the runtime's graceful close and then be stopped by the coordinator.
    child.signalGroup('SIGINT');
    expect((await child.exited).code).toBe(0);
    // Nothing went wrong on the way down: no error, and no dependency reported lost.
    expect(child.stderr()).not.toMatch(/"level":[56]0/);
    expect(child.stderr()).not.toMatch(/boot dependency lost/);
    expect(child.stderr()).not.toMatch(/process exited unexpectedly/);
    await until(() => !pids.some(alive), 'embedded servers gone', 30_000);
    // A coordinator that stopped leaves no record behind for the CLI to follow.
    await expect(access(join(dataDir, 'coordinator.json'))).rejects.toThrow();
  }, 120_000);

  it('leaves no orphan when the coordinator is SIGKILLed', async (ctx) => {
    const { child, pids } = await serve(ctx, 'e2e-kill');
    expect(pids).toHaveLength(2);
    await child.kill();
    // Their watchdogs notice within half a second and give them five to stop.
    await until(() => !pids.some(alive), 'embedded servers gone after SIGKILL', 30_000);
  }, 120_000);

  it('says what to install when a binary is missing', async () => {
    const [natsPort] = [await freePort()];
    const c = spawnTs(CLI, ['serve', '--data-dir', join(tmp, 'missing'), '--nats-port', String(natsPort)], {
      JETSAGA_LOG: 'silent',
      JETSAGA_NATS_URL: '',
      JETSAGA_NATS_SERVER_BIN: '/nonexistent/nats-server',
    });
    const { code } = await c.exited;
    expect(code).toBe(1);
    expect(c.stderr()).toMatch(/nats-server not found at \/nonexistent\/nats-server.*apt-get install nats-server/);
  }, 60_000);

  it('refuses bad flags with exit code 2 and unreachable NATS with 3', async () => {
    const bad = await cli(['serve', '--nats-port', 'abc']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--nats-port: port "abc" must be an integer/);
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    const down = await cli(['boot', 'status', '--nats', `nats://127.0.0.1:${await freePort()}`]);
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/cannot reach NATS/);
  }, 60_000);
});

/**
 * `jetsaga serve` with a NATS server and a registry it did not start: the ready block says they
 * are not jetsaga's to manage (whether given by flag or found on the default port), and
 * `jetsaga boot status` works as a health check — non-zero when a coordinator shown has
 * stopped or one of its dependencies is not ready, with --coordinator narrowing what counts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logLines, runCli, startCli } from '../helpers/cli.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { exitsOnItsOwn, type TsChild } from '../helpers/ts-child.js';
import { until } from '../helpers/until.js';

let nats: NatsServerHandle;
let registry: RegistryHandle;
let tmp: string;
beforeAll(async () => {
  [nats, registry] = await Promise.all([startNatsServer(), startRegistry()]);
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-serve-external-'));
}, 60_000);
afterAll(async () => {
  await Promise.all([nats?.stop(), registry?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

const NOT_OURS = '(already running, not managed by jetsaga)';

function serve(owner: string, namespace: string, flags: string[]): TsChild {
  return startCli(['serve', '--owner', owner, '--namespace', namespace, '--data-dir', join(tmp, owner), ...flags]);
}

async function stop(child: TsChild): Promise<void> {
  child.signalGroup('SIGTERM');
  expect((await exitsOnItsOwn(child)).code).toBe(0);
}

/** Waits until the coordinator has logged `dependency` ready. */
function readyLogged(child: TsChild, dependency: string): Promise<void> {
  return until(() => logLines(child).some((l) => l.dependency === dependency && l.msg === 'boot dependency ready'), 30_000, `${dependency} ready`);
}

describe('the ready block of a coordinator using servers it did not start', () => {
  it('says so for servers given by flag', async () => {
    const child = serve('adopt-flags', 'adopt1', ['--nats', nats.url, '--registry', `127.0.0.1:${registry.port}`]);
    await child.waitForLine(/^jetsaga coordinator "adopt-flags" ready$/, 60_000);
    expect(child.lines).toContain(`  nats      ${nats.url} ${NOT_OURS}`);
    // The registry may still be checked when work is admitted (admission does not wait for it).
    expect(child.lines.find((l) => l.startsWith('  registry'))).toMatch(new RegExp(`^  registry  http://cluster\\.local:${registry.port} \\((already running, )?not managed by jetsaga\\)$`));
    expect(child.lines.join('\n')).not.toContain('embedded');
    await stop(child);
  }, 90_000);

  it('says so for servers found listening on the default ports', async () => {
    const child = serve('adopt-ports', 'adopt2', ['--nats-port', String(nats.port), '--registry-port', String(registry.port)]);
    await child.waitForLine(/^jetsaga coordinator "adopt-ports" ready$/, 60_000);
    expect(child.lines).toContain(`  nats      nats://127.0.0.1:${nats.port} ${NOT_OURS}`);
    expect(child.lines.find((l) => l.startsWith('  registry'))).toMatch(new RegExp(`^  registry  http://cluster\\.local:${registry.port} \\((already running, )?not managed by jetsaga\\)$`));
    expect(child.lines.join('\n')).not.toContain('embedded');
    await stop(child);
  }, 90_000);
});

describe('jetsaga boot status as a health check', () => {
  it('exits 0 only while every coordinator shown runs with every dependency ready', async () => {
    const status = (...args: string[]) => runCli(['boot', 'status', '--nats', nats.url, '--namespace', 'health', ...args]);

    const healthy = serve('healthy', 'health', ['--nats', nats.url, '--registry', `127.0.0.1:${registry.port}`]);
    await healthy.waitForLine(/^jetsaga coordinator "healthy" ready$/, 60_000);
    await readyLogged(healthy, 'registry');
    expect((await status()).code).toBe(0);
    expect((await status('--json')).code).toBe(0);

    // A second coordinator whose registry does not answer.
    const lacking = serve('lacking', 'health', ['--nats', nats.url, '--registry', `127.0.0.1:${await freePort()}`]);
    await lacking.waitForLine(/^jetsaga coordinator "lacking" ready$/, 60_000);
    const bad = await status('--coordinator', 'lacking');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/jetsaga: unhealthy: coordinator "lacking": registry is (backoff|checking) \(registry http:\/\/cluster\.local:\d+ does not answer/);
    expect((await status('--coordinator', 'lacking', '--json')).code).toBe(1);
    // Everything counts without --coordinator; --coordinator narrows it.
    expect((await status()).code).toBe(1);
    expect((await status('--coordinator', 'healthy')).code).toBe(0);
    await stop(lacking);

    // A stopped coordinator's report is stale: its lease was released on the way down.
    await stop(healthy);
    const stale = await status('--coordinator', 'healthy');
    expect(stale.code).toBe(1);
    expect(stale.stdout).toMatch(/healthy\s+nats\s+/);
    expect(stale.stderr).toContain('jetsaga: unhealthy: coordinator "healthy" is not running (its lease has lapsed or was released): its report is stale');
    expect((await status('--coordinator', 'healthy', '--json')).code).toBe(1);

    // Nothing at all for a name never seen.
    expect((await status('--coordinator', 'nobody')).code).toBe(4);
  }, 180_000);
});

describe('a second serve under a coordinator name in use', () => {
  it('refuses to start, naming the live holder, and leaves the first running', async () => {
    const flags = ['--nats', nats.url, '--registry', `127.0.0.1:${registry.port}`];
    const first = serve('twin', 'twins', flags);
    await first.waitForLine(/^jetsaga coordinator "twin" ready$/, 60_000);
    const second = startCli(['serve', '--owner', 'twin', '--namespace', 'twins', '--data-dir', join(tmp, 'twin-2'), ...flags]);
    const { code } = await exitsOnItsOwn(second, 60_000);
    expect(code).toBe(1);
    expect(second.stderr()).toMatch(/coordinator name "twin" is in use by a live process \(incarnation [\w-]+, host [^,]+, pid \d+\)/);
    expect(second.lines.join('\n')).not.toContain('ready');
    // The first still holds its name: it answers as healthy and stops cleanly.
    expect((await runCli(['boot', 'status', '--nats', nats.url, '--namespace', 'twins', '--coordinator', 'twin'])).code).toBe(0);
    expect(logLines(first).filter((l) => l.level >= 50)).toEqual([]);
    await stop(first);
  }, 120_000);
});

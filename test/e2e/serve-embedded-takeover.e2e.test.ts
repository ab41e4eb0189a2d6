/**
 * `jetsaga serve` whose embedded registry lost its port to another process — as when two
 * coordinators start at the same moment on one machine, both find the default port free, and
 * the other's registry wins the bind. The coordinator uses the registry that now listens there
 * (not managed by it) instead of restarting its own for ever against a port in use, stays
 * healthy, and leaves that registry running when it stops.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedRegistry, type EmbeddedRegistry } from '../../src/boot/embedded-registry.js';
import { isListening } from '../../src/boot/port-probe.js';
import { createLogger } from '../../src/log.js';
import { logLines, runCli, startCli } from '../helpers/cli.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { exitsOnItsOwn } from '../helpers/ts-child.js';
import { until } from '../helpers/until.js';

let nats: NatsServerHandle;
let tmp: string;
beforeAll(async () => {
  nats = await startNatsServer();
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-serve-takeover-'));
}, 60_000);
afterAll(async () => {
  await nats?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe('an embedded registry whose port another registry took', () => {
  it('is given up for that registry, which the coordinator uses and leaves running', async () => {
    const port = await freePort();
    const child = startCli(['serve', '--owner', 'emb', '--namespace', 'embtake', '--data-dir', join(tmp, 'emb'), '--nats', nats.url, '--registry-port', String(port)]);
    let other: EmbeddedRegistry | undefined;
    try {
      await child.waitForLine(/^jetsaga coordinator "emb" ready$/, 60_000);
      await until(() => logLines(child).some((l) => l.dependency === 'registry' && l.msg === 'boot dependency ready'), 30_000, 'registry ready');
      const pid = logLines(child).find((l) => l.msg === 'embedded docker-registry started')?.childPid as number;
      expect(pid).toBeGreaterThan(0);

      // While the coordinator is stopped, its registry dies and another takes the port: when
      // it runs again, the port it would restart on is in use.
      child.signalGroup('SIGSTOP');
      try {
        process.kill(pid, 'SIGKILL');
        await until(async () => !(await isListening('127.0.0.1', port)), 30_000, 'the port freed');
        other = await startEmbeddedRegistry({ dataDir: join(tmp, 'other'), port, logger: createLogger({ name: 'other-registry', level: 'warn' }) });
      } finally {
        child.signalGroup('SIGCONT');
      }
      await until(() => logLines(child).some((l) => String(l.msg).includes(`another process listens on 127.0.0.1:${port}: using that one`)), 30_000, 'the other registry adopted');
      const status = await runCli(['boot', 'status', '--nats', nats.url, '--namespace', 'embtake', '--coordinator', 'emb']);
      expect(status.code, status.stdout + status.stderr).toBe(0);
      expect(logLines(child).filter((l) => String(l.msg).includes('starting it again'))).toEqual([]);

      child.signalGroup('SIGTERM');
      expect((await exitsOnItsOwn(child)).code).toBe(0);
      // Not the coordinator's to stop.
      expect(await fetch(`${other.url}/v2/`).then((r) => r.status)).toBe(200);
    } finally {
      await other?.stop();
    }
  }, 120_000);
});

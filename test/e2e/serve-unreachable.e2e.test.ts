/**
 * `jetsaga serve` pointed at NATS it cannot reach: it says at once what it waits for, keeps
 * saying it (not on every retry), says when it got through, and one SIGINT or SIGTERM stops
 * it cleanly at any point of the wait.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { logLines, startCli, type LogLine } from '../helpers/cli.js';
import { freePort, startNatsServer } from '../helpers/nats-server.js';
import { startSilentListener, type SilentListener } from '../helpers/silent-listener.js';
import { exitsOnItsOwn, type TsChild } from '../helpers/ts-child.js';
import { until } from '../helpers/until.js';

let silent: SilentListener;
let tmp: string;
beforeAll(async () => {
  silent = await startSilentListener();
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-serve-unreachable-'));
});
afterAll(async () => {
  await silent?.close();
  await rm(tmp, { recursive: true, force: true });
});

async function serve(owner: string, natsUrl: string): Promise<TsChild> {
  // A registry that refuses too, so that nothing is embedded.
  return startCli(['serve', '--owner', owner, '--data-dir', join(tmp, owner), '--nats', natsUrl, '--registry', `127.0.0.1:${await freePort()}`]);
}

const natsLines = (child: TsChild): LogLine[] => logLines(child).filter((l) => l.dependency === 'nats');
const waitingLines = (child: TsChild): LogLine[] => natsLines(child).filter((l) => l.msg.startsWith('waiting for nats: '));

function logged(child: TsChild, what: string, match: (l: LogLine) => boolean, timeoutMs = 30_000): Promise<void> {
  return until(() => logLines(child).some(match), timeoutMs, what);
}

/** One signal to the process group (as Ctrl-C does), then it must exit 0 by itself, having logged no error. */
async function stopsOnOneSignal(child: TsChild, signal: NodeJS.Signals): Promise<void> {
  child.signalGroup(signal);
  const exit = await exitsOnItsOwn(child, 20_000);
  expect(exit, child.stderr()).toEqual({ code: 0, signal: null });
  expect(logLines(child).filter((l) => l.level >= 50)).toEqual([]);
}

describe('jetsaga serve waiting for NATS', () => {
  it('says what it waits for at once, keeps saying it, then says it connected', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const child = await serve('waits-refused', url);

    await logged(child, 'a first waiting line', (l) => l.dependency === 'nats' && l.msg.startsWith('waiting for nats: '));
    const [first] = waitingLines(child);
    expect(first).toMatchObject({ level: 30, msg: `waiting for nats: cannot reach NATS at ${url}: connection refused`, failures: 1 });
    expect(natsLines(child)[0]).toMatchObject({ level: 30, msg: `connecting to NATS at ${url}` });

    // Repeated while it lasts, as a warning, but not once per retry.
    await until(() => waitingLines(child).length >= 2, 30_000, 'a second waiting line');
    const second = waitingLines(child)[1]!;
    expect(second).toMatchObject({ level: 40, msg: first!.msg });
    expect(second.failures as number).toBeGreaterThan((first!.failures as number) + 1);

    const server = await startNatsServer({ port });
    onTestFinished(() => server.stop());
    await child.waitForLine(/^jetsaga coordinator "waits-refused" ready$/, 60_000);
    const msgs = logLines(child).map((l) => l.msg);
    const connected = msgs.indexOf('nats connected');
    expect(connected).toBeGreaterThan(msgs.lastIndexOf(second.msg));
    expect(logLines(child)[connected]).toMatchObject({ level: 30, server: `127.0.0.1:${port}` });
    expect(natsLines(child).find((l) => l.msg === 'boot dependency ready')).toMatchObject({ level: 30, failedBefore: expect.any(Number) });
    expect(child.lines).toContain(`  nats      ${url} (already running, not managed by jetsaga)`);

    await stopsOnOneSignal(child, 'SIGINT');
  }, 120_000);

  it('names a server that accepts the connection and never answers', async () => {
    const child = await serve('waits-silent', silent.url);
    await logged(child, 'a waiting line', (l) => l.dependency === 'nats' && l.msg.startsWith('waiting for nats: '));
    expect(waitingLines(child)[0]).toMatchObject({ msg: expect.stringContaining(`waiting for nats: cannot reach NATS at ${silent.url}: the connection was accepted but no NATS greeting came within`) });
    await stopsOnOneSignal(child, 'SIGTERM');
  }, 60_000);
});

describe('one signal stops jetsaga serve while it waits for NATS', () => {
  // Attempts are counted at the listener, so these wait for the connection itself, not a log line.
  it('SIGINT during the first attempt on a server that never answers', async () => {
    const before = silent.accepted();
    const child = await serve('int-silent', silent.url);
    await until(() => silent.accepted() > before, 30_000, 'the first attempt');
    await stopsOnOneSignal(child, 'SIGINT');
    expect(child.lines).toEqual([]);
  }, 60_000);

  it('SIGTERM once an attempt on a server that never answers has timed out', async () => {
    const before = silent.accepted();
    const child = await serve('term-silent', silent.url);
    await until(() => silent.accepted() > before + 1, 30_000, 'a second attempt');
    await stopsOnOneSignal(child, 'SIGTERM');
  }, 60_000);

  it('SIGINT while the connection is refused', async () => {
    const child = await serve('int-refused', `nats://127.0.0.1:${await freePort()}`);
    await logged(child, 'a failed attempt', (l) => l.dependency === 'nats' && l.msg.startsWith('waiting for nats: '));
    await stopsOnOneSignal(child, 'SIGINT');
  }, 60_000);

  it('SIGTERM just after NATS answered, while the rest boots', async () => {
    const server = await startNatsServer();
    onTestFinished(() => server.stop());
    const child = await serve('term-booting', server.url);
    await logged(child, 'nats connected', (l) => l.msg === 'nats connected');
    await stopsOnOneSignal(child, 'SIGTERM');
  }, 60_000);
});

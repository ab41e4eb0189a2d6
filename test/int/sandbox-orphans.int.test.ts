/**
 * Sandboxes never outlive their coordinator: a parent process starts two sandboxes (a node app
 * whose grandchild ignores SIGTERM, and a python app) and is then SIGKILLed, or exits without
 * stopping them. Every process of both must be gone within a generous bound (each watchdog
 * wakes when the parent is gone and gives its group 5 s after SIGTERM before SIGKILL).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, type TestContext } from 'vitest';
import { isListening } from '../../src/boot/port-probe.js';
import { gone, tempDir, waitGone, watchdogsFor } from '../fixtures/sandbox/sandbox-harness.js';
import { killIfSame, startTimeOf } from '../helpers/ts-child.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const parentFixture = fileURLToPath(new URL('../fixtures/sandbox/sandbox-parent.ts', import.meta.url));

interface Started {
  parentPid: number;
  pid: number;
  grandchild: number;
  port: number;
  pythonPid: number;
  pythonPort: number;
}

async function startParent(ctx: TestContext, mode: 'wait' | 'exit' | 'close'): Promise<Started & { exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', parentFixture, await tempDir('jetsaga-sandbox-orphan-logs-'), mode], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const known: { started?: Started; starts: Map<number, string | undefined> } = { starts: new Map() };
  // Whatever the test did, the parent, the sandbox's group, its grandchild and the watchdog
  // (its own group, with its sleep) are gone when it ends.
  ctx.onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    const s = known.started;
    if (!s) return;
    for (const w of [...watchdogsFor(s.pid, s.parentPid), ...watchdogsFor(s.pythonPid, s.parentPid)]) killIfSame(w, startTimeOf(w), true);
    killIfSame(s.pid, known.starts.get(s.pid), true);
    killIfSame(s.pythonPid, known.starts.get(s.pythonPid), true);
    killIfSame(s.grandchild, known.starts.get(s.grandchild));
  });
  let out = '';
  let errOut = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (errOut += c));
  const deadline = Date.now() + 30_000;
  while (!out.includes('\n')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`parent fixture did not report (exit ${child.exitCode}): ${errOut}`);
    }
    await sleep(20);
  }
  const started = JSON.parse(out.split('\n')[0]!) as Started;
  known.started = started;
  for (const pid of [started.pid, started.grandchild, started.pythonPid]) known.starts.set(pid, startTimeOf(pid));
  return { ...started, exited };
}

describe('sandbox orphan safety', () => {
  it('a SIGKILLed coordinator leaves no sandbox process running', async (ctx) => {
    const s = await startParent(ctx, 'wait');
    expect(gone(s.pid)).toBe(false);
    expect(gone(s.grandchild)).toBe(false);
    expect(await isListening('127.0.0.1', s.port, 5_000)).toBe(true);
    expect(await isListening('127.0.0.1', s.pythonPort, 5_000)).toBe(true);
    const watchdogs = [...watchdogsFor(s.pid, s.parentPid), ...watchdogsFor(s.pythonPid, s.parentPid)];
    expect(watchdogs).toHaveLength(2);

    process.kill(s.parentPid, 'SIGKILL');
    expect(await waitGone(s.pid, 30_000)).toBe(true);
    expect(await waitGone(s.pythonPid, 30_000)).toBe(true);
    // It ignores SIGTERM (and its closed output pipe): only the watchdog's SIGKILL ends it.
    expect(await waitGone(s.grandchild, 30_000)).toBe(true);
    for (const w of watchdogs) expect(await waitGone(w, 30_000)).toBe(true);
    expect(await isListening('127.0.0.1', s.port, 5_000)).toBe(false);
    expect(await isListening('127.0.0.1', s.pythonPort, 5_000)).toBe(false);
  }, 90_000);

  it('a coordinator that exits without stopping its sandboxes takes them along', async (ctx) => {
    const s = await startParent(ctx, 'exit');
    expect(await waitGone(s.parentPid, 30_000)).toBe(true);
    expect(await waitGone(s.pid, 30_000)).toBe(true);
    expect(await waitGone(s.pythonPid, 30_000)).toBe(true);
    expect(await waitGone(s.grandchild, 30_000)).toBe(true);
    expect(await isListening('127.0.0.1', s.port, 5_000)).toBe(false);
  }, 90_000);

  it('a coordinator that closes its controller ends by itself, its sandboxes stopped: nothing of them holds its event loop', async (ctx) => {
    const s = await startParent(ctx, 'close');
    const outcome = await Promise.race([s.exited, sleep(60_000).then(() => 'hung' as const)]);
    expect(outcome).toBe(0);
    // close() stopped them before the process ended: nothing was left to the watchdogs.
    for (const pid of [s.pid, s.pythonPid, s.grandchild]) expect(gone(pid)).toBe(true);
  }, 90_000);
});

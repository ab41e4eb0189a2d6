/**
 * The rollback machine driven purely: its steps in order, each fed from the saga input and the
 * check step's output (the build's start step reads the shapes the build's own steps produce),
 * and a failure undoing what was started, latest first.
 */
import { describe, expect, it } from 'vitest';
import { rollbackMachine, type RollbackInput } from '../../machines/rollback.machine.js';
import { Driver } from '../helpers/saga-driver.js';

const INPUT: RollbackInput = { app: 'shop', to: 1 };
const TARGET = {
  version: 1,
  status: 'retired',
  previous: 2,
  image: { repo: 'cluster.local:5000/apps/shop', digest: `sha256:${'a'.repeat(64)}` },
  processes: { processes: { web: ['node', 'server.js'] } },
  settings: { env: { A: '1' }, port: null, health: '/' },
  settingsFrom: 'sandbox spec',
};
const RUNNING = { id: 'shop-v1', port: 4000, pid: 10, url: 'http://127.0.0.1:4000' };

/** Runs the saga up to the start step, which waits for the registry first. */
function upToStart(): Driver {
  const d = new Driver(rollbackMachine, INPUT);
  d.done('lock', { holder: 'x', since: 1, outcome: 'acquired' });
  d.done('check', TARGET);
  expect(d.snapshot.value).toEqual({ start: 'await_registry' });
  return d.send({ type: 'boot.ready', dependency: 'registry' });
}

describe('the rollback machine', () => {
  it('runs lock → check → start → activate → stopOld → finalize with the inputs the build steps expect', () => {
    const d = new Driver(rollbackMachine, INPUT);
    expect(d.spawns()).toEqual([{ id: 'lock', src: 'takeDeployLock', input: { app: 'shop', waitForLock: false } }]);
    d.done('lock', { holder: 'x', since: 1, outcome: 'acquired' });
    expect(d.spawns()).toEqual([{ id: 'check', src: 'checkRollbackTarget', input: { app: 'shop', to: 1 } }]);
    d.done('check', TARGET).send({ type: 'boot.ready', dependency: 'registry' });
    expect(d.spawns()).toEqual([
      { id: 'start', src: 'startSandbox', input: { app: 'shop', version: 1, image: TARGET.image, processes: TARGET.processes, settings: TARGET.settings } },
    ]);
    d.done('start', RUNNING);
    expect(d.spawns()).toEqual([{ id: 'activate', src: 'setActiveVersion', input: { app: 'shop', version: 1, targetStatus: 'retired' } }]);
    d.done('activate', { previous: 2 });
    expect(d.spawns()).toEqual([{ id: 'stopOld', src: 'stopOldSandboxes', input: { app: 'shop', version: 1, keep: RUNNING } }]);
    d.done('stopOld', { stopped: [2] });
    expect(d.spawns()).toEqual([{ id: 'finalize', src: 'finalizeRollback', input: { app: 'shop' } }]);
    d.done('finalize', { lockReleased: true });
    expect(d.status).toBe('completed');
    expect(d.ctx.stack.map((e) => e.step)).toEqual(['lock', 'start', 'activate', 'stopOld']);
  });

  it('a refused check undoes only the lock', () => {
    const d = new Driver(rollbackMachine, { ...INPUT, waitForLock: true });
    d.done('lock', { holder: 'x', since: 1, outcome: 'acquired' });
    d.fail('check', { name: 'TerminalError', code: 'ALREADY_ACTIVE', message: 'active', retryable: false });
    expect(d.ctx.error).toMatchObject({ step: 'check', code: 'ALREADY_ACTIVE' });
    expect(d.spawns().map((s) => s.src)).toEqual(['releaseDeployLock']);
    d.done('undo.lock', null);
    expect(d.status).toBe('compensated');
  });

  it('a failed activation undoes it, the start and the lock, latest first', () => {
    const d = upToStart().done('start', RUNNING);
    d.fail('activate', { name: 'TerminalError', code: 'INJECTED', message: 'no', retryable: false });
    const undone: string[] = [];
    for (let s = d.spawns(); s.length > 0; s = d.spawns()) {
      expect(s).toHaveLength(1);
      undone.push(s[0]!.src);
      d.done(s[0]!.id, null);
    }
    expect(undone).toEqual(['restoreRolledBackVersion', 'stopSandbox', 'releaseDeployLock']);
    expect(d.status).toBe('compensated');
  });
});

/**
 * `jetsaga sagas retry|skip|abandon` as a user runs them, against a coordinator child process
 * (test/fixtures/tidy-coordinator.ts) on a real NATS, whose tidy saga blocks on a broken undo:
 * abandon names what was left undone and `sagas show` has it; retry, once the undo is mended,
 * compensates; skip goes on without it. A saga that is not blocked exits 1 (NOT_BLOCKED), an
 * unknown one 4.
 */
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SagaInfo } from '../../src/runtime/types.js';
import type { TidyCall, TidyInput } from '../fixtures/tidy-saga.js';
import { runCli } from '../helpers/cli.js';
import { killAllCoordinators, spawnCoordinator, type CoordinatorProc } from '../helpers/coordinator-proc.js';
import { readJsonLines } from '../helpers/json-lines.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { until } from '../helpers/until.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'tidy-coordinator.ts');
const NS = 'cliblocked';

let nats: NatsServerHandle;
let registry: RegistryHandle;
let tmp: string;
let proc: CoordinatorProc;

beforeAll(async () => {
  [nats, registry] = await Promise.all([startNatsServer(), startRegistry()]);
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-cli-blocked-'));
  proc = spawnCoordinator({
    url: nats.url,
    namespace: NS,
    owner: 'tidy-c1',
    script: SCRIPT,
    callsFile: join(tmp, 'calls.jsonl'),
    env: { TIDY_FIXTURE: JSON.stringify({ registry: `127.0.0.1:${registry.port}`, dataDir: join(tmp, 'data') }) },
  });
  await proc.ready;
}, 120_000);

afterAll(async () => {
  await killAllCoordinators();
  await Promise.all([nats?.stop(), registry?.stop()]);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const cli = (args: string[]) => runCli([...args, '--nats', nats.url, '--namespace', NS]);

const callsOf = (sagaId: string, step: string): string[] =>
  readJsonLines<TidyCall>(proc.callsFile)
    .filter((c) => c.sagaId === sagaId && c.step === step)
    .map((c) => c.outcome);

async function statusOf(id: string): Promise<string> {
  return (await proc.request<SagaInfo>({ op: 'get', sagaId: id })).status;
}

/** A tidy saga blocked on its `deprovision` undo; returns the file whose removal mends it. */
async function blockedSaga(id: string): Promise<string> {
  const broken = join(tmp, `${id}.broken`);
  await writeFile(broken, '');
  const input: TidyInput = { failVerify: true, brokenUndo: { deprovision: broken } };
  await proc.request({ op: 'start', sagaId: id, input });
  await until(async () => (await statusOf(id)) === 'blocked', 30_000, `${id} blocked`);
  return broken;
}

describe('jetsaga sagas abandon|retry|skip', () => {
  it('abandon: names what was left undone, sagas show has it, nothing more runs; again exits 1', async () => {
    await blockedSaga('ab-1');
    const listed = await cli(['sagas', 'list', '--status', 'blocked', '--machine', 'tidy']);
    expect(listed.stdout).toMatch(/^ID\s+MACHINE\s+STATUS\s+OWNER\s+UPDATED$/m);
    expect(listed.stdout).toMatch(/^ab-1\s+tidy\s+blocked\s+tidy-c1\s/m);
    const listedJson = JSON.parse((await cli(['sagas', 'list', '--status', 'blocked', '--machine', 'tidy', '--json'])).stdout) as Array<{ id: string; owner: string }>;
    expect(listedJson.find((s) => s.id === 'ab-1')).toMatchObject({ owner: 'tidy-c1' });

    const r = await cli(['sagas', 'abandon', 'ab-1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('abandoned the compensation of ab-1: it is cancelled (state abandoned)');
    expect(r.stdout).toMatch(/failed: +deprovision \(undoes provision\): UNDO_BROKEN deprovision failed/);
    expect(r.stdout).toMatch(/not run: release \(undoes reserve\)/);

    const shown = await cli(['sagas', 'show', 'ab-1', '--json']);
    expect(shown.code).toBe(0);
    const saga = JSON.parse(shown.stdout) as { status: string; state: unknown; context: { abandoned: unknown } };
    expect(saga).toMatchObject({ status: 'cancelled', state: 'abandoned', owner: 'tidy-c1' });
    expect(saga.context.abandoned).toMatchObject({ failedUndo: { step: 'provision', undo: 'deprovision' }, notRun: [{ step: 'reserve', undo: 'release' }] });
    expect(callsOf('ab-1', 'release')).toEqual([]);
    expect(callsOf('ab-1', 'deprovision')).toEqual(['error']);

    const again = await cli(['sagas', 'abandon', 'ab-1', '--json']);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toMatchObject({ id: 'ab-1', accepted: false, status: 'cancelled', error: { code: 'NOT_BLOCKED' } });
  });

  it('retry: once the undo is mended the saga compensates; retrying a compensated saga exits 1', async () => {
    const broken = await blockedSaga('re-1');
    await unlink(broken);
    const r = await cli(['sagas', 'retry', 're-1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: 're-1', accepted: true, status: 'compensating' });
    await until(async () => (await statusOf('re-1')) === 'compensated', 30_000, 're-1 compensated');
    expect(callsOf('re-1', 'deprovision')).toEqual(['error', 'ok']);
    expect(callsOf('re-1', 'release')).toEqual(['ok']);

    const again = await cli(['sagas', 'retry', 're-1']);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('re-1 is compensated, not blocked: nothing to retry');
  });

  it('skip: the failed undo is not run again, the rest are undone', async () => {
    await blockedSaga('sk-1');
    const r = await cli(['sagas', 'skip', 'sk-1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('skipped the failed undo of sk-1: it goes on with the other undos');
    await until(async () => (await statusOf('sk-1')) === 'compensated', 30_000, 'sk-1 compensated');
    expect(callsOf('sk-1', 'deprovision')).toEqual(['error']);
    expect(callsOf('sk-1', 'release')).toEqual(['ok']);
  });

  it('--help of each explains what it does to the blocked saga', async () => {
    const wanted = {
      retry: 'attempts starting over',
      skip: 'you undid that step by hand',
      abandon: 'lists what was left undone',
    };
    for (const [verb, text] of Object.entries(wanted)) {
      const r = await runCli(['sagas', verb, '--help']);
      expect(r.code).toBe(0);
      const flat = r.stdout.replace(/\s+/g, ' ');
      expect(flat).toContain(`Usage: jetsaga sagas ${verb} [options] <id>`);
      expect(flat).toContain(text);
      expect(flat).toContain('Only a blocked saga takes it');
      expect(r.stdout).toContain(`$ jetsaga sagas ${verb} `);
    }
  });

  it('an unknown saga exits 4', async () => {
    for (const verb of ['retry', 'skip', 'abandon']) {
      const r = await cli(['sagas', verb, 'no-such-saga']);
      expect([verb, r.code]).toEqual([verb, 4]);
      expect(r.stderr).toContain('UNKNOWN_SAGA');
    }
  });
});

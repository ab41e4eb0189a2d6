/**
 * How the CLI shows a followed saga: plain lines when piped, a progress bar of the machine's
 * forward steps on a terminal, colour only on a terminal and never with NO_COLOR; and which
 * NATS a command talks to when none is given.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMachine } from '../../machines/build.machine.js';
import type { ProgressRecord } from '../../src/build/progress.js';
import { cliNatsUrl } from '../../src/cli/cli-nats.js';
import { colourEnabled } from '../../src/cli/colour.js';
import { liveCoordinatorRecord, removeCoordinatorRecord, writeCoordinatorRecord } from '../../src/cli/coordinator-record.js';
import { forwardSteps, stateNames } from '../../src/cli/progress-steps.js';
import { createProgressView } from '../../src/cli/progress-view.js';
import { loadConfig } from '../../src/config.js';

// eslint-disable-next-line no-control-regex
const ESC = /\u001b\[/;

function rec(p: Record<string, unknown>, seq: number): ProgressRecord {
  return { buildId: 'b1', at: seq, seq, ...p } as ProgressRecord;
}

const records: ProgressRecord[] = [
  rec({ kind: 'phase', phase: 'allocate.running', status: 'running', state: { allocate: 'running' } }, 1),
  rec({ kind: 'phase', phase: 'onbuild.running', status: 'running', state: { onbuild: 'running' } }, 2),
  rec({ kind: 'log', step: 'onbuild', stream: 'stdout', text: 'npm ci done' }, 3),
  rec({ kind: 'phase', phase: 'prepare.image.push.running, prepare.config.settings.running', status: 'running', state: { prepare: { image: { push: 'running' }, config: { settings: 'running' } } } }, 4),
  rec({ kind: 'error', step: 'push', code: 'REGISTRY_UNAVAILABLE', message: 'registry away' }, 5),
  rec({ kind: 'phase', phase: 'compensating.undo_allocate', status: 'compensating', state: { compensating: 'undo_allocate' } }, 6),
  rec({ kind: 'result', status: 'compensated', output: null }, 7),
];

/** A stream that says it is a terminal and keeps what is written to it. */
function fakeTty(): Writable & { isTTY: boolean; columns: number; text(): string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  }) as Writable & { isTTY: boolean; columns: number; text(): string; cursorTo: () => boolean; clearLine: () => boolean; moveCursor: () => boolean };
  w.isTTY = true;
  w.columns = 120;
  // cli-progress moves the cursor through these (tty.WriteStream's methods).
  w.cursorTo = () => true;
  w.clearLine = () => true;
  w.moveCursor = () => true;
  w.text = () => chunks.join('');
  return w;
}

describe('progress view', () => {
  it('prints plain lines, without escapes, when not on a terminal', () => {
    const lines: string[] = [];
    const view = createProgressView({ err: (l) => lines.push(l), steps: forwardSteps(buildMachine), stream: { isTTY: false } as NodeJS.WriteStream, env: {} });
    for (const r of records) view.record(r);
    view.note('coordinator lost; waiting');
    view.close();
    expect(lines).toEqual([
      '  allocate.running',
      '  onbuild.running',
      '    npm ci done',
      '  prepare.image.push.running, prepare.config.settings.running',
      '  push failed: registry away [REGISTRY_UNAVAILABLE]',
      '  compensating.undo_allocate',
      'coordinator lost; waiting',
    ]);
    expect(lines.some((l) => ESC.test(l))).toBe(false);
  });

  it('draws a bar of the steps entered on a terminal, with output above it', () => {
    const tty = fakeTty();
    const lines: string[] = [];
    const steps = forwardSteps(buildMachine);
    const view = createProgressView({ err: (l) => lines.push(l), steps, stream: tty as unknown as NodeJS.WriteStream, env: {} });
    for (const r of records.slice(0, 4)) view.record(r);
    view.close();
    const out = tty.text();
    // allocate, onbuild, prepare's image region (image) and push, settings: 5 known steps entered
    expect(out).toContain(`5/${steps.length}`);
    expect(out).toContain('npm ci done');
    expect(lines).toEqual([]);
    expect(ESC.test(out)).toBe(true);
  });

  it('never colours with NO_COLOR, even on a terminal', () => {
    expect(colourEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colourEnabled({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(colourEnabled({ isTTY: false }, {})).toBe(false);
    expect(colourEnabled({ isTTY: true }, {})).toBe(true);
    const lines: string[] = [];
    const view = createProgressView({ err: (l) => lines.push(l), stream: { isTTY: true } as NodeJS.WriteStream, env: { NO_COLOR: '1' } });
    for (const r of records) view.record(r);
    expect(lines.some((l) => ESC.test(l))).toBe(false);
  });

  it('reads the forward steps of the build machine in order, and the names in a state value', () => {
    expect(forwardSteps(buildMachine)).toEqual([
      'allocate', 'receive', 'lock', 'appConfig', 'stack', 'onbuild', 'image', 'push', 'addons', 'procfile', 'settings', 'configVersion', 'version', 'start', 'activate', 'stopOld', 'finalize',
    ]);
    expect(stateNames({ prepare: { image: 'push', config: 'done' } })).toEqual(['prepare', 'image', 'push', 'config', 'done']);
  });
});

describe('which NATS a command talks to', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'jetsaga-record-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('flag, then environment, then a live coordinator record, then the default port', async () => {
    const dataDir = join(dir, 'a');
    const config = (input: Record<string, string>, env: NodeJS.ProcessEnv = {}) => loadConfig({ dataDir, ...input }, env);
    expect(cliNatsUrl(config({}))).toBe('nats://127.0.0.1:4222');
    await writeCoordinatorRecord(dataDir, { natsUrl: 'nats://127.0.0.1:4999', namespace: 'jetsaga', owner: 'x', pid: process.pid, startedAt: 1 });
    expect(cliNatsUrl(config({}))).toBe('nats://127.0.0.1:4999');
    expect(cliNatsUrl(config({}, { JETSAGA_NATS_URL: 'nats://127.0.0.1:4111' }))).toBe('nats://127.0.0.1:4111');
    expect(cliNatsUrl(config({ nats: '127.0.0.1:4333' }))).toBe('nats://127.0.0.1:4333');
    // A port given explicitly means "that one", not the recorded coordinator's.
    expect(cliNatsUrl(config({ natsPort: '4555' }))).toBe('nats://127.0.0.1:4555');
    await removeCoordinatorRecord(dataDir);
    expect(liveCoordinatorRecord(dataDir)).toBeUndefined();
  });

  it('ignores a record left by a process that has ended, or that is not JSON', async () => {
    const dataDir = join(dir, 'b');
    // pid 2^22+1 is above Linux's pid_max: no such process.
    await writeCoordinatorRecord(dataDir, { natsUrl: 'nats://127.0.0.1:4999', namespace: 'jetsaga', owner: 'x', pid: 4_194_305, startedAt: 1 });
    expect(liveCoordinatorRecord(dataDir)).toBeUndefined();
    await removeCoordinatorRecord(dataDir, 4_194_305);
    await writeFile(join(dataDir, 'coordinator.json'), 'not json');
    expect(liveCoordinatorRecord(dataDir)).toBeUndefined();
    expect(cliNatsUrl(loadConfig({ dataDir }, {}))).toBe('nats://127.0.0.1:4222');
  });
});

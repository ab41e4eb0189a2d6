/**
 * Canned sagas for the visualizer's fake server: build sagas whose journals are written with
 * the real build machine (JournalBuilder) — one waiting for the registry, one blocked on a
 * failed undo, one completed, one forked — the waiting one's `addons` child saga (postgres-addon,
 * making the app's database), plus a compensated one exported as a bundle, and a boot picture
 * of two coordinators.
 */
import { buildMachine, BUILD_MACHINE_ID, BUILD_MACHINE_RESUMES_FROM, BUILD_MACHINE_VERSION } from '../../machines/build.machine.js';
import type { ChildSagaInput } from '../../machines/kit/child-step.js';
import { postgresAddonMachine, POSTGRES_ADDON_MACHINE_ID, POSTGRES_ADDON_MACHINE_VERSION } from '../../machines/postgres-addon.machine.js';
import { childSagaId } from '../../src/runtime/child-id.js';
import type { BootView } from '../../src/ui/api-types.js';
import { exportBundle, type SagaBundle } from '../../src/runtime/replay.js';
import type { SagaDefinition } from '../../src/runtime/types.js';
import { JournalBuilder } from './ui-journal-builder.js';

export const BUILD: SagaDefinition = { id: BUILD_MACHINE_ID, version: BUILD_MACHINE_VERSION, resumesFrom: BUILD_MACHINE_RESUMES_FROM, machine: buildMachine };
const ADDON: SagaDefinition = { id: POSTGRES_ADDON_MACHINE_ID, version: POSTGRES_ADDON_MACHINE_VERSION, machine: postgresAddonMachine };

export const RUNNING = 'build-hello-7';
export const BLOCKED = 'build-shop-3';
export const COMPLETED = 'build-hello-6';
export const FORKED = 'build-shop-3-f9';
export const BUNDLED = 'build-blog-2';
/** The build's step that runs the addon saga, and the state of the build chart that invokes it. */
export const ADDONS_STEP = 'addons';
export const ADDONS_STATE = 'build.prepare.config.addons.running';
/** RUNNING's addons child, as the runtime names it. */
export const RUNNING_ADDONS = childSagaId(RUNNING, ADDONS_STEP);

const refused = (message: string): { code: string; message: string; retryable: boolean } => ({ code: 'REFUSED', message, retryable: false });
const outputs = (step: string): unknown =>
  ({ allocate: 7, receive: { dir: '/var/lib/jetsaga/staging/hello-7' }, lock: { holder: 'hello-7' }, stack: 'node', image: { digest: 'sha256:5e1f…' } })[step] ?? { step };

export interface CannedSagas {
  readonly builders: readonly JournalBuilder[];
  readonly bundle: SagaBundle;
}

export function cannedSagas(now: number): CannedSagas {
  const minutes = (m: number): number => now - m * 60_000;

  // Waits for the registry in the image branch while the config branch reads the Procfile.
  const running = new JournalBuilder(BUILD, RUNNING, { app: 'hello', source: { name: 'src-hello-7' } }, { at: minutes(6), streamSeq: 100 });
  running.run((b) => b.awaiting() === 'registry', outputs);
  // Its addons step's child, making the app's database.
  const addonInput: ChildSagaInput = { $parent: { sagaId: RUNNING, step: ADDONS_STEP }, input: { app: 'hello', addons: [{ kind: 'postgres', name: 'db' }] } };
  const addons = new JournalBuilder(ADDON, RUNNING_ADDONS, addonInput, { at: minutes(6) + 3_000, streamSeq: 200 });
  addons.run((b) => b.pending().some((p) => p.id === 'databases'));

  // Procfile refused; compensation's first undo (the push) fails terminally: blocked.
  const blocked = new JournalBuilder(BUILD, BLOCKED, { app: 'shop', source: { name: 'src-shop-3' } }, { at: minutes(30), streamSeq: 10 });
  blocked.run((b) => b.awaiting() === 'registry', outputs).ready('registry').succeed('image', { digest: 'sha256:0ab3…' });
  // Build 3 provisions the app's addons (a child saga) before it reads the Procfile.
  blocked.succeed(ADDONS_STEP, outputs(ADDONS_STEP));
  blocked.ready('registry').fail('procfile', refused('Procfile has no web process'));
  blocked.fail('undo.push', refused('registry answered 403 to DELETE /v2/shop/manifests/sha256:0ab3…'));

  const completed = new JournalBuilder(BUILD, COMPLETED, { app: 'hello', source: { name: 'src-hello-6' } }, { at: minutes(90), streamSeq: 1 });
  completed.run(undefined, outputs);

  // Forked from the blocked build before its Procfile was read.
  const forkedAt = 9;
  const forked = new JournalBuilder(BUILD, FORKED, { app: 'shop', source: { name: 'src-shop-3' } }, { at: minutes(3), streamSeq: 300, forkedFrom: { sagaId: BLOCKED, entry: forkedAt, entries: forkedAt } });
  forked.run((b) => b.pending().some((p) => p.id === 'procfile'), outputs);

  // Exported from another installation: app config refused, undone cleanly.
  const bundled = new JournalBuilder(BUILD, BUNDLED, { app: 'blog', source: { name: 'src-blog-2' } }, { at: minutes(300), streamSeq: 40 });
  bundled.run((b) => b.pending().some((p) => p.id === 'appConfig'), outputs).fail('appConfig', refused('app.toml: [build] base must be an image reference'));
  bundled.run(undefined, () => null);
  const bundle = exportBundle({ id: BUNDLED, machine: BUILD.id, version: BUILD.version }, bundled.journal);

  return { builders: [running, addons, blocked, completed, forked], bundle };
}

/** Two coordinators: one whose registry is down (so work admission waits), one stopped. */
export function cannedBoot(now: number, waiting: BootView['waiting']): BootView {
  const since = now - 5 * 60_000;
  const dep = (name: string, layer: number, dependsOn: string[], state = 'ready', error: string | null = null) => ({ name, layer, dependsOn, state, ready: state === 'ready', since, error });
  return {
    coordinators: [
      {
        name: 'c1',
        running: true,
        dependencies: [
          dep('nats', 0, []),
          dep('staging', 0, []),
          dep('jetstream', 1, ['nats']),
          dep('names', 1, ['nats']),
          dep('registry', 2, ['names'], 'checking', 'GET http://127.0.0.1:5000/v2/: connect ECONNREFUSED 127.0.0.1:5000'),
          dep('builder', 2, ['staging']),
          dep('admission', 3, ['jetstream', 'registry', 'builder'], 'pending'),
          dep('recovery', 4, ['admission'], 'pending'),
        ],
      },
      { name: 'c2', running: false, dependencies: [dep('nats', 0, []), dep('jetstream', 1, ['nats'], 'lost', 'stream JETSAGA_EVENTS not found')] },
    ],
    waiting,
  };
}

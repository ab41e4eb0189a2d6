/**
 * The build-from-tar saga: an application's source tar becomes an OCI image in the registry
 * and a running new version. Every step is an invoked actor the host runs at-least-once with an
 * idempotency key, and every step that changes something has an undo that is safe to repeat and
 * safe when the step never applied; a failure (or a cancel) undoes what was started, latest
 * first, leaving the previously active version active and serving.
 *
 *   allocate → receive → lock → appConfig → stack → onbuild
 *     → prepare ⟨ image: build → push (waits for the registry)
 *                | config: addons (a child saga) → procfile → settings → configVersion ⟩
 *     → version → start (healthy) → activate → stopOld → finalize (optional)
 *
 * `addons` runs the postgres-addon saga as a child (machines/postgres-addon.machine.ts) for the
 * app's `[[addons]]`: it has its own journal and undos, and undoing the build compensates it.
 *
 * Pure: the step implementations are bound by name (src/build/build-steps.ts).
 */
import type { AnyStateMachine } from 'xstate';
import { defineSaga, type SagaStepConfig } from './kit/define-saga.js';
import type { SealedEnv } from '../src/secrets/secret-env.js';

/** What a build is started with. */
export interface BuildInput {
  /** The app (`[a-z0-9][a-z0-9-]{0,62}`). */
  readonly app: string;
  /** The source tar, stored in the source store under `name`. */
  readonly source: { readonly name: string; readonly digest?: string };
  /** Environment of the new version, on top of app.toml's `[env]`. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Secret env vars, sealed by the coordinator that received the deploy before it journaled this
   * input (src/secrets): the journal only ever holds their ciphertext.
   */
  readonly secretEnv?: SealedEnv;
  /** Layer compression: gzip level 1 (default) or none (faster, larger; for a local registry). */
  readonly compression?: 'gzip' | 'none';
  /** Wait while another deploy of the app holds its lock, instead of being refused. */
  readonly waitForLock?: boolean;
}

/** Steps' outputs by name, as the input mappers below read them. */
type Outputs = Readonly<Record<string, unknown>>;
const out = (outputs: Outputs, name: string): unknown => outputs[name] ?? null;
/**
 * What a step that reads the staged tree is given: the receive step's result and the source it
 * came from, so that a coordinator without that tree (a takeover from another host, a wiped
 * data dir) stages it again from the source store instead of trusting a journaled path.
 * Inputs are computed, not journaled, so adding to them replays every journal unchanged (no new
 * machine version); an in-flight input restored from an older checkpoint lacks `source`, and its
 * step can then use only a tree already on its host.
 */
const tree = (input: unknown, outputs: Outputs) => ({ staged: out(outputs, 'receive'), source: (input as BuildInput).source });
/** The image step's input; the push step gets it too, to build the image again where it is missing. */
const imageInput = ({ input, outputs }: { input: unknown; outputs: Outputs }) => ({
  app: (input as BuildInput).app,
  version: out(outputs, 'allocate'),
  ...tree(input, outputs),
  stack: out(outputs, 'stack'),
  config: out(outputs, 'appConfig'),
  compression: (input as BuildInput).compression ?? 'gzip',
});

export const BUILD_MACHINE_ID = 'build';
/**
 * 3: the `addons` child step in the config branch, whose result `settings` is given. A journal
 * of 2 would fold differently (its config branch begins with procfile), so 2 stays registered
 * beside 3 (BUILD_MACHINE_V2) to finish the builds started on it.
 */
export const BUILD_MACHINE_VERSION = 3;
/** Versions whose journals BUILD_MACHINE_VERSION replays identically (`SagaDefinition.resumesFrom`). */
export const BUILD_MACHINE_RESUMES_FROM: readonly number[] = [];
/**
 * 2: blocked builds take `saga.abandon` (final state `abandoned`). A build started on 1 never
 * journaled that event (unhandled events are not journaled), so 2 replays its journal exactly
 * as 1 did and resumes it; a coordinator still on 1 refuses a journal of 2, which it would fold
 * differently once it holds an abandon.
 */
export const BUILD_MACHINE_V2_VERSION = 2;
export const BUILD_MACHINE_V2_RESUMES_FROM: readonly number[] = [1];

/** The config branch's steps; 2 has no `addons`. */
function configSteps(withAddons: boolean): SagaStepConfig[] {
  return [
    ...(withAddons
      ? [
          {
            name: 'addons',
            child: 'postgres-addon',
            description: "provisions the app's [[addons]] (a PostgreSQL database each) in a child saga; reused when an earlier deploy made them",
            input: ({ input, outputs }: { input: unknown; outputs: Outputs }) => ({
              app: (input as BuildInput).app,
              addons: ((out(outputs, 'appConfig') as { addons?: unknown[] } | null)?.addons ?? []) as unknown[],
            }),
          },
        ]
      : []),
    {
      name: 'procfile',
      run: 'readProcfile',
      description: 'reads the Procfile and decides the web process',
      input: ({ input, outputs }) => ({ ...tree(input, outputs), config: out(outputs, 'appConfig'), stack: out(outputs, 'stack') }),
    },
    {
      name: 'settings',
      run: 'prepareConfig',
      description: 'checks required env vars and services, and merges the environment',
      // `secretEnv` only when given: a build without secrets maps exactly as before.
      input: ({ input, outputs }) => {
        const { app, env, secretEnv } = input as BuildInput;
        return {
          app,
          config: out(outputs, 'appConfig'),
          env: env ?? {},
          ...(secretEnv ? { secretEnv } : {}),
          ...(withAddons ? { addons: out(outputs, 'addons') } : {}),
        };
      },
    },
    {
      name: 'configVersion',
      run: 'createConfigVersion',
      undo: 'deleteConfigVersion',
      description: 'records the configuration of the new version',
      input: ({ input, outputs }) => ({ app: (input as BuildInput).app, version: out(outputs, 'allocate'), settings: out(outputs, 'settings') }),
    },
  ];
}

function buildSaga(withAddons: boolean): AnyStateMachine {
  return defineSaga({
  id: BUILD_MACHINE_ID,
  description: 'builds an app from its source tar into an OCI image in the registry and runs it as the new active version',
  retry: { maxAttempts: 5, initialDelayMs: 500, maxDelayMs: 30_000 },
  undoRetry: { maxAttempts: 8, initialDelayMs: 500, maxDelayMs: 60_000 },
  steps: [
    {
      name: 'allocate',
      run: 'allocateVersion',
      undo: 'abandonVersion',
      description: 'allocates the next version number of the app (increasing, never reused)',
      input: ({ input }) => ({ app: (input as BuildInput).app }),
    },
    {
      name: 'receive',
      run: 'receiveSource',
      undo: 'removeStaging',
      description: 'extracts the source tar from the source store into a staging dir, strictly',
      input: ({ input }) => ({ source: (input as BuildInput).source }),
    },
    {
      name: 'lock',
      run: 'takeDeployLock',
      undo: 'releaseDeployLock',
      description: "takes the app's deployment lock (refused while another deploy of the app runs)",
      input: ({ input }) => ({ app: (input as BuildInput).app, waitForLock: (input as BuildInput).waitForLock ?? false }),
    },
    {
      name: 'appConfig',
      run: 'loadAppConfig',
      description: 'reads and checks app.toml',
      input: ({ input, outputs }) => ({ app: (input as BuildInput).app, ...tree(input, outputs) }),
    },
    {
      name: 'stack',
      run: 'detectStack',
      description: 'detects the stack (node, python, go, ruby, static); app.toml may name it',
      input: ({ input, outputs }) => ({ ...tree(input, outputs), config: out(outputs, 'appConfig') }),
    },
    {
      name: 'onbuild',
      run: 'runOnbuild',
      description: 'runs [build] onbuild commands in the staged dir, streaming their output',
      input: ({ input, outputs }) => ({ app: (input as BuildInput).app, ...tree(input, outputs), config: out(outputs, 'appConfig'), stack: out(outputs, 'stack') }),
    },
    {
      name: 'prepare',
      description: 'the image and the configuration are prepared side by side',
      parallel: {
        image: [
          {
            name: 'image',
            run: 'buildImage',
            undo: 'discardImage',
            // It reads the base image (app.toml [build] base) from the registry.
            needs: ['registry'],
            description: 'builds a reproducible OCI image of the staged tree, in a worker thread',
            input: imageInput,
          },
          {
            name: 'push',
            run: 'pushImage',
            undo: 'unpushImage',
            needs: ['registry'],
            description: 'pushes the image to the registry once it is ready (building it again where this host lacks it)',
            input: (data) => ({ ...imageInput(data), image: out(data.outputs, 'image') }),
          },
        ],
        config: configSteps(withAddons),
      },
    },
    {
      name: 'version',
      run: 'createVersion',
      undo: 'retireVersion',
      description: 'records the new version: image, configuration, processes',
      input: ({ input, outputs }) => ({
        app: (input as BuildInput).app,
        version: out(outputs, 'allocate'),
        image: out(outputs, 'push'),
        configVersion: out(outputs, 'configVersion'),
        processes: out(outputs, 'procfile'),
      }),
    },
    {
      name: 'start',
      run: 'startSandbox',
      undo: 'stopSandbox',
      needs: ['registry'],
      description: 'pulls the image by digest and starts the web process; healthy before it counts',
      input: ({ input, outputs }) => ({
        app: (input as BuildInput).app,
        version: out(outputs, 'allocate'),
        image: out(outputs, 'push'),
        processes: out(outputs, 'procfile'),
        settings: out(outputs, 'settings'),
        config: out(outputs, 'appConfig'),
      }),
    },
    {
      name: 'activate',
      run: 'setActiveVersion',
      undo: 'restoreActiveVersion',
      description: 'makes the new version the active one (the undo restores the previous one)',
      input: ({ input, outputs }) => ({ app: (input as BuildInput).app, version: out(outputs, 'allocate') }),
    },
    {
      name: 'stopOld',
      run: 'stopOldSandboxes',
      undo: 'restartOldSandboxes',
      description: "stops the previous versions' sandboxes",
      input: ({ input, outputs }) => ({ app: (input as BuildInput).app, version: out(outputs, 'allocate'), keep: out(outputs, 'start') }),
    },
    {
      name: 'finalize',
      run: 'finalizeBuild',
      optional: true,
      retry: { maxAttempts: 10 },
      description: 'releases the deployment lock and cleans the staging dir (a failure here never undoes the deploy)',
      input: ({ input }) => ({ app: (input as BuildInput).app }),
    },
  ],
  });
}

/** The build saga, version 3 (BUILD_MACHINE_VERSION): what new builds start on. */
export const buildMachine: AnyStateMachine = buildSaga(true);
/** Version 2, without addons: it finishes (and replays) the builds started on 1 and 2. */
export const buildMachineV2: AnyStateMachine = buildSaga(false);

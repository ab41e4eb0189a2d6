/**
 * The rollback saga: an app goes back to one of its earlier versions — the same version number,
 * image, configuration and processes it was built with; nothing is rebuilt and no new version is
 * allocated. It takes the same deployment lock builds take, so it never runs beside a deploy of
 * the app, and checks its target under that lock (the active version cannot change meanwhile).
 *
 *   lock → check (exists, built, not the active one) → start (healthy) → activate → stopOld → finalize
 *
 * Every step that changes something has an undo, so a failure (the old version no longer
 * starts, say) leaves the version that was active active and serving, and the lock released.
 * The steps are the build saga's own implementations where they fit (lock, start, activate,
 * stopOld); `check`, the activation's undo and `finalize` are the rollback's
 * (src/build/rollback-steps.ts).
 */
import type { AnyStateMachine } from 'xstate';
import { defineSaga } from './kit/define-saga.js';

/** What a rollback is started with. */
export interface RollbackInput {
  /** The app (`[a-z0-9][a-z0-9-]{0,62}`). */
  readonly app: string;
  /** The version number to make active again. */
  readonly to: number;
  /** Wait while a deploy of the app holds its lock, instead of being refused. */
  readonly waitForLock?: boolean;
}

/** Steps' outputs by name, as the input mappers below read them. */
type Outputs = Readonly<Record<string, unknown>>;
const out = (outputs: Outputs, name: string): unknown => outputs[name] ?? null;
/** A field of the check step's output (null until it reported). */
const checked = (outputs: Outputs, field: string): unknown => {
  const c = outputs.check;
  return typeof c === 'object' && c !== null ? ((c as Record<string, unknown>)[field] ?? null) : null;
};

export const ROLLBACK_MACHINE_ID = 'rollback';
export const ROLLBACK_MACHINE_VERSION = 1;

export const rollbackMachine: AnyStateMachine = defineSaga({
  id: ROLLBACK_MACHINE_ID,
  description: 'makes an earlier version of an app the active one again: started, healthy, activated, the replaced version stopped',
  retry: { maxAttempts: 5, initialDelayMs: 500, maxDelayMs: 30_000 },
  undoRetry: { maxAttempts: 8, initialDelayMs: 500, maxDelayMs: 60_000 },
  steps: [
    {
      name: 'lock',
      run: 'takeDeployLock',
      undo: 'releaseDeployLock',
      description: "takes the app's deployment lock (refused while a deploy or another rollback of the app runs)",
      input: ({ input }) => ({ app: (input as RollbackInput).app, waitForLock: (input as RollbackInput).waitForLock ?? false }),
    },
    {
      name: 'check',
      run: 'checkRollbackTarget',
      description: 'checks the target version exists, was built (has an image) and is not the active one; reads how it runs',
      input: ({ input }) => ({ app: (input as RollbackInput).app, to: (input as RollbackInput).to }),
    },
    {
      name: 'start',
      run: 'startSandbox',
      undo: 'stopSandbox',
      needs: ['registry'],
      description: 'starts the target version (pulling its image by digest if its files are gone); healthy before it counts',
      input: ({ input, outputs }) => ({
        app: (input as RollbackInput).app,
        version: (input as RollbackInput).to,
        image: checked(outputs, 'image'),
        processes: checked(outputs, 'processes'),
        settings: checked(outputs, 'settings'),
      }),
    },
    {
      name: 'activate',
      run: 'setActiveVersion',
      undo: 'restoreRolledBackVersion',
      description: 'makes the target the active version (the undo restores the one it replaced)',
      input: ({ input, outputs }) => ({
        app: (input as RollbackInput).app,
        version: (input as RollbackInput).to,
        // What the target was before, so that the undo can put that status back too.
        targetStatus: checked(outputs, 'status'),
      }),
    },
    {
      name: 'stopOld',
      run: 'stopOldSandboxes',
      undo: 'restartOldSandboxes',
      description: "stops the replaced version's sandbox",
      input: ({ input, outputs }) => ({ app: (input as RollbackInput).app, version: (input as RollbackInput).to, keep: out(outputs, 'start') }),
    },
    {
      name: 'finalize',
      run: 'finalizeRollback',
      optional: true,
      retry: { maxAttempts: 10 },
      description: 'releases the deployment lock (a failure here never undoes the rollback)',
      input: ({ input }) => ({ app: (input as RollbackInput).app }),
    },
  ],
});

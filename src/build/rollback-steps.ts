/**
 * The rollback saga's own step implementations (machines/rollback.machine.ts). Its other steps
 * are the build saga's (lock, start, activate, stopOld: src/build/build-steps.ts): a rollback
 * starts, activates and stops versions exactly as a deploy does. Like those, each step here is
 * idempotent under the saga's id and each undo is safe to repeat and safe when its step never
 * applied.
 */
import { APP_CONFIG_DEFAULTS } from './app/app-config-schema.js';
import { TerminalError } from '../errors.js';
import { ACTIVATABLE } from '../entities/version-status.js';
import { VersionStatus, type ImageRef, type Processes, type VersionRecord } from '../entities/records.js';
import { defineSteps, type UndoInput } from '../runtime/define-steps.js';
import { say } from './step-support.js';
import type { BuildHost } from './build-host.js';
import { openEnv, type SealedEnv } from '../secrets/index.js';

/** How a version runs beyond its records: a pinned port and the health path (from app.toml). */
export interface RunSettings {
  readonly port: number | null;
  readonly health: string;
}

/**
 * The run settings the build of a version journaled (its `settings` step output), or null when
 * that build saga can no longer be read (purged by retention, or another namespace's).
 */
export type BuildSettingsLookup = (buildSagaId: string) => Promise<RunSettings | null>;

/** What the check step answers: everything the start step needs, from the records. */
export interface RollbackTarget {
  readonly version: number;
  /** The target's status before the rollback (`retired` or `ready`). */
  readonly status: VersionStatus;
  /** The version active when the rollback checked (null: none). */
  readonly previous: number | null;
  readonly image: ImageRef;
  /** As the build's procfile step outputs them, so the build's start step reads them alike. */
  readonly processes: { readonly processes: Processes };
  /** As the build's settings step outputs them (the parts the start step reads). */
  readonly settings: RunSettings & { readonly env: Readonly<Record<string, string>>; readonly secrets?: SealedEnv };
  /** Where `port` and `health` came from. */
  readonly settingsFrom: 'sandbox spec' | 'build journal' | 'defaults';
}

interface TargetIn {
  readonly app: string;
  readonly to: number;
}

/** Rollback errors a user must act on: terminal, with stable codes. */
export const RollbackErrorCode = {
  UnknownApp: 'UNKNOWN_APP',
  UnknownVersion: 'UNKNOWN_VERSION',
  AlreadyActive: 'ALREADY_ACTIVE',
  NotRunnable: 'VERSION_NOT_RUNNABLE',
} as const;

function notRunnable(app: string, v: VersionRecord, why: string): TerminalError {
  return new TerminalError(`version ${v.version} of app "${app}" cannot be rolled back to: ${why}`, {
    code: RollbackErrorCode.NotRunnable,
    status: 409,
    details: { app, version: v.version, status: v.status },
  });
}

/** The rollback saga's own steps; `lookupBuildSettings` reads a build saga's journaled settings. */
export function rollbackSteps(host: () => BuildHost, lookupBuildSettings: BuildSettingsLookup) {
  const h = (): BuildHost => {
    const x = host();
    x.assertOpen();
    return x;
  };

  /**
   * Port and health are not in the version's records (app.toml decided them at build time): the
   * spec kept beside the version's sandbox dir on this host says exactly what it ran with; else
   * the build saga's journal; else app.toml's defaults (no pinned port, health `/`).
   */
  async function settingsOf(x: BuildHost, app: string, v: VersionRecord): Promise<{ settings: RunSettings; from: RollbackTarget['settingsFrom'] }> {
    const spec = await x.runner.recordedRun(app, v.version);
    if (spec && spec.image.digest === v.image?.digest) return { settings: { port: spec.port, health: spec.health }, from: 'sandbox spec' };
    const journaled = await lookupBuildSettings(v.sagaId);
    if (journaled) return { settings: journaled, from: 'build journal' };
    return { settings: { port: null, health: APP_CONFIG_DEFAULTS.health }, from: 'defaults' };
  }

  return defineSteps({
    /** Under the deployment lock: the target exists, was built, is not active; how it runs. */
    checkRollbackTarget: async ({ app, to }: TargetIn, ctx): Promise<RollbackTarget> => {
      const x = h();
      const record = await x.entities.apps.get(app);
      if (!record) throw new TerminalError(`unknown app "${app}"`, { code: RollbackErrorCode.UnknownApp, status: 404, details: { app } });
      const v = await x.entities.versions.get(app, to);
      if (!v) {
        throw new TerminalError(`app "${app}" has no version ${to}`, { code: RollbackErrorCode.UnknownVersion, status: 404, details: { app, version: to } });
      }
      // The app record, not the version's status, is the truth about what is live.
      if (record.activeVersion === to) {
        throw new TerminalError(`version ${to} of app "${app}" is already the active one; nothing to roll back`, {
          code: RollbackErrorCode.AlreadyActive,
          status: 409,
          details: { app, version: to },
        });
      }
      if (!ACTIVATABLE.includes(v.status) || v.image === null || v.processes === null || v.configVersion === null) {
        throw notRunnable(app, v, `it is ${v.status}${v.image === null ? ' and has no image' : ''} (only a version whose build completed can be made active)`);
      }
      const config = await x.entities.configs.get(app, v.configVersion);
      if (!config) throw notRunnable(app, v, `its config version ${v.configVersion} is gone`);
      // A target whose secrets this coordinator cannot open is refused before anything stops.
      if (config.secrets) openEnv(x.secrets, app, config.secrets);
      const { settings, from } = await settingsOf(x, app, v);
      say(x, ctx, 'check', `v${to} (${v.status}, image ${v.image.digest}) replaces v${record.activeVersion ?? '-'}; port and health from the ${from}`);
      return {
        version: to,
        status: v.status,
        previous: record.activeVersion,
        image: { repo: v.image.repo, digest: v.image.digest },
        processes: { processes: v.processes },
        settings: { env: { ...config.env }, ...(config.secrets ? { secrets: config.secrets } : {}), ...settings },
        settingsFrom: from,
      };
    },

    /**
     * Undo of the activation: the build's `restoreActive` puts back what this saga replaced (only
     * while its activation is current) and marks the target `ready`; a target that had been
     * live before (`retired`) gets that status back, so its history stays true.
     */
    restoreRolledBackVersion: async (
      { input, output }: UndoInput<TargetIn & { version: number; targetStatus: VersionStatus | null }, { previous: number | null }>,
      ctx,
    ) => {
      const x = h();
      const restored = await x.entities.apps.restoreActive(input.app, ctx.sagaId, output?.previous);
      if (input.targetStatus === VersionStatus.Retired && restored.active !== input.version) {
        await x.entities.versions.markIf(input.app, input.version, [VersionStatus.Ready], VersionStatus.Retired);
      }
      return null;
    },

    finalizeRollback: async ({ app }: { app: string }, ctx) => ({ lockReleased: await h().entities.locks.release(app, ctx.sagaId) }),
  });
}

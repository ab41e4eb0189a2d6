/**
 * Apps and which version of each is live. The active version is one field of the app's record,
 * changed by compare-and-set, and the record remembers which saga set it and what was active
 * before: an undo can then put back exactly what its saga replaced, and only while its
 * activation is still the current one — a newer activation by another saga is never undone.
 *
 * Version statuses follow (`active`, `retired`, back to `ready` on an undo). They are written
 * after the app record, so a crash in between leaves them behind until the step runs again;
 * the app record is the truth about what is live.
 */
import { EntityConflictError, EntityNotFoundError } from './entity-errors.js';
import { EntityKeys } from './entity-keys.js';
import { keep, write, type Parse } from './entity-kv.js';
import { appParser, ensureApp, newApp } from './app-ensure.js';
import { assertAppName, assertSagaId, assertVersionNumber } from './names.js';
import { VersionStatus, type AppRecord } from './records.js';
import type { StoreContext } from './store-context.js';
import { ACTIVATABLE } from './version-status.js';
import type { VersionStore } from './versions.js';

/** What `setActive` answers: the version that was active before (null: none). */
export interface SetActiveResult {
  readonly previous: number | null;
}

/** What `restoreActive` answers. */
export interface RestoreActiveResult {
  /** True when this saga's activation was undone (now or by an earlier call). */
  readonly restored: boolean;
  /** The app's active version after the call. */
  readonly active: number | null;
}

/** Apps and their active version (`app.<name>`). Get it from `createEntityStores`. */
export class AppStore {
  readonly #ctx: StoreContext;
  readonly #versions: VersionStore;
  readonly #parse: Parse<AppRecord>;

  constructor(ctx: StoreContext, versions: VersionStore) {
    this.#ctx = ctx;
    this.#versions = versions;
    this.#parse = appParser(ctx);
  }

  /** The app's record, created (with nothing active) if absent. Idempotent. */
  async ensure(name: string): Promise<AppRecord> {
    assertAppName(name);
    return ensureApp(this.#ctx, name);
  }

  async get(name: string): Promise<AppRecord | null> {
    assertAppName(name);
    return (await this.#ctx.kv.read(EntityKeys.app(name), this.#parse))?.value ?? null;
  }

  /** Every app, by name. */
  async list(): Promise<AppRecord[]> {
    // Keys are `app.<name>` with nothing after the name, so key order is name order.
    return (await this.#ctx.kv.list(EntityKeys.apps, this.#parse)).map((r) => r.value);
  }

  /**
   * Makes `version` the app's active version for `sagaId` and answers what was active before.
   * Idempotent for the saga: repeating it answers the same `previous`. The version must be
   * built (`ready`, or `active`/`retired` for a rollback); ENTITY_NOT_FOUND / ENTITY_CONFLICT
   * otherwise. Marks the version `active` and the one it replaced `retired`.
   */
  async setActive(app: string, version: number, sagaId: string): Promise<SetActiveResult> {
    assertAppName(app);
    assertVersionNumber(version);
    assertSagaId(sagaId);
    const v = await this.#versions.get(app, version);
    if (!v) throw new EntityNotFoundError(`version ${version} of app "${app}" does not exist`, { app, version });
    const previous = await this.#ctx.kv.change(EntityKeys.app(app), this.#parse, (cur) => {
      const now = this.#ctx.now();
      const a = cur?.value ?? newApp(app, now);
      if (a.activatedBy === sagaId) {
        // This saga's own activation: a repeat. What it replaced stays what it replaced.
        if (a.activeVersion === version) return keep(a.previousActive);
        return write<AppRecord, number | null>({ ...a, activeVersion: version, activeSince: now, updatedAt: now }, a.previousActive);
      }
      if (!ACTIVATABLE.includes(v.status)) {
        throw new EntityConflictError(`version ${version} of app "${app}" is ${v.status}; only a built version can be made active`, {
          app,
          version,
          status: v.status,
        });
      }
      const next: AppRecord = {
        ...a,
        activeVersion: version,
        activeSince: now,
        previousActive: a.activeVersion,
        activatedBy: sagaId,
        restoredBy: null,
        updatedAt: now,
      };
      return write(next, a.activeVersion);
    });
    await this.#versions.markIf(app, version, [VersionStatus.Ready, VersionStatus.Retired], VersionStatus.Active);
    if (previous !== null && previous !== version) {
      await this.#versions.markIf(app, previous, [VersionStatus.Active], VersionStatus.Retired);
    }
    this.#ctx.logger.info({ app, version, previous, sagaId }, 'active version set');
    return { previous };
  }

  /**
   * Undo of `setActive`: puts back what was active before `sagaId` set it — only while that
   * activation is still the current one (another saga's newer activation is left alone), and
   * a no-op when the saga never activated anything. Safe to repeat. The record's own memory of
   * what was replaced is used, since an undo may run without its step's output; `previous`,
   * when given, is only checked against it.
   */
  async restoreActive(app: string, sagaId: string, previous?: number | null): Promise<RestoreActiveResult> {
    assertAppName(app);
    assertSagaId(sagaId);
    if (previous !== undefined && previous !== null) assertVersionNumber(previous, 'previous');
    const outcome = await this.#ctx.kv.change(EntityKeys.app(app), this.#parse, (cur) => {
      if (!cur) return keep({ restored: false, active: null, undone: null });
      const a = cur.value;
      if (a.restoredBy === sagaId) return keep({ restored: true, active: a.activeVersion, undone: a.previousActive });
      if (a.activatedBy !== sagaId) return keep({ restored: false, active: a.activeVersion, undone: null });
      if (previous !== undefined && previous !== a.previousActive) {
        this.#ctx.logger.warn({ app, sagaId, given: previous, stored: a.previousActive }, 'restoreActive: the given previous version differs from the stored one; restoring the stored one');
      }
      const now = this.#ctx.now();
      const next: AppRecord = {
        ...a,
        activeVersion: a.previousActive,
        activeSince: a.previousActive === null ? null : now,
        previousActive: a.activeVersion,
        activatedBy: null,
        restoredBy: sagaId,
        updatedAt: now,
      };
      return write(next, { restored: true, active: a.previousActive, undone: a.activeVersion });
    });
    if (outcome.restored) {
      const { active, undone } = outcome;
      if (undone !== null && undone !== active) await this.#versions.markIf(app, undone, [VersionStatus.Active], VersionStatus.Ready);
      if (active !== null) await this.#versions.markIf(app, active, [VersionStatus.Retired, VersionStatus.Ready], VersionStatus.Active);
      this.#ctx.logger.info({ app, active, undone, sagaId }, 'active version restored');
    }
    return { restored: outcome.restored, active: outcome.active };
  }
}

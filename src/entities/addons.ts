/**
 * Addons of apps (`addon.<app>.<name>`): which saga made each one, and whether it is ready.
 * The record is written before the provider makes anything (persist, then act), holding the
 * app's sealed connection URL, so a retried or recovered step finds the password it must set
 * rather than inventing another. A later deploy of the app finds the addon `ready` and reuses
 * it; only the saga that made it may remove it, so that deploy's undo leaves it in place.
 */
import { AddonErrorCode } from '../addons/addon-errors.js';
import { assertAddonName } from '../addons/addon-names.js';
import { SagaError } from '../errors.js';
import { EntityConflictError, EntityNotFoundError } from './entity-errors.js';
import { EntityKeys } from './entity-keys.js';
import { asJson, keep, parserOf, remove, write, type Parse } from './entity-kv.js';
import { assertAppName, assertSagaId } from './names.js';
import { AddonSchema, AddonState, type AddonRecord } from './records.js';
import type { StoreContext } from './store-context.js';

/** What a claim records for a new addon. */
export type NewAddon = Pick<AddonRecord, 'app' | 'name' | 'kind' | 'role' | 'database' | 'host' | 'port' | 'env' | 'url'> & { readonly sagaId: string };

/** What `claim` found: made now, made earlier by the same saga (a repeat), or another saga's ready one. */
export type ClaimOutcome = 'created' | 'own' | 'reused';

export interface ClaimResult {
  readonly record: AddonRecord;
  readonly outcome: ClaimOutcome;
}

/** Addon records. Get it from `createEntityStores`. */
export class AddonStore {
  readonly #ctx: StoreContext;
  readonly #parse: Parse<AddonRecord>;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
    this.#parse = parserOf(AddonSchema, 'addon', () => ctx.kv.bucket);
  }

  /**
   * Records the addon for `sagaId` unless it exists. Idempotent for the saga (a repeat answers
   * `own` and the stored record, URL included); a `ready` one made by another saga is `reused`.
   * @throws ADDON_BUSY (retryable) while another saga is still provisioning it
   * @throws ENTITY_CONFLICT when it exists as another kind
   */
  async claim(input: NewAddon): Promise<ClaimResult> {
    const { app, name, sagaId } = input;
    assertAppName(app);
    assertAddonName(name);
    assertSagaId(sagaId);
    return this.#ctx.kv.change<AddonRecord, ClaimResult>(EntityKeys.addon(app, name), this.#parse, (cur) => {
      if (cur) {
        const a = cur.value;
        if (a.kind !== input.kind) throw new EntityConflictError(`addon "${name}" of app "${app}" exists as a ${a.kind} addon, not ${input.kind}`, { app, name, kind: a.kind });
        if (a.createdBy === sagaId) return keep({ record: a, outcome: 'own' });
        if (a.state === AddonState.Ready) return keep({ record: a, outcome: 'reused' });
        throw new SagaError(AddonErrorCode.Busy, `addon "${name}" of app "${app}" is being provisioned by saga "${a.createdBy}"`, {
          status: 409,
          retryable: true,
          details: { app, name, createdBy: a.createdBy },
        });
      }
      const now = this.#ctx.now();
      const { sagaId: _saga, ...fields } = input;
      const rec: AddonRecord = { ...fields, state: AddonState.Provisioning, createdBy: sagaId, createdAt: now, readyAt: null, updatedAt: now };
      return write(rec, { record: rec, outcome: 'created' });
    });
  }

  /** Marks the saga's addon ready (a repeat changes nothing). ENTITY_NOT_FOUND / ENTITY_CONFLICT when it is not the saga's. */
  async markReady(app: string, name: string, sagaId: string): Promise<AddonRecord> {
    assertAppName(app);
    assertAddonName(name);
    assertSagaId(sagaId);
    return this.#ctx.kv.change(EntityKeys.addon(app, name), this.#parse, (cur) => {
      if (!cur) throw new EntityNotFoundError(`addon "${name}" of app "${app}" does not exist`, { app, name });
      if (cur.value.createdBy !== sagaId) {
        throw new EntityConflictError(`addon "${name}" of app "${app}" was made by saga "${cur.value.createdBy}"`, { app, name, createdBy: cur.value.createdBy });
      }
      if (cur.value.state === AddonState.Ready) return keep(cur.value);
      const now = this.#ctx.now();
      const rec: AddonRecord = { ...cur.value, state: AddonState.Ready, readyAt: now, updatedAt: now };
      return write(rec, rec);
    });
  }

  /**
   * Removes the record if `sagaId` made it; answers whether it did (false: absent, or another
   * saga's — which is left in place). Idempotent.
   */
  async release(app: string, name: string, sagaId: string): Promise<boolean> {
    assertAppName(app);
    assertAddonName(name);
    assertSagaId(sagaId);
    // Read raw: a record that no longer parses but names this saga can still be removed.
    return this.#ctx.kv.change(EntityKeys.addon(app, name), asJson, (cur) => {
      const createdBy = (cur?.value as { createdBy?: unknown } | undefined)?.createdBy;
      return cur && createdBy === sagaId ? remove(true) : keep(false);
    });
  }

  async get(app: string, name: string): Promise<AddonRecord | null> {
    assertAppName(app);
    assertAddonName(name);
    return (await this.#ctx.kv.read(EntityKeys.addon(app, name), this.#parse))?.value ?? null;
  }

  /** The addons of `app`, or of every app; by app, then name. */
  async list(app?: string): Promise<AddonRecord[]> {
    if (app !== undefined) assertAppName(app);
    // Keys are `addon.<app>.<name>`: key order is app, then name.
    return (await this.#ctx.kv.list(EntityKeys.addons(app), this.#parse)).map((r) => r.value);
  }
}

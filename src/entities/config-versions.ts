/**
 * Config versions: the environment a build runs with, one record per build, immutable once
 * written. Its number is the build's version number (a build allocates one number and uses it
 * for both), so no second counter is needed. A build rolled back before its version went live
 * discards its config version (its env may hold secrets); a live version's stays.
 */
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.js';
import { canonicalJson } from '../util/canonical-json.js';
import { EntityConflictError } from './entity-errors.js';
import { EntityKeys } from './entity-keys.js';
import { asJson, keep, parserOf, remove, write, type Parse } from './entity-kv.js';
import { assertAppName, assertSagaId, assertVersionNumber } from './names.js';
import type { SealedEnv } from '../secrets/index.js';
import { ConfigVersionSchema, EnvSchema, SealedEnvSchema, VersionSchema, VersionStatus, type ConfigVersionRecord, type VersionRecord } from './records.js';
import type { StoreContext } from './store-context.js';

/** What `create` takes; `createdAt` defaults to the store's clock. */
export interface NewConfigVersion {
  readonly app: string;
  readonly version: number;
  readonly env: Readonly<Record<string, string>>;
  /** Secret env vars, sealed (src/secrets); kept sealed in the record. */
  readonly secrets?: SealedEnv;
  readonly sagaId: string;
  readonly createdAt?: number;
}

/** Config versions (`cfg.<app>.<n>`). Get it from `createEntityStores`. */
export class ConfigVersionStore {
  readonly #ctx: StoreContext;
  readonly #parse: Parse<ConfigVersionRecord>;
  readonly #parseVersion: Parse<VersionRecord>;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
    this.#parse = parserOf(ConfigVersionSchema, 'config version', () => ctx.kv.bucket);
    this.#parseVersion = parserOf(VersionSchema, 'version', () => ctx.kv.bucket);
  }

  /**
   * Writes config version `version` of `app` once. Idempotent for its saga: the same saga with
   * the same env gets the stored record back (with its first `createdAt`); another saga, or
   * another env, is ENTITY_CONFLICT — config versions never change.
   */
  async create(input: NewConfigVersion): Promise<ConfigVersionRecord> {
    const { app, version, sagaId } = input;
    assertAppName(app);
    assertVersionNumber(version);
    assertSagaId(sagaId);
    const env = EnvSchema.safeParse(input.env);
    if (!env.success) throw new InvalidArgumentError(`invalid env for ${app} config ${version}: ${z.prettifyError(env.error)}`, { app, version });
    const secrets = input.secrets === undefined ? undefined : SealedEnvSchema.safeParse(input.secrets);
    if (secrets && !secrets.success) throw new InvalidArgumentError(`invalid secrets for ${app} config ${version}: ${z.prettifyError(secrets.error)}`, { app, version });
    const createdAt = input.createdAt ?? this.#ctx.now();
    const rec: ConfigVersionRecord = { app, version, env: env.data, ...(secrets ? { secrets: secrets.data } : {}), sagaId, createdAt };
    return this.#ctx.kv.change(EntityKeys.config(app, version), this.#parse, (cur) => {
      if (!cur) return write(rec, rec);
      const was = cur.value;
      if (was.sagaId !== sagaId) {
        throw new EntityConflictError(`config version ${version} of app "${app}" was created by saga "${was.sagaId}", not "${sagaId}"`, {
          app,
          version,
          sagaId: was.sagaId,
        });
      }
      if (canonicalJson([was.env, was.secrets ?? null]) !== canonicalJson([rec.env, rec.secrets ?? null])) {
        throw new EntityConflictError(`config version ${version} of app "${app}" exists with another env; config versions are immutable`, {
          app,
          version,
          sagaId,
        });
      }
      return keep(was);
    });
  }

  /**
   * Undo of `create`: removes config version `version` if `sagaId` created it, unless the
   * version of the same number went live (`active` or `retired`: its config is its history,
   * and a rollback to it needs it). Answers whether it removed it. Safe to repeat, a no-op when
   * the config version does not exist or is another saga's.
   */
  async discard(app: string, version: number, sagaId: string): Promise<boolean> {
    assertAppName(app);
    assertVersionNumber(version);
    assertSagaId(sagaId);
    const v = await this.#ctx.kv.read(EntityKeys.version(app, version), this.#parseVersion);
    const live: readonly string[] = [VersionStatus.Active, VersionStatus.Retired];
    if (v && v.value.configVersion === version && live.includes(v.value.status)) return false;
    // Read raw: a record that no longer parses is still this store's to remove, if it is ours.
    return this.#ctx.kv.change(EntityKeys.config(app, version), asJson, (cur) => {
      const owner = (cur?.value as { sagaId?: unknown } | undefined)?.sagaId;
      return cur && owner === sagaId ? remove(true) : keep(false);
    });
  }

  async get(app: string, version: number): Promise<ConfigVersionRecord | null> {
    assertAppName(app);
    assertVersionNumber(version);
    return (await this.#ctx.kv.read(EntityKeys.config(app, version), this.#parse))?.value ?? null;
  }

  /** Every config version of `app`, oldest first. */
  async list(app: string): Promise<ConfigVersionRecord[]> {
    assertAppName(app);
    const all = await this.#ctx.kv.list(EntityKeys.configs(app), this.#parse);
    return all.map((r) => r.value).sort((a, b) => a.version - b.version);
  }
}

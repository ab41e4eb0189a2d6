/**
 * Versions of an app: numbers allocated from a per-app counter by compare-and-set, then the
 * record of what was built. Three keys per version, each written at most once by its saga:
 *
 * - `seq.<app>` — the counter: the last number given out, and the last few claims (saga → n),
 *   so that a saga that crashed between claiming a number and writing it down gets the same
 *   number when it asks again;
 * - `alloc.<app>.<saga>` — which number that saga got, for good (found in one read);
 * - `ver.<app>.<n>` — the version: `building` from allocation, `ready` once `createVersion`
 *   recorded its image, config and processes, then `active` / `retired`, or `failed` /
 *   `abandoned`.
 *
 * Numbers are never reused: an abandoned allocation keeps its number.
 */
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.js';
import { canonicalJson } from '../util/canonical-json.js';
import { ensureApp } from './app-ensure.js';
import type { ConfigVersionStore } from './config-versions.js';
import { EntityConflictError, EntityNotFoundError } from './entity-errors.js';
import { EntityKeys } from './entity-keys.js';
import { keep, parserOf, write, type Parse } from './entity-kv.js';
import { assertAppName, assertMillis, assertSagaId, assertVersionNumber } from './names.js';
import { ImageRefSchema, ProcessesSchema, VersionSchema, VersionStatus, VersionStatusSchema, type ImageRef, type Processes, type VersionRecord } from './records.js';
import type { StoreContext } from './store-context.js';
import { ABANDONABLE, canMark } from './version-status.js';

/** What `createVersion` records about a built version. */
export interface NewVersion {
  readonly app: string;
  readonly version: number;
  readonly sagaId: string;
  readonly image: ImageRef;
  /** The config version it runs with (must exist). */
  readonly configVersion: number;
  readonly processes: Processes;
  /** Defaults to the store's clock; a repeated call keeps the first. */
  readonly createdAt?: number;
}

/**
 * How many recent claims the counter remembers. A saga that crashed after claiming a number but
 * before writing it down finds it there when it runs again, unless this many other allocations
 * of the same app came in between; then it gets a new number and the old one stays unused.
 */
export const RECENT_CLAIMS = 64;

interface Counter {
  readonly app: string;
  readonly last: number;
  readonly recent: ReadonlyArray<{ readonly sagaId: string; readonly version: number }>;
}

interface Allocation {
  readonly app: string;
  readonly sagaId: string;
  readonly version: number;
  readonly allocatedAt: number;
}

const CounterSchema: z.ZodType<Counter> = z.looseObject({
  app: z.string(),
  last: z.int().min(0),
  recent: z.array(z.looseObject({ sagaId: z.string(), version: z.int().min(1) })),
});

const AllocationSchema: z.ZodType<Allocation> = z.looseObject({
  app: z.string(),
  sagaId: z.string(),
  version: z.int().min(1),
  allocatedAt: z.int().min(0),
});

const NewVersionSchema = z.object({
  image: ImageRefSchema,
  configVersion: z.int().min(1),
  processes: ProcessesSchema,
});

/** Version allocation and records. Get it from `createEntityStores`. */
export class VersionStore {
  readonly #ctx: StoreContext;
  readonly #configs: ConfigVersionStore;
  readonly #parse: Parse<VersionRecord>;
  readonly #parseCounter: Parse<Counter>;
  readonly #parseAllocation: Parse<Allocation>;

  constructor(ctx: StoreContext, configs: ConfigVersionStore) {
    this.#ctx = ctx;
    this.#configs = configs;
    const bucket = (): string => ctx.kv.bucket;
    this.#parse = parserOf(VersionSchema, 'version', bucket);
    this.#parseCounter = parserOf(CounterSchema, 'version counter', bucket);
    this.#parseAllocation = parserOf(AllocationSchema, 'version allocation', bucket);
  }

  /**
   * The next version number of `app` for `sagaId` (creating the app on its first version).
   * Idempotent: the same saga asking again gets the same number; sagas racing get different
   * ones, increasing in the order their compare-and-sets landed.
   */
  async allocate(app: string, sagaId: string): Promise<number> {
    assertAppName(app);
    assertSagaId(sagaId);
    await ensureApp(this.#ctx, app);
    // The claim looks for this saga in the counter's recent claims itself: no separate read.
    const own = await this.#ctx.kv.read(EntityKeys.allocation(app, sagaId), this.#parseAllocation);
    const n = own?.value.version ?? (await this.#claim(app, sagaId));
    const now = this.#ctx.now();
    // Written down in two places, each create-once and checked: the saga's allocation, then
    // the version itself. A crash between them is repaired by the next call.
    await this.#ctx.kv.change(EntityKeys.allocation(app, sagaId), this.#parseAllocation, (cur) => {
      if (!cur) return write<Allocation, void>({ app, sagaId, version: n, allocatedAt: now }, undefined);
      if (cur.value.version !== n) {
        throw new EntityConflictError(`saga "${sagaId}" holds version ${cur.value.version} of app "${app}", but its claim says ${n}`, {
          app,
          sagaId,
          stored: cur.value.version,
          claimed: n,
        });
      }
      return keep(undefined);
    });
    await this.#ctx.kv.change(EntityKeys.version(app, n), this.#parse, (cur) => {
      if (!cur) return write(building(app, n, sagaId, now), undefined);
      if (cur.value.sagaId !== sagaId) {
        throw new EntityConflictError(`version ${n} of app "${app}" belongs to saga "${cur.value.sagaId}", but saga "${sagaId}" was allocated it`, {
          app,
          version: n,
          sagaId: cur.value.sagaId,
        });
      }
      return keep(undefined);
    });
    return n;
  }

  /**
   * Undo of `allocate` (and of `create`): marks this saga's version `abandoned`, unless it was
   * ever live (`active`, `retired`: its history stays true). Safe to repeat, and a no-op when
   * the saga never got a number (answers null). The number is never given out again.
   */
  async abandon(app: string, sagaId: string): Promise<VersionRecord | null> {
    assertAppName(app);
    assertSagaId(sagaId);
    const n = await this.#allocationOf(app, sagaId);
    if (n === null) return null;
    const now = this.#ctx.now();
    return this.#ctx.kv.change(EntityKeys.version(app, n), this.#parse, (cur) => {
      // Claimed, then crashed before the version was written: label the number anyway.
      if (!cur) {
        const rec = { ...building(app, n, sagaId, now), status: VersionStatus.Abandoned };
        return write(rec, rec);
      }
      const v = cur.value;
      if (v.sagaId !== sagaId || !ABANDONABLE.includes(v.status)) return keep(v);
      const rec = { ...v, status: VersionStatus.Abandoned, updatedAt: now };
      return write(rec, rec);
    });
  }

  /**
   * Records what was built as version `version` (allocated to `sagaId`, still `building`) and
   * makes it `ready`. Idempotent: repeating it with the same image, config version and
   * processes answers the stored record; other content is ENTITY_CONFLICT (versions are
   * immutable), as is another saga's version or one given up. ENTITY_NOT_FOUND when the
   * version was never allocated or its config version does not exist.
   */
  async create(input: NewVersion): Promise<VersionRecord> {
    const { app, version, sagaId } = input;
    assertAppName(app);
    assertVersionNumber(version);
    assertSagaId(sagaId);
    if (input.createdAt !== undefined) assertMillis(input.createdAt, 'createdAt');
    const parsed = NewVersionSchema.safeParse({ image: input.image, configVersion: input.configVersion, processes: input.processes });
    if (!parsed.success) throw new InvalidArgumentError(`invalid version ${version} of app "${app}": ${z.prettifyError(parsed.error)}`, { app, version });
    const built = parsed.data;
    if (!(await this.#configs.get(app, built.configVersion))) {
      throw new EntityNotFoundError(`config version ${built.configVersion} of app "${app}" does not exist`, { app, configVersion: built.configVersion });
    }
    return this.#ctx.kv.change(EntityKeys.version(app, version), this.#parse, (cur) => {
      if (!cur) throw new EntityNotFoundError(`version ${version} of app "${app}" was never allocated`, { app, version });
      const v = cur.value;
      if (v.sagaId !== sagaId) {
        throw new EntityConflictError(`version ${version} of app "${app}" belongs to saga "${v.sagaId}", not "${sagaId}"`, { app, version, sagaId: v.sagaId });
      }
      if (v.image !== null) {
        if (canonicalJson({ image: v.image, configVersion: v.configVersion, processes: v.processes }) === canonicalJson(built)) return keep(v);
        throw new EntityConflictError(`version ${version} of app "${app}" was recorded with other content; versions are immutable`, { app, version });
      }
      if (v.status !== VersionStatus.Building) {
        throw new EntityConflictError(`version ${version} of app "${app}" is ${v.status}; only a building version can be recorded`, { app, version, status: v.status });
      }
      const now = this.#ctx.now();
      const rec: VersionRecord = { ...v, ...built, createdAt: input.createdAt ?? now, status: VersionStatus.Ready, updatedAt: now };
      return write(rec, rec);
    });
  }

  /**
   * Sets a version's status. Repeating a mark is a no-op; a change the life of a version does
   * not allow (e.g. `failed` → `active`, or `ready` before it was recorded) is ENTITY_CONFLICT.
   */
  async mark(app: string, version: number, status: VersionStatus): Promise<VersionRecord> {
    assertAppName(app);
    assertVersionNumber(version);
    const to = VersionStatusSchema.safeParse(status);
    if (!to.success) throw new InvalidArgumentError(`invalid version status ${JSON.stringify(status)}: use one of ${VersionStatusSchema.options.join(', ')}`, { status });
    return this.#ctx.kv.change(EntityKeys.version(app, version), this.#parse, (cur) => {
      if (!cur) throw new EntityNotFoundError(`version ${version} of app "${app}" does not exist`, { app, version });
      const v = cur.value;
      if (v.status === to.data) return keep(v);
      if (!canMark(v.status, to.data)) {
        throw new EntityConflictError(`version ${version} of app "${app}" cannot go from ${v.status} to ${to.data}`, { app, version, from: v.status, to: to.data });
      }
      if (v.image === null && to.data !== VersionStatus.Failed && to.data !== VersionStatus.Abandoned) {
        throw new EntityConflictError(`version ${version} of app "${app}" was never recorded (createVersion); it cannot be ${to.data}`, { app, version, to: to.data });
      }
      const rec = { ...v, status: to.data, updatedAt: this.#ctx.now() };
      return write(rec, rec);
    });
  }

  /**
   * `mark`, but only from one of `from` (and a no-op otherwise, answering null): what an
   * activation does to the versions around it, where a version in another state is left be.
   */
  async markIf(app: string, version: number, from: readonly VersionStatus[], to: VersionStatus): Promise<VersionRecord | null> {
    return this.#ctx.kv.change(EntityKeys.version(app, version), this.#parse, (cur) => {
      if (!cur || !from.includes(cur.value.status) || !canMark(cur.value.status, to)) return keep(null);
      if (cur.value.status === to) return keep(cur.value);
      const rec = { ...cur.value, status: to, updatedAt: this.#ctx.now() };
      return write(rec, rec);
    });
  }

  async get(app: string, version: number): Promise<VersionRecord | null> {
    assertAppName(app);
    assertVersionNumber(version);
    return (await this.#ctx.kv.read(EntityKeys.version(app, version), this.#parse))?.value ?? null;
  }

  /** Every version of `app` (abandoned ones included), oldest first. */
  async list(app: string): Promise<VersionRecord[]> {
    assertAppName(app);
    const all = await this.#ctx.kv.list(EntityKeys.versions(app), this.#parse);
    return all.map((r) => r.value).sort((a, b) => a.version - b.version);
  }

  /** The number `sagaId` was given, from its allocation record or the counter's recent claims. */
  async #allocationOf(app: string, sagaId: string): Promise<number | null> {
    const own = await this.#ctx.kv.read(EntityKeys.allocation(app, sagaId), this.#parseAllocation);
    if (own) return own.value.version;
    const counter = await this.#ctx.kv.read(EntityKeys.counter(app), this.#parseCounter);
    return counter?.value.recent.find((c) => c.sagaId === sagaId)?.version ?? null;
  }

  /** Takes the next number by compare-and-set on the counter (or finds this saga's claim). */
  #claim(app: string, sagaId: string): Promise<number> {
    return this.#ctx.kv.change(EntityKeys.counter(app), this.#parseCounter, (cur) => {
      const claimed = cur?.value.recent.find((c) => c.sagaId === sagaId);
      if (claimed) return keep(claimed.version);
      const n = (cur?.value.last ?? 0) + 1;
      const recent = [...(cur?.value.recent ?? []), { sagaId, version: n }].slice(-RECENT_CLAIMS);
      return write<Counter, number>({ ...cur?.value, app, last: n, recent }, n);
    });
  }
}

function building(app: string, version: number, sagaId: string, now: number): VersionRecord {
  return {
    app,
    version,
    sagaId,
    status: VersionStatus.Building,
    allocatedAt: now,
    image: null,
    configVersion: null,
    processes: null,
    createdAt: null,
    updatedAt: now,
  };
}

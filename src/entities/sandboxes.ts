/**
 * Sandboxes: the running copies of versions on this host (`sbx.<app>.<id>`), so that a
 * restarted coordinator finds what it ran and restarts it. A create names its saga, which
 * makes it idempotent; updates are compare-and-set read-modify-writes of the fields given.
 */
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.js';
import { EntityConflictError, EntityNotFoundError } from './entity-errors.js';
import { EntityKeys } from './entity-keys.js';
import { asJson, keep, parserOf, remove, write, type Parse } from './entity-kv.js';
import { assertAppName, assertSagaId, assertSandboxId, assertVersionNumber } from './names.js';
import { PidSchema, PortSchema, SandboxSchema, SandboxState, SandboxStateSchema, type SandboxRecord } from './records.js';
import type { StoreContext } from './store-context.js';

/** What `create` takes; `state` defaults to `starting`, `startedAt` to the store's clock. */
export interface NewSandbox {
  readonly id: string;
  readonly app: string;
  readonly version: number;
  readonly sagaId: string;
  readonly dir: string;
  readonly state?: SandboxState;
  readonly port?: number | null;
  readonly pid?: number | null;
  readonly startedAt?: number;
}

/** The fields `update` may change. */
export interface SandboxPatch {
  readonly state?: SandboxState;
  readonly port?: number | null;
  readonly pid?: number | null;
  readonly dir?: string;
}

const PatchSchema = z.strictObject({
  state: SandboxStateSchema.optional(),
  port: z.nullable(PortSchema).optional(),
  pid: z.nullable(PidSchema).optional(),
  dir: z.string().min(1).max(4096).optional(),
});

const NewSchema = PatchSchema.extend({ startedAt: z.int().min(0).optional() });

/** Sandbox records. Get it from `createEntityStores`. */
export class SandboxStore {
  readonly #ctx: StoreContext;
  readonly #parse: Parse<SandboxRecord>;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
    this.#parse = parserOf(SandboxSchema, 'sandbox', () => ctx.kv.bucket);
  }

  /**
   * Records a new sandbox. Idempotent for its saga: when the sandbox exists and was created by
   * the same saga, the stored record is answered as it is now (a repeat does not undo progress
   * such as `running`); one created by another saga is ENTITY_CONFLICT.
   */
  async create(input: NewSandbox): Promise<SandboxRecord> {
    const { id, app, version, sagaId } = input;
    assertSandboxId(id);
    assertAppName(app);
    assertVersionNumber(version);
    assertSagaId(sagaId);
    const fields = NewSchema.safeParse({ state: input.state, port: input.port, pid: input.pid, dir: input.dir, startedAt: input.startedAt });
    if (!fields.success) throw new InvalidArgumentError(`invalid sandbox "${id}" of app "${app}": ${z.prettifyError(fields.error)}`, { app, sandboxId: id });
    const f = fields.data;
    const dir = f.dir;
    if (dir === undefined) throw new InvalidArgumentError(`sandbox "${id}" of app "${app}" needs a dir`, { app, sandboxId: id });
    return this.#ctx.kv.change(EntityKeys.sandbox(app, id), this.#parse, (cur) => {
      if (cur) {
        if (cur.value.sagaId === sagaId) return keep(cur.value);
        throw new EntityConflictError(`sandbox "${id}" of app "${app}" exists, created by saga "${cur.value.sagaId}"`, { app, sandboxId: id, sagaId: cur.value.sagaId });
      }
      const now = this.#ctx.now();
      const rec: SandboxRecord = {
        id,
        app,
        version,
        state: f.state ?? SandboxState.Starting,
        port: f.port ?? null,
        pid: f.pid ?? null,
        dir,
        startedAt: f.startedAt ?? now,
        sagaId,
        updatedAt: now,
      };
      return write(rec, rec);
    });
  }

  /** Changes the given fields (a repeat changes nothing more). ENTITY_NOT_FOUND when absent. */
  async update(app: string, id: string, patch: SandboxPatch): Promise<SandboxRecord> {
    assertAppName(app);
    assertSandboxId(id);
    const p = PatchSchema.safeParse(patch);
    if (!p.success) throw new InvalidArgumentError(`invalid change to sandbox "${id}" of app "${app}": ${z.prettifyError(p.error)}`, { app, sandboxId: id });
    const given = Object.fromEntries(Object.entries(p.data).filter(([, v]) => v !== undefined)) as SandboxPatch;
    return this.#ctx.kv.change(EntityKeys.sandbox(app, id), this.#parse, (cur) => {
      if (!cur) throw new EntityNotFoundError(`sandbox "${id}" of app "${app}" does not exist`, { app, sandboxId: id });
      const same = Object.entries(given).every(([k, v]) => cur.value[k as keyof SandboxRecord] === v);
      if (same) return keep(cur.value);
      const rec: SandboxRecord = { ...cur.value, ...given, updatedAt: this.#ctx.now() };
      return write(rec, rec);
    });
  }

  async get(app: string, id: string): Promise<SandboxRecord | null> {
    assertAppName(app);
    assertSandboxId(id);
    return (await this.#ctx.kv.read(EntityKeys.sandbox(app, id), this.#parse))?.value ?? null;
  }

  /** The sandboxes of `app`, or of every app when none is named; by app, then id. */
  async list(app?: string): Promise<SandboxRecord[]> {
    if (app !== undefined) assertAppName(app);
    const all = (await this.#ctx.kv.list(EntityKeys.sandboxes(app), this.#parse)).map((r) => r.value);
    return all.sort((a, b) => byText(a.app, b.app) || byText(a.id, b.id));
  }

  /** Removes the record; answers whether it existed. Idempotent. */
  async delete(app: string, id: string): Promise<boolean> {
    assertAppName(app);
    assertSandboxId(id);
    // Read raw: a record that no longer parses can still be removed.
    return this.#ctx.kv.change(EntityKeys.sandbox(app, id), asJson, (cur) => (cur ? remove(true) : keep(false)));
  }
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

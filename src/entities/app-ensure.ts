/**
 * Creating an app's record on first use: the first allocation of a version creates the app, so
 * a first deploy needs no separate step. Shared by the app and version stores (which otherwise
 * would import each other).
 */
import { EntityKeys } from './entity-keys.js';
import { keep, parserOf, write, type Parse } from './entity-kv.js';
import { AppSchema, type AppRecord } from './records.js';
import type { StoreContext } from './store-context.js';

/** Reads an app record, refusing a corrupt one. */
export function appParser(ctx: StoreContext): Parse<AppRecord> {
  return parserOf(AppSchema, 'app', () => ctx.kv.bucket);
}

/** A new app with nothing active. */
export function newApp(name: string, now: number): AppRecord {
  return { name, createdAt: now, activeVersion: null, activeSince: null, previousActive: null, activatedBy: null, restoredBy: null, updatedAt: now };
}

/** The app's record, created if absent (idempotent: an existing record is returned as it is). */
export function ensureApp(ctx: StoreContext, name: string): Promise<AppRecord> {
  return ctx.kv.change(EntityKeys.app(name), appParser(ctx), (cur) => {
    if (cur) return keep(cur.value);
    const rec = newApp(name, ctx.now());
    return write(rec, rec);
  });
}

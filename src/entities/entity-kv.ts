/**
 * JSON records over a `KvStore`, changed only by compare-and-set. Every write of the entity
 * stores goes through `change`: read the record and its revision, decide, write at that
 * revision, and on a conflict read again and decide again — never a blind write, so two
 * writers racing on a key both see the other's work.
 *
 * Failures of the store itself (NATS away, a leader election, a request that timed out)
 * become `EntitiesUnavailableError` (retryable): every entity operation is idempotent, so the
 * caller may run it again even when the failed attempt did land.
 */
import { ClosedConnectionError, DrainingConnectionError } from '@nats-io/transport-node';
import type { z } from 'zod';
import { CorruptEntryError, InvalidArgumentError, KvConflictError, SagaError } from '../errors.js';
import type { KvStore } from '../journal/kv-store.js';
import { isTransient } from '../nats/nats-errors.js';
import { sleep, backoffMs } from '../nats/retry.js';
import { forEachLimit } from '../util/for-each-limit.js';
import { EntitiesUnavailableError } from './entity-errors.js';

/** A record as stored, with the revision a compare-and-set must name. */
export interface Stored<T> {
  readonly value: T;
  readonly revision: number;
}

/** What `change` should do with the record it read, and what to answer. */
export type Change<T, R> =
  | { readonly kind: 'keep'; readonly result: R }
  | { readonly kind: 'write'; readonly value: T; readonly result: R }
  | { readonly kind: 'delete'; readonly result: R };

/** Leave the record as it is; answer `result`. */
export const keep = <R>(result: R): Change<never, R> => ({ kind: 'keep', result });
/** Write `value` at the revision read (create it if it was absent); answer `result`. */
export const write = <T, R>(value: T, result: R): Change<T, R> => ({ kind: 'write', value, result });
/** Delete the record at the revision read (nothing if absent); answer `result`. */
export const remove = <R>(result: R): Change<never, R> => ({ kind: 'delete', result });

/** Turns a stored JSON value into a record, or throws (a corrupt value). */
export type Parse<T> = (json: unknown, key: string) => T;

/**
 * Entities are small by design (they are read whole on every change and listed in bulk); a
 * value this large is a caller's mistake, refused before it reaches the server's 1 MiB limit.
 * Room for a config version holding the largest env the build accepts (256 KiB) and more.
 */
export const MAX_ENTITY_BYTES = 512 * 1024;

/** Compare-and-set attempts before `change` gives up on a key that keeps changing. */
const MAX_ATTEMPTS = 64;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The stored JSON as it is, for callers that judge it themselves (and survive a corrupt value). */
export const asJson: Parse<unknown> = (json) => json;

/** A parser from a zod schema: a value that does not fit is corrupt, named by its key. */
export function parserOf<T>(schema: z.ZodType<T>, what: string, bucket: () => string): Parse<T> {
  return (json, key) => {
    const r = schema.safeParse(json);
    if (r.success) return r.data;
    const issue = r.error.issues[0];
    throw new CorruptEntryError(`stored ${what} "${key}" in ${bucket()} is not valid: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`, {
      bucket: bucket(),
      key,
    });
  };
}

/** Typed JSON records with compare-and-set changes over one `KvStore`. */
export class EntityKv {
  constructor(readonly kv: KvStore) {}

  get bucket(): string {
    return this.kv.bucket;
  }

  /** The stored JSON of `key` (`undefined` when it is not JSON at all), or null when absent. */
  async readJson(key: string): Promise<Stored<unknown> | null> {
    const e = await this.#call('read', key, () => this.kv.get(key));
    if (!e) return null;
    let json: unknown;
    try {
      json = JSON.parse(decoder.decode(e.value));
    } catch {
      json = undefined;
    }
    return { value: json, revision: e.revision };
  }

  async read<T>(key: string, parse: Parse<T>): Promise<Stored<T> | null> {
    const raw = await this.readJson(key);
    return raw && { value: parse(raw.value, key), revision: raw.revision };
  }

  /**
   * Reads `key`, lets `decide` choose, and writes or deletes at the revision read. A conflict
   * (someone wrote in between, or created the key first) re-reads and asks `decide` again, so
   * `decide` must derive everything from the record it is given. It may throw to refuse.
   */
  async change<T, R>(key: string, parse: Parse<T>, decide: (current: Stored<T> | null) => Change<T, R> | Promise<Change<T, R>>): Promise<R> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.read(key, parse);
      const c = await decide(current);
      try {
        return await this.apply(key, current?.revision ?? null, c);
      } catch (e) {
        if (!(e instanceof KvConflictError)) throw e;
        if (attempt + 1 >= MAX_ATTEMPTS) {
          throw new EntitiesUnavailableError(`"${key}" in ${this.bucket} kept changing under ${MAX_ATTEMPTS} compare-and-set attempts`, {
            cause: e,
            details: { bucket: this.bucket, key },
          });
        }
        // Hot keys (a lock many deploys want) back off a little rather than spin.
        if (attempt >= 2) await sleep(backoffMs(attempt - 2), []);
      }
    }
  }

  /** Writes or deletes `key` at `revision` (null: the key must be absent). Throws `KvConflictError`. */
  async apply<T, R>(key: string, revision: number | null, c: Change<T, R>): Promise<R> {
    if (c.kind === 'keep') return c.result;
    if (c.kind === 'delete') {
      if (revision !== null) await this.#call('delete', key, () => this.kv.delete(key, { revision }));
      return c.result;
    }
    const bytes = encode(key, c.value);
    await this.#call('write', key, () => (revision === null ? this.kv.create(key, bytes) : this.kv.update(key, bytes, revision)));
    return c.result;
  }

  /** Every record under `prefix`, in key order; keys deleted while listing are left out. */
  async list<T>(prefix: string, parse: Parse<T>): Promise<Array<{ key: string } & Stored<T>>> {
    const keys = await this.#call('list', prefix, () => this.kv.keys(prefix));
    const out = new Map<string, { key: string } & Stored<T>>();
    await forEachLimit(keys, 32, async (key) => {
      const r = await this.read(key, parse);
      if (r) out.set(key, { key, ...r });
    });
    return keys.flatMap((k) => out.get(k) ?? []);
  }

  async #call<V>(op: string, key: string, fn: () => Promise<V>): Promise<V> {
    try {
      return await fn();
    } catch (e) {
      throw unavailable(e, `${op} "${key}" in ${this.bucket}`, { bucket: this.bucket, key, op });
    }
  }
}

function encode(key: string, value: unknown): Uint8Array {
  const bytes = encoder.encode(JSON.stringify(value));
  if (bytes.length > MAX_ENTITY_BYTES) {
    throw new InvalidArgumentError(`record "${key}" is ${bytes.length} bytes; entities hold at most ${MAX_ENTITY_BYTES}`, {
      key,
      bytes: bytes.length,
      maxBytes: MAX_ENTITY_BYTES,
    });
  }
  return bytes;
}

/**
 * Store failures that may pass become `EntitiesUnavailableError` ("cannot <what>: <reason>");
 * jetsaga's own errors (a conflict, a bad key) and anything unknown pass through unchanged.
 */
export function unavailable(e: unknown, what: string, details: Record<string, unknown>): unknown {
  if (e instanceof SagaError) return e;
  if (isTransient(e) || e instanceof ClosedConnectionError || e instanceof DrainingConnectionError) {
    const reason = e instanceof Error ? e.message : String(e);
    return new EntitiesUnavailableError(`cannot ${what}: ${reason}`, { cause: e, details });
  }
  return e;
}

/** The behaviour every `KvStore` must show, run over the memory store and a NATS KV bucket. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KvConflictError } from '../../src/errors.js';
import type { KvStore } from '../../src/journal/kv-store.js';

export type KvFactory = () => Promise<{ kv: KvStore; cleanup?: () => Promise<void> }>;

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string): Uint8Array => enc.encode(s);

async function conflictOf(p: Promise<unknown>): Promise<KvConflictError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KvConflictError);
  expect((err as KvConflictError).code).toBe('KV_CONFLICT');
  return err as KvConflictError;
}

export function describeKvContract(name: string, factory: KvFactory): void {
  describe(`KvStore contract: ${name}`, () => {
    let kv: KvStore;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      ({ kv, cleanup } = await factory());
    });
    afterEach(async () => {
      await cleanup?.();
    });

    it('returns null for an absent key', async () => {
      expect(await kv.get('absent')).toBeNull();
    });

    it('creates a key once; a second create conflicts and changes nothing', async () => {
      const rev = await kv.create('k', bytes('v1'));
      expect(rev).toBeGreaterThan(0);
      const e = await kv.get('k');
      expect(e?.key).toBe('k');
      expect(e?.revision).toBe(rev);
      expect(dec.decode(e?.value)).toBe('v1');
      const err = await conflictOf(kv.create('k', bytes('v2')));
      expect(err.key).toBe('k');
      expect(err.bucket).toBe(kv.bucket);
      expect(dec.decode((await kv.get('k'))?.value)).toBe('v1');
    });

    it('updates only at the current revision', async () => {
      const r1 = await kv.create('cas', bytes('1'));
      const r2 = await kv.update('cas', bytes('2'), r1);
      expect(r2).toBeGreaterThan(r1);
      const err = await conflictOf(kv.update('cas', bytes('stale'), r1));
      expect(err.expectedRevision).toBe(r1);
      expect(await kv.get('cas')).toMatchObject({ revision: r2 });
      expect(dec.decode((await kv.get('cas'))?.value)).toBe('2');
    });

    it('refuses to update an absent key', async () => {
      const other = await kv.create('other', bytes('x'));
      await conflictOf(kv.update('nope', bytes('x'), other));
    });

    it('puts unconditionally', async () => {
      const r1 = await kv.put('p', bytes('a'));
      const r2 = await kv.put('p', bytes('b'));
      expect(r2).toBeGreaterThan(r1);
      expect(dec.decode((await kv.get('p'))?.value)).toBe('b');
    });

    it('deletes at a revision, refuses a stale one, and is idempotent without one', async () => {
      const r1 = await kv.create('d', bytes('1'));
      const r2 = await kv.update('d', bytes('2'), r1);
      await conflictOf(kv.delete('d', { revision: r1 }));
      expect(await kv.get('d')).not.toBeNull();
      await kv.delete('d', { revision: r2 });
      expect(await kv.get('d')).toBeNull();
      await kv.delete('d');
      await kv.delete('never-existed');
      expect(await kv.get('d')).toBeNull();
    });

    it('creates a key again after it was deleted', async () => {
      await kv.create('again', bytes('1'));
      await kv.delete('again');
      const rev = await kv.create('again', bytes('2'));
      expect(await kv.get('again')).toMatchObject({ revision: rev });
      expect(dec.decode((await kv.get('again'))?.value)).toBe('2');
      await conflictOf(kv.create('again', bytes('3')));
    });

    it('lists live keys, optionally by prefix', async () => {
      expect(await kv.keys()).toEqual([]);
      for (const k of ['a.b', 'a.c', 'ab', 'b', 'a.b.c', 'gone.x']) await kv.put(k, bytes(k));
      await kv.delete('gone.x');
      expect((await kv.keys()).sort()).toEqual(['a.b', 'a.b.c', 'a.c', 'ab', 'b']);
      expect((await kv.keys('a.')).sort()).toEqual(['a.b', 'a.b.c', 'a.c']);
      expect((await kv.keys('a')).sort()).toEqual(['a.b', 'a.b.c', 'a.c', 'ab']);
      expect((await kv.keys('a.b')).sort()).toEqual(['a.b', 'a.b.c']);
      expect(await kv.keys('gone')).toEqual([]);
      expect(await kv.keys('zzz')).toEqual([]);
    });

    it('reads many keys at once: the latest value of each that exists, none deleted or unasked', async () => {
      expect(await kv.getMany?.(new Set(['a']))).toSatisfy((m: Map<string, unknown> | undefined) => m === undefined || m.size === 0);
      if (!kv.getMany) return;
      for (const k of ['a', 'b', 'c', 'gone']) await kv.put(k, bytes(`${k}1`));
      const rev = await kv.put('b', bytes('b2'));
      await kv.delete('gone');
      const got = await kv.getMany(new Set(['a', 'b', 'gone', 'never']));
      expect([...got.keys()].sort()).toEqual(['a', 'b']);
      expect(dec.decode(got.get('a')!.value)).toBe('a1');
      expect(got.get('b')).toMatchObject({ key: 'b', revision: rev });
      expect(dec.decode(got.get('b')!.value)).toBe('b2');
      expect((await kv.getMany(new Set())).size).toBe(0);
    });

    it('round-trips binary values', async () => {
      const v = Uint8Array.from({ length: 256 }, (_, i) => i);
      await kv.put('bin', v);
      expect(Buffer.from((await kv.get('bin'))?.value ?? []).equals(Buffer.from(v))).toBe(true);
    });

    it('refuses invalid keys and revisions with InvalidArgumentError', async () => {
      for (const bad of ['', '.a', 'a.', 'a b', 'a*', 'a>']) {
        await expect(kv.put(bad, bytes('x'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        await expect(kv.get(bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      }
      await expect(kv.update('k', bytes('x'), 0)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });
  });
}

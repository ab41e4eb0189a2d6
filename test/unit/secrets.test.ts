/**
 * src/secrets: AES-256-GCM sealing round-trips, refuses tampering and moved values, names a
 * missing key by id, opens what a rotated-out key sealed while the new key seals; key text and
 * key sources (file, environment, generated default) behave as documented; displays redact.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { SagaError } from '../../src/errors.js';
import {
  derivedKeyId,
  GENERATED_KEY_FILE,
  loadSecretKeys,
  openEnv,
  parseKeyText,
  redactedJson,
  sealEnv,
  SecretKeyRing,
  type SealedSecret,
} from '../../src/secrets/index.js';

const key = (): Buffer => randomBytes(32);
const line = (id: string, k: Buffer): string => `${id}:${k.toString('base64')}`;

function codeOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SagaError);
    return { code: (e as SagaError).code, message: (e as Error).message };
  }
  throw new Error('did not throw');
}

describe('SecretKeyRing', () => {
  const ring = new SecretKeyRing([{ id: 'cur', key: key() }]);

  it('round-trips, with a fresh IV each time, never holding the plain text', () => {
    const plain = `s3cr3t-${randomBytes(8).toString('hex')} ünïcode`;
    const a = ring.seal(plain, 'ctx');
    const b = ring.seal(plain, 'ctx');
    expect(a.$secret).toMatch(/^v1:cur:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(a.$secret).not.toBe(b.$secret);
    expect(JSON.stringify(a)).not.toContain(plain);
    expect(ring.open(a, 'ctx', 'x')).toBe(plain);
    expect(ring.open(b, 'ctx', 'x')).toBe(plain);
    expect(ring.open(ring.seal('', 'ctx'), 'ctx', 'x')).toBe('');
  });

  it('a tampered value, or one opened in another context, is SECRET_UNREADABLE', () => {
    const sealed = ring.seal('value', 'app=a\0env=X');
    const [v, id, iv, data] = sealed.$secret.split(':') as [string, string, string, string];
    const bytes = Buffer.from(data, 'base64');
    bytes[0] = bytes[0]! ^ 1;
    const flipped: SealedSecret = { $secret: [v, id, iv, bytes.toString('base64')].join(':') };
    expect(codeOf(() => ring.open(flipped, 'app=a\0env=X', 'secret X of app "a"'))).toMatchObject({ code: 'SECRET_UNREADABLE', message: expect.stringContaining('secret X of app "a"') });
    expect(codeOf(() => ring.open(sealed, 'app=b\0env=X', 'w')).code).toBe('SECRET_UNREADABLE');
    expect(codeOf(() => ring.open({ $secret: 'v9:cur:AA==:AA==' }, 'c', 'w')).code).toBe('SECRET_UNREADABLE');
    expect(codeOf(() => ring.open({ $secret: 'garbage' }, 'c', 'w')).code).toBe('SECRET_UNREADABLE');
  });

  it('a value sealed with a key the ring lacks is SECRETS_KEY_MISSING, naming the key id and the flag', () => {
    const other = new SecretKeyRing([{ id: 'elsewhere', key: key() }]);
    const { code, message } = codeOf(() => ring.open(other.seal('v', 'c'), 'c', 'secret API_KEY of app "shop"'));
    expect(code).toBe('SECRETS_KEY_MISSING');
    expect(message).toContain('"elsewhere"');
    expect(message).toContain('--secrets-key-file');
    expect(message).toContain('secret API_KEY of app "shop"');
  });

  it('rotation: the new current key seals, the old key still opens what it sealed', () => {
    const oldKey = { id: 'old', key: key() };
    const before = new SecretKeyRing([oldKey]);
    const sealedOld = before.seal('kept', 'c');
    const after = new SecretKeyRing([{ id: 'new', key: key() }, oldKey]);
    expect(after.currentId).toBe('new');
    expect(after.ids).toEqual(['new', 'old']);
    expect(after.open(sealedOld, 'c', 'w')).toBe('kept');
    const sealedNew = after.seal('fresh', 'c');
    expect(sealedNew.$secret.startsWith('v1:new:')).toBe(true);
    // The old ring alone cannot open what the new key sealed.
    expect(codeOf(() => before.open(sealedNew, 'c', 'w')).code).toBe('SECRETS_KEY_MISSING');
  });

  it('refuses bad keys and ids', () => {
    expect(() => new SecretKeyRing([])).toThrow(/at least one key/);
    expect(() => new SecretKeyRing([{ id: 'a', key: randomBytes(16) }])).toThrow(/32 bytes/);
    expect(() => new SecretKeyRing([{ id: 'a:b', key: key() }])).toThrow(/must match/);
    const k = key();
    expect(() => new SecretKeyRing([{ id: 'a', key: k }, { id: 'a', key: key() }])).toThrow(/twice/);
  });
});

describe('secret env', () => {
  const ring = new SecretKeyRing([{ id: 'k1', key: key() }]);

  it('seals per app and name: opens back, and a value moved to another name or app does not open', () => {
    const sealed = sealEnv(ring, 'shop', { B: 'two', A: 'one' });
    expect(Object.keys(sealed)).toEqual(['A', 'B']);
    expect(openEnv(ring, 'shop', sealed)).toEqual({ A: 'one', B: 'two' });
    expect(codeOf(() => openEnv(ring, 'shop', { B: sealed.A! })).code).toBe('SECRET_UNREADABLE');
    expect(codeOf(() => openEnv(ring, 'blog', sealed)).message).toContain('secret A of app "blog"');
  });

  it('reuses an earlier sealed value holding the same plain text, and seals a changed one anew', () => {
    const first = sealEnv(ring, 'shop', { A: 'one', B: 'two' });
    const again = sealEnv(ring, 'shop', { A: 'one', B: 'changed' }, first);
    expect(again.A).toBe(first.A);
    expect(again.B).not.toEqual(first.B);
    expect(openEnv(ring, 'shop', again)).toEqual({ A: 'one', B: 'changed' });
  });
});

describe('key text', () => {
  it('reads id:base64 lines, bare keys with a derived id, comments and blanks; the first is current', () => {
    const a = key();
    const b = key();
    const keys = parseKeyText(`# keys\n\n${line('new', a)}\r\n  ${b.toString('base64')}  \n`, 'f');
    expect(keys.map((k) => k.id)).toEqual(['new', derivedKeyId(b)]);
    expect(derivedKeyId(b)).toMatch(/^k[0-9a-f]{8}$/);
    expect(keys[0]!.key.equals(a)).toBe(true);
    // The environment variable may separate keys with commas.
    expect(parseKeyText(`${line('x', a)},${line('y', b)}`, 'env', { commas: true }).map((k) => k.id)).toEqual(['x', 'y']);
  });

  it('errors name the source and the line, never the key', () => {
    const short = randomBytes(16).toString('base64');
    expect(() => parseKeyText(`# c\nid:${short}`, 'secrets key file /k')).toThrow(/^secrets key file \/k, key 1 \(line 2\): a key is the base64 of 32 random bytes/);
    try {
      parseKeyText(`id:${short}`, 'f');
    } catch (e) {
      expect((e as Error).message).not.toContain(short);
    }
    expect(() => parseKeyText('# nothing\n', 'f')).toThrow(/holds no key/);
    const k = key();
    expect(() => parseKeyText(`${line('a', k)}\n${line('a', key())}`, 'f')).toThrow(/"a" is given twice/);
    expect(() => parseKeyText(`bad id:${k.toString('base64')}`, 'f')).toThrow(/key id must match/);
  });
});

describe('loadSecretKeys', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'jetsaga-secrets-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a key file wins over JETSAGA_SECRETS_KEY, which wins over the generated default', async () => {
    const file = join(dir, 'keys');
    await writeFile(file, `${line('filekey', key())}\n`, { mode: 0o600 });
    const env = { JETSAGA_SECRETS_KEY: line('envkey', key()) };
    expect((await loadSecretKeys({ keyFile: file, env, dataDir: dir })).ring.currentId).toBe('filekey');
    expect((await loadSecretKeys({ env, dataDir: dir })).ring.currentId).toBe('envkey');
  });

  it('generates <dataDir>/secrets.key once, mode 0600, and reuses it', async () => {
    const data = join(dir, 'data');
    const first = await loadSecretKeys({ env: {}, dataDir: data });
    const file = join(data, GENERATED_KEY_FILE);
    expect(first.from).toBe(file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const text = await readFile(file, 'utf8');
    const [again, concurrent] = await Promise.all([loadSecretKeys({ env: {}, dataDir: data }), loadSecretKeys({ env: {}, dataDir: data })]);
    expect(again.ring.currentId).toBe(first.ring.currentId);
    expect(concurrent.ring.currentId).toBe(first.ring.currentId);
    expect(await readFile(file, 'utf8')).toBe(text);
    const sealed = first.ring.seal('v', 'c');
    expect(again.ring.open(sealed, 'c', 'w')).toBe('v');
  });

  it('an unreadable or malformed key file is a ConfigError naming the file', async () => {
    await expect(loadSecretKeys({ keyFile: join(dir, 'missing'), env: {}, dataDir: dir })).rejects.toThrow(ConfigError);
    await expect(loadSecretKeys({ keyFile: join(dir, 'missing'), env: {}, dataDir: dir })).rejects.toThrow(/secrets key file .*missing/);
    const bad = join(dir, 'bad');
    await writeFile(bad, 'not a key\n');
    await expect(loadSecretKeys({ keyFile: bad, env: {}, dataDir: dir })).rejects.toThrow(/secrets key file .*bad, key 1/);
    await expect(loadSecretKeys({ env: { JETSAGA_SECRETS_KEY: 'nope' }, dataDir: dir })).rejects.toThrow(/JETSAGA_SECRETS_KEY/);
  });
});

describe('redactedJson', () => {
  it('shows every sealed secret as [redacted], wherever it sits, and leaves other JSON alone', () => {
    const ring = new SecretKeyRing([{ id: 'k', key: key() }]);
    const value = { input: { app: 'a', secretEnv: sealEnv(ring, 'a', { API_KEY: 'p' }) }, list: [ring.seal('q', 'c')], env: { X: '1' } };
    expect(JSON.parse(redactedJson(value))).toEqual({ input: { app: 'a', secretEnv: { API_KEY: '[redacted]' } }, list: ['[redacted]'], env: { X: '1' } });
    expect(redactedJson({ a: 1 })).toBe('{"a":1}');
    // An object with more than the one $secret key is not a sealed secret.
    expect(redactedJson({ $secret: 'x', other: 1 })).toBe('{"$secret":"x","other":1}');
  });
});

/**
 * AES-256-GCM over a ring of keys: the current key seals, every key of the ring opens what it
 * sealed (so a rotated-out key keeps decrypting the versions sealed under it until they are
 * gone). Each sealed value names its key by id, and its AAD binds it to a context (the app and
 * the variable), so a sealed value copied to another app or another variable does not open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { formatSealed, KEY_ID_PATTERN, parseSealed, SEALED_VERSION, type SealedSecret } from './sealed-secret.js';
import { SecretsKeyMissingError, SecretUnreadableError } from './secret-errors.js';

export const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface SecretKey {
  readonly id: string;
  readonly key: Buffer;
}

export class SecretKeyRing {
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly #current: SecretKey;

  /** `keys[0]` is the current key (it seals); the others only open. */
  constructor(keys: readonly SecretKey[]) {
    if (keys.length === 0) throw new InvalidArgumentError('a secrets key ring needs at least one key');
    const map = new Map<string, Buffer>();
    for (const k of keys) {
      if (!KEY_ID_PATTERN.test(k.id)) throw new InvalidArgumentError(`secrets key id "${k.id}" must match ${KEY_ID_PATTERN}`);
      if (k.key.length !== KEY_BYTES) throw new InvalidArgumentError(`secrets key "${k.id}" must be ${KEY_BYTES} bytes, not ${k.key.length}`);
      if (map.has(k.id)) throw new InvalidArgumentError(`secrets key id "${k.id}" is given twice`);
      map.set(k.id, Buffer.from(k.key));
    }
    this.#keys = map;
    this.#current = { id: keys[0]!.id, key: map.get(keys[0]!.id)! };
  }

  /** The id of the key that seals. */
  get currentId(): string {
    return this.#current.id;
  }

  /** Every key id, the current one first. */
  get ids(): string[] {
    return [...this.#keys.keys()];
  }

  has(keyId: string): boolean {
    return this.#keys.has(keyId);
  }

  /** Seals `plain` with the current key, bound to `context`. A fresh random IV each time. */
  seal(plain: string, context: string): SealedSecret {
    const { id, key } = this.#current;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aadOf(id, context));
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return formatSealed({ keyId: id, iv, data });
  }

  /**
   * Opens a value sealed for `context`; `what` names it in errors ("secret API_KEY of app shop").
   * @throws SecretsKeyMissingError when its key is not in the ring
   * @throws SecretUnreadableError when it is malformed or does not authenticate
   */
  open(sealed: SealedSecret, context: string, what: string): string {
    const parts = parseSealed(sealed);
    if (typeof parts === 'string') throw new SecretUnreadableError(what, null, parts);
    const key = this.#keys.get(parts.keyId);
    if (!key) throw new SecretsKeyMissingError(what, parts.keyId, this.ids);
    if (parts.iv.length !== IV_BYTES || parts.data.length < TAG_BYTES) throw new SecretUnreadableError(what, parts.keyId, 'a malformed sealed value');
    const decipher = createDecipheriv('aes-256-gcm', key, parts.iv);
    decipher.setAAD(aadOf(parts.keyId, context));
    decipher.setAuthTag(parts.data.subarray(parts.data.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(parts.data.subarray(0, parts.data.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretUnreadableError(what, parts.keyId, 'it does not authenticate (altered, sealed for another app or variable, or under another key of the same id)');
    }
  }
}

/** The format, the key id and the context: none of them can be changed without the tag failing. */
function aadOf(keyId: string, context: string): Buffer {
  return Buffer.from(`jetsaga-secret\0${SEALED_VERSION}\0${keyId}\0${context}`, 'utf8');
}

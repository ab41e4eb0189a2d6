/**
 * A sealed secret as it travels through journaled data: `{ "$secret": "v1:<keyId>:<iv>:<ct>" }`
 * (iv and ciphertext+tag in base64). An object, not a bare string, so that no plain env value
 * can ever be mistaken for one, and so that displays and logs can recognise and redact it
 * wherever it sits.
 */

export interface SealedSecret {
  readonly $secret: string;
}

/** The only format so far; a new one gets a new prefix and the old stays readable. */
export const SEALED_VERSION = 'v1';
/** Key ids: short, and free of the `:` that separates the sealed string's parts. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

export interface SealedParts {
  readonly keyId: string;
  readonly iv: Buffer;
  /** Ciphertext followed by the 16-byte GCM tag. */
  readonly data: Buffer;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function isSealedSecret(value: unknown): value is SealedSecret {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === '$secret' && typeof (value as SealedSecret).$secret === 'string';
}

export function formatSealed(parts: SealedParts): SealedSecret {
  return { $secret: [SEALED_VERSION, parts.keyId, parts.iv.toString('base64'), parts.data.toString('base64')].join(':') };
}

/** The parts of a sealed string, or a reason it is not one. */
export function parseSealed(sealed: SealedSecret): SealedParts | string {
  const parts = sealed.$secret.split(':');
  if (parts.length !== 4 || parts[0] !== SEALED_VERSION) return `not a ${SEALED_VERSION} sealed value`;
  const [, keyId, iv, data] = parts as [string, string, string, string];
  if (!KEY_ID_PATTERN.test(keyId) || !BASE64.test(iv) || !BASE64.test(data)) return 'a malformed sealed value';
  return { keyId, iv: Buffer.from(iv, 'base64'), data: Buffer.from(data, 'base64') };
}

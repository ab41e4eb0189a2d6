/**
 * What displays show of a sealed secret: `[redacted]`. Sealed values are ciphertext, but a
 * reader of `sagas show` or of the progress needs to know there is a secret, not to see its
 * ciphertext (nor to copy it around).
 */
import { isSealedSecret } from './sealed-secret.js';

export const REDACTED = '[redacted]';

/** A JSON.stringify replacer that writes every sealed secret as `[redacted]`. */
export function redactSealed(_key: string, value: unknown): unknown {
  return isSealedSecret(value) ? REDACTED : value;
}

/**
 * `JSON.stringify(value)` with sealed secrets redacted. The plain serialisation is kept when it
 * holds no `$secret` key at all: the replacer's cost is paid only by replies that need it.
 */
export function redactedJson(value: unknown): string {
  const json = JSON.stringify(value);
  return json !== undefined && json.includes('"$secret"') ? JSON.stringify(value, redactSealed) : json;
}

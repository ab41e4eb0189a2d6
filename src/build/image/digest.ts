/** Content digests as OCI names them (`sha256:<hex>`). Kept apart so building needs no HTTP client. */
import { createHash } from 'node:crypto';

/** `sha256:<hex>` of `bytes`. */
export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Whether `value` is a `sha256:<64 hex>` digest. */
export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && /^sha256:[a-f0-9]{64}$/.test(value);
}

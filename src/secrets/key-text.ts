/**
 * The text of a secrets key file (and of JETSAGA_SECRETS_KEY): one key per line, the first
 * being the current one (it seals), the others kept to open what they sealed:
 *
 *   # comments and blank lines are ignored
 *   2025-06:q4wD0v3x…base64 of 32 random bytes…=
 *   2024-11:Zm9vYmFy…
 *
 * A line is `<id>:<base64>` or a bare `<base64>`, whose id is then derived from the key
 * (`k` + 8 hex digits of its SHA-256), so the same key always has the same id. In the
 * environment variable, keys may also be separated by commas.
 */
import { createHash, randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { KEY_BYTES, type SecretKey } from './key-ring.js';
import { KEY_ID_PATTERN } from './sealed-secret.js';

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The id of a key given without one. */
export function derivedKeyId(key: Buffer): string {
  return `k${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}

/**
 * Parses key text; `from` names its source in errors (never the key itself). `commas`: keys may
 * also be separated by commas (the environment variable; a file's comments may hold commas).
 */
export function parseKeyText(text: string, from: string, options: { commas?: boolean } = {}): SecretKey[] {
  const keys: SecretKey[] = [];
  const lines = text.split(options.commas ? /\r?\n|,/ : /\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const id = colon < 0 ? undefined : line.slice(0, colon).trim();
    const b64 = (colon < 0 ? line : line.slice(colon + 1)).trim();
    const where = `${from}, key ${keys.length + 1}${lines.length > 1 ? ` (line ${i + 1})` : ''}`;
    if (id !== undefined && !KEY_ID_PATTERN.test(id)) throw new InvalidArgumentError(`${where}: the key id must match ${KEY_ID_PATTERN}`);
    const key = BASE64.test(b64) ? Buffer.from(b64, 'base64') : Buffer.alloc(0);
    if (key.length !== KEY_BYTES) throw new InvalidArgumentError(`${where}: a key is the base64 of ${KEY_BYTES} random bytes (e.g. \`openssl rand -base64 32\`)`);
    const keyId = id ?? derivedKeyId(key);
    if (keys.some((k) => k.id === keyId)) throw new InvalidArgumentError(`${where}: key id "${keyId}" is given twice`);
    keys.push({ id: keyId, key });
  });
  if (keys.length === 0) throw new InvalidArgumentError(`${from} holds no key`);
  return keys;
}

/** A new random key as one line of a key file. */
export function newKeyLine(): string {
  const key = randomBytes(KEY_BYTES);
  return `${derivedKeyId(key)}:${key.toString('base64')}`;
}

/**
 * SCRAM-SHA-256 verifiers (RFC 5802 / 7677) as PostgreSQL stores them in `pg_authid`:
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. A role's password is set by
 * handing the server this verifier rather than the password itself, so the plain password
 * never reaches the server's statement log, `pg_stat_activity` or a replica's WAL.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/** PostgreSQL's own default (`scram_iterations`). */
const ITERATIONS = 4096;
const SALT_BYTES = 16;

function keysOf(password: string, salt: Buffer, iterations: number): { storedKey: Buffer; serverKey: Buffer } {
  // PostgreSQL runs SASLprep on the password first; the passwords jetsaga makes are ASCII, for
  // which SASLprep changes nothing.
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  return { storedKey: createHash('sha256').update(clientKey).digest(), serverKey: createHmac('sha256', salted).update('Server Key').digest() };
}

/** A verifier for `password` with a fresh random salt. */
export function scramVerifier(password: string, salt: Buffer = randomBytes(SALT_BYTES), iterations = ITERATIONS): string {
  const { storedKey, serverKey } = keysOf(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Whether `verifier` (as read from `pg_authid.rolpassword`) accepts `password`. */
export function scramMatches(verifier: string, password: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(verifier);
  if (!m) return false;
  const { storedKey } = keysOf(password, Buffer.from(m[2]!, 'base64'), Number(m[1]));
  const expected = Buffer.from(m[3]!, 'base64');
  return expected.length === storedKey.length && timingSafeEqual(expected, storedKey);
}

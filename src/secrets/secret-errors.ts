/**
 * The two ways a sealed secret cannot be used, as terminal errors with stable codes: the key it
 * was sealed with is not in this coordinator's key ring (SECRETS_KEY_MISSING), or it does not
 * decrypt with the key of its id (SECRET_UNREADABLE: tampered with, moved to another app or
 * variable, or a different key under the same id). Terminal: retrying cannot bring a key, so a
 * build needing it rolls back at once and a deploy or rollback needing it is refused.
 */
import { TerminalError } from '../errors.js';

export const SecretErrorCode = {
  KeyMissing: 'SECRETS_KEY_MISSING',
  Unreadable: 'SECRET_UNREADABLE',
} as const;

/** Where a coordinator's keys come from, for messages that tell an operator what to fix. */
export const SECRETS_KEY_HINT = '--secrets-key-file <file> (or JETSAGA_SECRETS_KEY_FILE / JETSAGA_SECRETS_KEY)';

export class SecretsKeyMissingError extends TerminalError {
  override name = 'SecretsKeyMissingError';
  constructor(what: string, keyId: string, known: readonly string[]) {
    super(
      `${what} was sealed with secrets key "${keyId}", which this coordinator does not hold (it holds: ${known.length ? known.join(', ') : 'none'}); ` +
        `start it with ${SECRETS_KEY_HINT} naming a key file that holds key "${keyId}"`,
      { code: SecretErrorCode.KeyMissing, status: 500, details: { keyId, known: [...known] } },
    );
  }
}

export class SecretUnreadableError extends TerminalError {
  override name = 'SecretUnreadableError';
  constructor(what: string, keyId: string | null, reason: string) {
    super(
      `${what} cannot be decrypted${keyId === null ? '' : ` with secrets key "${keyId}"`}: ${reason}; ` +
        `check that ${SECRETS_KEY_HINT} holds the key it was sealed with`,
      { code: SecretErrorCode.Unreadable, status: 500, details: keyId === null ? {} : { keyId } },
    );
  }
}

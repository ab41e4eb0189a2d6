/** Secrets: sealed on receipt, journaled sealed, opened only for the process that runs with them. */
export { SecretKeyRing, KEY_BYTES, type SecretKey } from './key-ring.js';
export { derivedKeyId, newKeyLine, parseKeyText } from './key-text.js';
export { GENERATED_KEY_FILE, loadSecretKeys, SECRETS_KEY_ENV, type KeySourceOptions, type LoadedKeys } from './key-source.js';
export { isSealedSecret, type SealedSecret } from './sealed-secret.js';
export { isSealedEnv, openEnv, sealEnv, type SealedEnv } from './secret-env.js';
export { REDACTED, redactedJson, redactSealed } from './redact.js';
export { SECRETS_KEY_HINT, SecretErrorCode, SecretsKeyMissingError, SecretUnreadableError } from './secret-errors.js';

/**
 * Errors of addon provisioning, with stable codes. Whether the saga retries or compensates is
 * decided here, from what PostgreSQL (or the network) said: an unreachable or restarting
 * server is retried, a refusal that retrying cannot change (bad credentials, a name in use by
 * something jetsaga did not make) is terminal.
 */
import { RetryableError, SagaError, TerminalError } from '../errors.js';

export const AddonErrorCode = {
  /** An app asks for an addon kind this coordinator has no provider for. */
  ProviderMissing: 'ADDON_PROVIDER_MISSING',
  /** The provider's server cannot be reached now (retryable). */
  ProviderUnavailable: 'ADDON_PROVIDER_UNAVAILABLE',
  /** The provider's server refused the work (bad credentials, no privilege, ...). */
  ProviderFailed: 'ADDON_PROVIDER_FAILED',
  /** The role or database an addon needs exists and was not made by jetsaga for that addon. */
  NameTaken: 'ADDON_NAME_TAKEN',
  /** Another saga is provisioning the same addon (retryable: it finishes or rolls back). */
  Busy: 'ADDON_BUSY',
  /** An addon's env var is set twice, or its URL was provisioned for another app. */
  EnvConflict: 'ADDON_ENV_CONFLICT',
  /** The addon was made on another server than the one the provider is configured with now. */
  ServerChanged: 'ADDON_SERVER_CHANGED',
  /** No such addon (the CLI's `addons show`). */
  UnknownAddon: 'UNKNOWN_ADDON',
} as const;
export type AddonErrorCode = (typeof AddonErrorCode)[keyof typeof AddonErrorCode];

/** The flag and variable that configure each kind's provider, for messages. */
export const PROVIDER_SETTING = { postgres: '--addon-postgres <url> (or JETSAGA_ADDON_POSTGRES)' } as const;

export function providerMissing(kind: keyof typeof PROVIDER_SETTING, app: string, name: string): TerminalError {
  return new TerminalError(`app "${app}" asks for a ${kind} addon "${name}", but this coordinator has no ${kind} provider: start it with ${PROVIDER_SETTING[kind]}`, {
    code: AddonErrorCode.ProviderMissing,
    status: 400,
    details: { app, name, kind },
  });
}

export function nameTaken(what: 'role' | 'database', identifier: string, owner: string): TerminalError {
  return new TerminalError(
    `the PostgreSQL ${what} "${identifier}" exists but was not made by jetsaga for this addon (${owner}); jetsaga neither takes it over nor drops it — rename or remove it, or give the addon another name`,
    { code: AddonErrorCode.NameTaken, status: 409, details: { what, identifier } },
  );
}

/** SQLSTATE classes and codes that a later attempt may not get (RFC: PostgreSQL appendix A). */
const TRANSIENT_SQLSTATE = /^(08|40|53|57P0[1-3]|55006|55P03|2BP01)/;
/** Errors of the socket rather than of the server's answer. */
const TRANSIENT_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND']);

/**
 * A failure talking to the addon server, as the saga should see it. `what` says what was being
 * done ("create role shop_db"); `server` is the redacted URL.
 */
export function providerError(err: unknown, what: string, server: string): SagaError {
  if (err instanceof SagaError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : String(err);
  const details = { server, ...(code ? { cause: code } : {}) };
  if (TRANSIENT_ERRNO.has(code) || TRANSIENT_SQLSTATE.test(code) || /timeout|Connection terminated/i.test(message)) {
    return new RetryableError(`cannot ${what} on ${server}: ${message}`, { code: AddonErrorCode.ProviderUnavailable, status: 503, details, cause: err });
  }
  return new TerminalError(`${what} on ${server} failed: ${message}${code ? ` (${code})` : ''}`, { code: AddonErrorCode.ProviderFailed, status: 502, details, cause: err });
}

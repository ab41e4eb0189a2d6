/**
 * The name rules shared by app.toml's validation and the deploy-time checks, so that an env
 * var or service name accepted in one place is never refused in the other.
 */

/** Environment variable names: upper case, digits and `_`, not starting with a digit. */
export const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

/** What an invalid env var name is told. */
export const ENV_NAME_RULE = 'is not a valid environment variable name (A–Z, 0–9 and _, not starting with a digit)';

/**
 * Variables the sandbox sets itself for every version: an app that set them would silently
 * lose its value (PORT is chosen per sandbox; `[run] port` pins it instead).
 */
export const RESERVED_ENV: Readonly<Record<string, string>> = {
  PORT: 'is set by the sandbox to the port the web process must listen on; use [run] port to pin one',
};

/** App and service names: a DNS label (lower case letters, digits, `-`; 1–63 characters). */
export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** What an invalid app or service name is told. */
export const DNS_LABEL_RULE = 'must be 1–63 lower-case letters, digits or "-", starting and ending with a letter or digit';

/** The longest env var value accepted, in characters: config is journaled, so it stays small. */
export const MAX_ENV_VALUE_CHARS = 32 * 1024;

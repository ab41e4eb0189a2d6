/**
 * Secret env vars of an app: sealed one by one, each bound to the app and its variable name, so
 * that a sealed value is only ever opened as the variable it was given for.
 */
import type { SecretKeyRing } from './key-ring.js';
import { isSealedSecret, type SealedSecret } from './sealed-secret.js';

/** Env var name → sealed value: what journals, step outputs and records hold. */
export type SealedEnv = Readonly<Record<string, SealedSecret>>;

function contextOf(app: string, name: string): string {
  return `app=${app}\0env=${name}`;
}

function what(app: string, name: string): string {
  return `secret ${name} of app "${app}"`;
}

export function isSealedEnv(value: unknown): value is SealedEnv {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every(isSealedSecret);
}

/**
 * Seals each value with the ring's current key. A value of `reuse` (what an earlier start of
 * the same saga journaled) that opens to the same plain text is kept as it is, so that
 * repeating a deploy under its id finds the same input and starts nothing new.
 */
export function sealEnv(ring: SecretKeyRing, app: string, plain: Readonly<Record<string, string>>, reuse?: SealedEnv): SealedEnv {
  const out: Record<string, SealedSecret> = {};
  for (const name of Object.keys(plain).sort()) {
    const earlier = reuse?.[name];
    out[name] = earlier && ring.open(earlier, contextOf(app, name), what(app, name)) === plain[name] ? earlier : ring.seal(plain[name]!, contextOf(app, name));
  }
  return out;
}

/**
 * The plain values, for the process that needs them and nothing else (never journal, log or
 * return them).
 * @throws SecretsKeyMissingError / SecretUnreadableError naming the variable and the key id
 */
export function openEnv(ring: SecretKeyRing, app: string, sealed: SealedEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(sealed)) out[name] = ring.open(value, contextOf(app, name), what(app, name));
  return out;
}

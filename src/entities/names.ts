/**
 * Argument checks of the entity stores: every name becomes a token of a KV key, so each is
 * checked before any I/O and refused with INVALID_ARGUMENT naming what was wrong.
 */
import { InvalidArgumentError } from '../errors.js';
import { assertSagaId } from '../journal/saga-id.js';

/** Saga ids as the runtime takes them (1–128 of `[A-Za-z0-9_-]`). */
export { assertSagaId };

/** App names: lower-case letters, digits and `-`, starting with a letter or digit, 1–63 long. */
export const APP_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Sandbox ids, as the sandbox controller takes them: 1–128 of `[A-Za-z0-9_-]`. */
export const SANDBOX_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

const show = (v: unknown): string => JSON.stringify(v) ?? String(v);

/** Throws INVALID_ARGUMENT unless `name` matches APP_NAME_PATTERN. */
export function assertAppName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !APP_NAME_PATTERN.test(name)) {
    throw new InvalidArgumentError(
      `invalid app name ${show(name)}: use 1–63 of [a-z0-9-], starting with a letter or digit`,
      { app: name },
    );
  }
}

/** Version numbers (and config version numbers) are allocated from 1 upwards. */
export function assertVersionNumber(n: unknown, what = 'version'): asserts n is number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`invalid ${what} ${show(n)}: must be an integer ≥ 1`, { [what]: n });
  }
}

/** Throws INVALID_ARGUMENT unless `id` matches SANDBOX_ID_PATTERN. */
export function assertSandboxId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !SANDBOX_ID_PATTERN.test(id)) {
    throw new InvalidArgumentError(`invalid sandbox id ${show(id)}: use 1–128 of [A-Za-z0-9_-]`, { sandboxId: id });
  }
}

/** A duration or instant in milliseconds: a finite, non-negative integer (positive if `positive`). */
export function assertMillis(ms: unknown, what: string, positive = false): asserts ms is number {
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < (positive ? 1 : 0)) {
    throw new InvalidArgumentError(`invalid ${what} ${show(ms)}: must be an integer number of milliseconds${positive ? ' > 0' : ''}`, {
      [what]: ms,
    });
  }
}

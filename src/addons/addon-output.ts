/**
 * Reads what a finished postgres-addon saga handed its parent: its output (a kit saga's
 * `{ outputs, error, warnings }`) holds the provisioned addons under `outputs.ready.addons`.
 * Checked here, so a parent never seals a malformed value into a version's env.
 */
import { z } from 'zod';
import { AddonPlaceSchema } from '../entities/records.js';
import { InvalidArgumentError } from '../errors.js';
import type { ProvisionedAddon } from './addon-steps.js';

const ProvisionedSchema = AddonPlaceSchema.extend({
  env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/),
  reused: z.boolean(),
});

/**
 * The addons a completed postgres-addon saga made or reused, from what its parent was given:
 * the saga's output or a child step's result (`{ outputs: { ready: { addons } } }`), or the list
 * itself. INVALID_ARGUMENT when it holds none.
 */
export function provisionedAddonsOf(value: unknown): ProvisionedAddon[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : (value as { outputs?: { ready?: { addons?: unknown } } }).outputs?.ready?.addons;
  if (!Array.isArray(list)) throw new InvalidArgumentError('not the output of a completed postgres-addon saga: it has no outputs.ready.addons');
  return list.map((a) => parseProvisionedAddon(a));
}

/** `value` checked as a provisioned addon (an element of the `ready` step's `addons`). INVALID_ARGUMENT otherwise. */
export function parseProvisionedAddon(value: unknown): ProvisionedAddon {
  const parsed = ProvisionedSchema.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(`not a provisioned addon: ${z.prettifyError(parsed.error)}`);
  return parsed.data as ProvisionedAddon;
}

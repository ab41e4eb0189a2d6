/**
 * Reads what a finished postgres-addon saga handed its parent: its output (a kit saga's
 * `{ outputs, error, warnings }`) holds the provisioned addon under `outputs.ready`. Checked
 * here, so a parent never seals a malformed value into a version's env.
 */
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.js';
import type { ProvisionedAddon } from './addon-steps.js';

const ProvisionedSchema = z.looseObject({
  app: z.string(),
  name: z.string(),
  kind: z.string(),
  role: z.string(),
  database: z.string(),
  host: z.string(),
  port: z.int(),
  env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/),
  url: z.strictObject({ $secret: z.string() }),
  reused: z.boolean(),
  createdBy: z.string(),
});

/** The addon a completed postgres-addon saga made or reused. INVALID_ARGUMENT when it holds none. */
export function provisionedAddonOf(sagaOutput: unknown): ProvisionedAddon {
  return parseProvisionedAddon((sagaOutput as { outputs?: { ready?: unknown } } | null)?.outputs?.ready, 'the output of a completed postgres-addon saga');
}

/** `value` checked as a provisioned addon (a `ready` step's output). INVALID_ARGUMENT otherwise. */
export function parseProvisionedAddon(value: unknown, what = 'a provisioned addon'): ProvisionedAddon {
  const parsed = ProvisionedSchema.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(`not ${what}: ${z.prettifyError(parsed.error)}`);
  return parsed.data as ProvisionedAddon;
}

/**
 * How a new version gets its addons' URLs: each provisioned addon's URL, sealed for the app and
 * its env var (`DATABASE_URL`), joins the version's secret env as it is — journaled and stored
 * sealed like the deploy's own secrets, opened only for the sandbox's processes.
 */
import { TerminalError } from '../errors.js';
import { AddonErrorCode } from './addon-errors.js';
import type { PreparedConfig } from '../build/app/prepare-config.js';
import { isSealedSecret, type SealedEnv, type SealedSecret } from '../secrets/index.js';
import type { ProvisionedAddon } from './addon-steps.js';

/** Env var name → sealed URL, for every addon. */
export function addonSecretEnv(addons: readonly Pick<ProvisionedAddon, 'env' | 'url'>[]): SealedEnv {
  const out: Record<string, SealedSecret> = {};
  for (const a of addons) out[a.env] = a.url;
  return out;
}

/**
 * `prepared` (from `prepareConfig`, which already refused a deploy request that sets an
 * addon's variable) with the addons' URLs among its sealed secrets, sorted by name.
 * @throws TerminalError ADDON_ENV_CONFLICT when a variable is set twice anyway
 */
export function withAddonSecrets(prepared: PreparedConfig, addons: readonly Pick<ProvisionedAddon, 'name' | 'env' | 'url'>[]): PreparedConfig {
  if (addons.length === 0) return prepared;
  const secrets: Record<string, SealedSecret> = { ...(prepared.secrets ?? {}) };
  for (const a of addons) {
    if (!isSealedSecret(a.url)) throw new TerminalError(`addon "${a.name}" has no sealed URL`, { code: AddonErrorCode.EnvConflict, details: { name: a.name } });
    if (Object.hasOwn(secrets, a.env) || Object.hasOwn(prepared.env, a.env)) {
      throw new TerminalError(`${a.env} is set both by the deploy and by the addon "${a.name}"`, { code: AddonErrorCode.EnvConflict, status: 400, details: { name: a.name, env: a.env } });
    }
    secrets[a.env] = a.url;
  }
  const sorted = Object.fromEntries(Object.entries(secrets).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  return { ...prepared, secrets: sorted };
}

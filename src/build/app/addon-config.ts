/**
 * The deploy-time checks of app.toml's `[[addons]]`: each kind asked for has a provider on this
 * coordinator (else the flag that configures one is named), and the env var each addon's URL
 * is given as is not also set by the deploy request (app.toml's `[env]` may hold a development
 * default; the addon's URL replaces it, as a secret does).
 */
import { addonEnvName } from '../../addons/addon-names.js';
import { PROVIDER_SETTING } from '../../addons/addon-errors.js';
import type { ConfigProblem } from './app-config-error.js';
import type { AppConfig } from './app-config-schema.js';
import { formatKeyPath } from './key-path.js';

/** Where a problem of app.toml is: its key and line. */
type At = (key: string) => Pick<ConfigProblem, 'file' | 'key' | 'line'>;

/** The env vars the app's addons give it, by name → the addon's key in app.toml (`addons[0]`). */
export function addonEnv(config: AppConfig): Map<string, string> {
  return new Map((config.addons ?? []).map((a, i) => [addonEnvName(a.name), `addons[${i}]`]));
}

/**
 * Problems of the app's addons on this coordinator. `offered`: the kinds with a provider;
 * `requestEnv` and `requestSecrets`: the names the deploy request sets.
 */
export function addonProblems(
  config: AppConfig,
  offered: readonly string[],
  request: { readonly env: readonly string[]; readonly secrets: readonly string[] },
  at: At,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  (config.addons ?? []).forEach((a, i) => {
    if (offered.includes(a.kind)) return;
    const setting = PROVIDER_SETTING[a.kind as keyof typeof PROVIDER_SETTING] ?? 'a provider for it';
    problems.push({ ...at(`addons[${i}].kind`), reason: `asks for a ${a.kind} addon ("${a.name}"), but this coordinator has no ${a.kind} provider: start it with ${setting}` });
  });
  for (const [name, key] of addonEnv(config)) {
    for (const [field, names] of [['env', request.env], ['secretEnv', request.secrets]] as const) {
      if (names.includes(name)) {
        problems.push({ file: 'deploy request', key: formatKeyPath([field, name]), reason: `is set by the app's addon (app.toml ${key}) to its database's URL; leave it out of the deploy` });
      }
    }
  }
  return problems;
}

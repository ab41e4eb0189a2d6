/**
 * Addons: resources an app's deploys share, made by a provider — for now a PostgreSQL role and
 * database per `[[addons]] kind = "postgres"` of app.toml — by the postgres-addon saga
 * (machines/postgres-addon.machine.ts), which a build runs as a child.
 */
export { ADDON_KINDS, ADDON_NAME_PATTERN, ADDON_NAME_RULE, AddonKind, DEFAULT_ADDON_NAME, addonEnvName, addonIdentifier, assertAddonName } from './addon-names.js';
export { AddonErrorCode, PROVIDER_SETTING, providerMissing } from './addon-errors.js';
export { addonSecretEnv, withAddonSecrets } from './addon-env.js';
export { parseProvisionedAddon, provisionedAddonsOf } from './addon-output.js';
export { offeredAddonKinds, openAddonProviders, type AddonProviderOptions, type AddonProviders } from './addon-providers.js';
export { addonSteps, type AddonClaim, type AddonClaims, type AddonsReady, type ProvisionedAddon } from './addon-steps.js';
export { PostgresAdmin, type AddonOwner, type DropOutcome } from './postgres-admin.js';
export { appDatabaseUrl, parsePostgresUrl, redactedDatabaseUrl, type PostgresServer } from './postgres-url.js';

/**
 * Where each entity lives in the one entities bucket. The first token names the kind, so a
 * listing of one kind (or of one app's records of a kind) is a prefix the server filters on
 * whole tokens: `ver.shop.` never matches `ver.shop-2.*`.
 */

/** The key of each record, and the prefix of each listing. */
export const EntityKeys = {
  app: (app: string): string => `app.${app}`,
  apps: 'app.',
  /** The per-app version counter. */
  counter: (app: string): string => `seq.${app}`,
  /** Which version number a saga was allocated: lets a repeated allocation find its number. */
  allocation: (app: string, sagaId: string): string => `alloc.${app}.${sagaId}`,
  version: (app: string, version: number): string => `ver.${app}.${version}`,
  versions: (app: string): string => `ver.${app}.`,
  config: (app: string, version: number): string => `cfg.${app}.${version}`,
  configs: (app: string): string => `cfg.${app}.`,
  sandbox: (app: string, id: string): string => `sbx.${app}.${id}`,
  sandboxes: (app?: string): string => (app === undefined ? 'sbx.' : `sbx.${app}.`),
  lock: (app: string): string => `lock.${app}`,
  locks: 'lock.',
  addon: (app: string, name: string): string => `addon.${app}.${name}`,
  addons: (app?: string): string => (app === undefined ? 'addon.' : `addon.${app}.`),
} as const;

/** The last token of a key (a version number, a sandbox id, an app name). */
export function lastToken(key: string): string {
  return key.slice(key.lastIndexOf('.') + 1);
}

/**
 * Where apps' images live in the registry: one repository per app, one tag per version, so a
 * deployed version's image can be found (and deleted) from the app's name and version alone.
 */

/** The repository of an app's images, e.g. `apps/web`. */
export function appRepository(app: string): string {
  return `apps/${app}`;
}

/** The tag of an app version's image, e.g. `v3`. */
export function versionTag(version: number): string {
  return `v${version}`;
}

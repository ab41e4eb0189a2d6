/**
 * The parts of a Node app's package.json that decide how it is built and run. A broken
 * package.json is the user's to fix, so it is an `AppConfigError` naming the file (and the
 * line, when V8 says where the JSON broke).
 */
import { AppConfigError } from './app-config-error.js';
import { readAppFile } from './read-app-file.js';

export const PACKAGE_JSON = 'package.json';

/** What the node stack reads from package.json; absent fields are absent, wrong types ignored. */
export interface PackageInfo {
  readonly main?: string;
  readonly startScript?: string;
  readonly buildScript?: string;
  readonly hasDependencies: boolean;
  readonly hasDevDependencies: boolean;
}

/** Reads `dir/package.json`; null when there is none. */
export async function readPackageJson(dir: string): Promise<PackageInfo | null> {
  const text = await readAppFile(dir, PACKAGE_JSON, 1024 * 1024);
  return text === null ? null : parsePackageJson(text);
}

/** Parses the text of a package.json (pure). */
export function parsePackageJson(text: string): PackageInfo {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    const reason = (e as Error).message.replace(/ in JSON at position \d+.*$/, '').replace(/, ".*" is not valid JSON$/, '');
    const at = /at position (\d+)/.exec((e as Error).message);
    const line = at ? text.slice(0, Number(at[1])).split('\n').length : undefined;
    throw new AppConfigError({ file: PACKAGE_JSON, ...(line ? { line } : {}), reason: `is not valid JSON: ${reason}` }, { cause: e });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new AppConfigError({ file: PACKAGE_JSON, reason: 'must hold a JSON object' });
  }
  const pkg = data as Record<string, unknown>;
  const scripts = isObject(pkg.scripts) ? pkg.scripts : {};
  return {
    ...(nonEmptyString(pkg.main) ? { main: pkg.main.trim() } : {}),
    ...(nonEmptyString(scripts.start) ? { startScript: scripts.start } : {}),
    ...(nonEmptyString(scripts.build) ? { buildScript: scripts.build } : {}),
    hasDependencies: isObject(pkg.dependencies) && Object.keys(pkg.dependencies).length > 0,
    hasDevDependencies: isObject(pkg.devDependencies) && Object.keys(pkg.devDependencies).length > 0,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.trim() !== '';
}

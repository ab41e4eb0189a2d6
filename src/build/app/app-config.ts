/**
 * Loads and validates `app.toml` (schema and defaults: `app-config-schema.ts`). Every problem
 * comes back as an `AppConfigError` naming the key and its line — smol-toml reports syntax
 * errors with a line and column, and `locateKeys` finds the line of each key for the errors
 * zod reports by path.
 */
import { parse, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { AppConfigError, type ConfigProblem } from './app-config-error.js';
import { APP_CONFIG_DEFAULTS, AppConfigSchema, KNOWN_KEYS, type AppConfig } from './app-config-schema.js';
import { formatKeyPath, type KeyPath } from './key-path.js';
import { assertAppDir, readAppFile } from './read-app-file.js';
import { locateKeys, positionOf, type KeyPositions } from './toml-positions.js';

export type { AppConfig, StackName } from './app-config-schema.js';

/** The file name, relative to the app's dir. */
export const APP_CONFIG_FILE = 'app.toml';

/** The config of an app without app.toml. */
export const DEFAULT_APP_CONFIG: AppConfig = Object.freeze({
  build: Object.freeze({ timeout: APP_CONFIG_DEFAULTS.timeout }),
  run: Object.freeze({ health: APP_CONFIG_DEFAULTS.health }),
  env: Object.freeze({}),
  require: Object.freeze({ env: Object.freeze([]), services: Object.freeze([]) }),
  source: 'defaults',
  lines: Object.freeze({}),
});

/** Keys whose lines `AppConfig.lines` keeps: the ones later checks and messages point at. */
const KEPT_LINES = /^(name|stack|run\.web|run\.port|require\.(env|services)\[\d+\]|addons\[\d+\](\.(kind|name))?)$/;

/**
 * Reads `dir/app.toml`; a missing file gives {@link DEFAULT_APP_CONFIG}.
 *
 * @throws AppConfigError (`APP_CONFIG_INVALID`, 400, terminal) for a file that is not valid
 *   TOML, breaks the schema, is not a regular file, is over 64 KiB or is not UTF-8.
 * @throws TerminalError `APP_DIR_MISSING` when `dir` is not a directory.
 * @example
 * const config = await loadAppConfig(stagedDir);
 * config.build.timeout; // 600 unless app.toml says otherwise
 */
export async function loadAppConfig(dir: string): Promise<AppConfig> {
  await assertAppDir(dir);
  const text = await readAppFile(dir, APP_CONFIG_FILE);
  return text === null ? DEFAULT_APP_CONFIG : parseAppConfig(text);
}

/** Validates the text of an app.toml (pure; what `loadAppConfig` does after reading). */
export function parseAppConfig(text: string): AppConfig {
  let data: unknown;
  try {
    data = parse(text, { unsafeKeyBehaviour: 'throw', maxDepth: 32 });
  } catch (e) {
    if (e instanceof TomlError) {
      const reason = (e.message.split('\n')[0] ?? '').replace(/^Invalid TOML document:\s*/, '') || 'is not valid TOML';
      throw new AppConfigError({ file: APP_CONFIG_FILE, line: e.line, column: e.column, reason: `invalid TOML: ${reason}` }, { cause: e });
    }
    throw e;
  }
  const positions = locateKeys(text);
  const result = AppConfigSchema.safeParse(data);
  if (!result.success) throw new AppConfigError(result.error.issues.flatMap((issue) => problemsOf(issue, [], data, positions)));
  const lines: Record<string, number> = {};
  for (const [key, pos] of positions) if (KEPT_LINES.test(key)) lines[key] = pos.line;
  const { name, stack, build, run, env, require, addons } = result.data;
  return {
    ...(name === undefined ? {} : { name }),
    ...(stack === undefined ? {} : { stack }),
    build,
    run,
    env: { ...env },
    require,
    // Only when there are some: a config without addons is what it always was.
    ...(addons.length > 0 ? { addons } : {}),
    source: 'app.toml',
    lines,
  };
}

/** One zod issue as the problems a user reads (an unknown-keys issue is one per key). */
function problemsOf(issue: z.core.$ZodIssue, base: KeyPath, data: unknown, positions: KeyPositions): ConfigProblem[] {
  const path: KeyPath = [...base, ...(issue.path as ReadonlyArray<string | number>)];
  const at = (p: KeyPath): ConfigProblem => {
    const pos = positionOf(positions, p);
    return { file: APP_CONFIG_FILE, key: formatKeyPath(p) || '(the document)', ...(pos ? { line: pos.line } : {}), reason: '' };
  };
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ ...at([...path, key]), reason: unknownKeyReason(path, key) }));
    case 'invalid_key':
      // A record's key (an [env] name): the path ends with the key itself.
      return [{ ...at(path), reason: issue.issues[0]?.message ?? 'is not a valid key' }];
    case 'invalid_union': {
      // Report the branch that got furthest (`web = ["node", 1]` is an argv with a bad
      // element, not "neither a string nor an array").
      const deepest = issue.errors
        .filter((branch) => branch.length > 0 && branch.every((i) => i.path.length > 0))
        .sort((a, b) => Math.max(...b.map((i) => i.path.length)) - Math.max(...a.map((i) => i.path.length)))[0];
      if (deepest) return deepest.flatMap((i) => problemsOf(i, path, data, positions));
      return [{ ...at(path), reason: issue.message + found(valueAt(data, path), true) }];
    }
    default: {
      const typeProblem = issue.code === 'invalid_type' || issue.code === 'invalid_value';
      return [{ ...at(path), reason: issue.message + found(valueAt(data, path), typeProblem) }];
    }
  }
}

function unknownKeyReason(table: KeyPath, key: string): string {
  const name = formatKeyPath(table);
  // The tables of an array share their keys: `addons[1]` knows what `addons` does.
  const known = KNOWN_KEYS[name.replace(/\[\d+\]$/, '')] ?? [];
  const where = name === '' ? 'at the top level' : `in [${name}]`;
  const close = known.find((k) => editDistance(k, key) <= 2);
  if (close !== undefined) return `is not a known key ${where}; did you mean "${close}"?`;
  return `is not a known key ${where}${known.length ? ` (known: ${known.join(', ')})` : ''}`;
}

/** `, found the integer 5`: what was there, for scalars always and for arrays/tables on type errors. */
function found(value: unknown, describeContainers: boolean): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return `, found ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number') return `, found the ${Number.isInteger(value) ? 'integer' : 'float'} ${value}`;
  if (typeof value === 'bigint') return `, found the integer ${value}`;
  if (typeof value === 'boolean') return `, found the boolean ${value}`;
  if (value instanceof Date) return ', found a date-time';
  if (!describeContainers) return '';
  if (Array.isArray(value)) return value.length > 0 && value.every(isTable) ? ', found an array of tables' : ', found an array';
  return isTable(value) ? ', found a table' : '';
}

function isTable(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function valueAt(data: unknown, path: KeyPath): unknown {
  let v: unknown = data;
  for (const seg of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = Object.hasOwn(v, seg) ? (v as Record<string | number, unknown>)[seg] : undefined;
  }
  return v;
}

/** Levenshtein distance, for "did you mean": keys are short, so the quadratic table is fine. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost));
    }
    prev = row;
  }
  return prev[b.length] as number;
}

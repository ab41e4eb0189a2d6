/**
 * Which stack an app is, from the files at the top of its source: the stack decides the
 * default build commands and web process (`stack-defaults.ts`). app.toml's `stack` skips
 * detection; an app no stack recognises still deploys if it names its web process itself.
 */
import { AppConfigError } from './app-config-error.js';
import type { AppConfig, StackName } from './app-config-schema.js';
import { listAppRoot, type AppRoot } from './app-root.js';
import { findProcess, readProcfile, type Procfile } from './procfile.js';
import { assertAppDir } from './read-app-file.js';
import { stackDefaults, type StackDefaults } from './stack-defaults.js';

/**
 * The stack an app runs on. `custom` is an app no stack recognises that names its own web
 * process (app.toml `[run] web` or a Procfile `web:` line): it gets no defaults.
 */
export interface Stack extends StackDefaults {
  readonly name: StackName | 'custom';
  /** Why: the marker files found (`package.json`), or `app.toml stack = "go"`. */
  readonly reason: string;
}

/** The files that mark each stack, in the order detection tries them. */
export const STACK_MARKERS: ReadonlyArray<readonly [StackName, readonly string[]]> = [
  ['node', ['package.json']],
  ['python', ['requirements.txt', 'pyproject.toml', 'app.py']],
  ['go', ['go.mod']],
  ['ruby', ['Gemfile', 'config.ru']],
  // Last: an index.html next to a package.json is the node app's asset, not a static site.
  ['static', ['index.html']],
];

/** Options of {@link detectStack}. */
export interface DetectStackOptions {
  /** The app's Procfile if already read (null: none); read from `dir` when omitted. */
  readonly procfile?: Procfile | null;
}

/**
 * Detects the app's stack: app.toml's `stack` if given, else the first of node, python, go,
 * ruby, static whose marker files are at the top of `dir` (when several match, `reason` says
 * which else were found and how to choose).
 *
 * @throws AppConfigError when no stack is recognised and nothing names a web process; the
 *   message lists the files looked for.
 * @throws AppConfigError for a broken package.json (read for the node defaults).
 * @example
 * const stack = await detectStack(dir, await loadAppConfig(dir));
 * // { name: 'node', reason: 'package.json', defaultWeb: ['npm', 'start'], defaultOnbuild: ['npm ci --omit=dev'], ... }
 */
export async function detectStack(dir: string, config: AppConfig, options: DetectStackOptions = {}): Promise<Stack> {
  await assertAppDir(dir);
  const root = await listAppRoot(dir);
  if (config.stack !== undefined) {
    return { name: config.stack, reason: `app.toml stack = "${config.stack}"`, ...(await stackDefaults(config.stack, root)) };
  }
  const matches = STACK_MARKERS.map(([name, markers]) => [name, markers.filter((m) => root.hasFile(m))] as const).filter(
    ([, found]) => found.length > 0,
  );
  const [first, ...others] = matches;
  if (first) {
    const [name, found] = first;
    const also = others.length
      ? ` (also found ${others.map(([n, f]) => `${f.join(', ')} (${n})`).join('; ')}; set stack in app.toml to choose another)`
      : '';
    return { name, reason: found.join(', ') + also, ...(await stackDefaults(name, root)) };
  }
  return customStack(root, config, options);
}

async function customStack(root: AppRoot, config: AppConfig, options: DetectStackOptions): Promise<Stack> {
  if (config.run.web !== undefined) return { name: 'custom', reason: 'app.toml [run] web', defaultOnbuild: [] };
  const procfile = options.procfile === undefined ? await readProcfile(root.dir) : options.procfile;
  if (findProcess(procfile, 'web')) return { name: 'custom', reason: 'Procfile web', defaultOnbuild: [] };
  const lookedFor = STACK_MARKERS.map(([name, markers]) => `${markers.join(', ')} (${name})`).join('; ');
  throw new AppConfigError({
    file: 'app.toml',
    key: 'stack',
    reason:
      `is not set and no stack was recognised: found none of ${lookedFor} at the top of the source; ` +
      'set stack or [run] web in app.toml, or add a Procfile with a "web:" line',
  });
}

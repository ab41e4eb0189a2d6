/**
 * Which command runs an app's web process: app.toml `[run] web`, else the Procfile's `web`
 * line, else the stack's default. Shell strings run under `sh -c` (so `$PORT` and `&&` work,
 * as on Heroku); an argv runs as is.
 */
import { AppConfigError } from './app-config-error.js';
import type { AppConfig } from './app-config-schema.js';
import { findProcess, type Procfile } from './procfile.js';
import type { Stack } from './stack.js';

/** Where the web command came from. */
export type WebProcessSource = 'app.toml' | 'Procfile' | 'stack';

/** The web process, decided. JSON-safe. */
export interface WebProcess {
  /** What to exec: `['sh', '-c', cmd]` for a shell command. */
  readonly argv: readonly string[];
  readonly source: WebProcessSource;
  /** For messages: `app.toml [run] web (line 7)`, `Procfile line 2`, `scripts.start in package.json`. */
  readonly from: string;
}

/** Inputs of {@link decideWebProcess}. */
export interface DecideWebProcessInput {
  readonly config: AppConfig;
  /** The parsed Procfile, or null when the app has none. */
  readonly procfile: Procfile | null;
  readonly stack: Stack;
}

/**
 * Decides the web process (pure).
 *
 * @throws AppConfigError when nothing names one, saying where it looked.
 * @example
 * decideWebProcess({ config, procfile: parseProcfile('web: node server.js --port $PORT'), stack });
 * // { argv: ['sh', '-c', 'node server.js --port $PORT'], source: 'Procfile', from: 'Procfile line 1' }
 */
export function decideWebProcess({ config, procfile, stack }: DecideWebProcessInput): WebProcess {
  const web = config.run.web;
  if (web !== undefined) {
    const line = config.lines['run.web'];
    return { argv: toArgv(web), source: 'app.toml', from: `app.toml [run] web${line === undefined ? '' : ` (line ${line})`}` };
  }
  const entry = findProcess(procfile, 'web');
  if (entry) return { argv: toArgv(entry.command), source: 'Procfile', from: `Procfile line ${entry.line}` };
  if (stack.defaultWeb && stack.defaultWeb.length > 0) {
    return { argv: [...stack.defaultWeb], source: 'stack', from: stack.defaultWebFrom ?? `the ${stack.name} stack` };
  }
  const procfileSays = procfile === null ? 'there is no Procfile' : 'the Procfile has no "web:" line';
  throw new AppConfigError({
    file: 'app.toml',
    key: 'run.web',
    reason:
      `is not set, ${procfileSays}, and the ${stack.name} stack (${stack.reason}) has no default for this app` +
      `${stackHint(stack)}; set [run] web in app.toml or add "web: <command>" to a Procfile`,
  });
}

/** A shell string as `sh -c` argv; an argv as a copy. */
export function toArgv(command: string | readonly string[]): string[] {
  return typeof command === 'string' ? ['sh', '-c', command] : [...command];
}

function stackHint(stack: Stack): string {
  switch (stack.name) {
    case 'node':
      return ' (it looks for scripts.start or main in package.json, server.js, index.js)';
    case 'python':
      return ' (it looks for app.py, main.py)';
    case 'ruby':
      return ' (it looks for config.ru, app.rb)';
    default:
      return '';
  }
}

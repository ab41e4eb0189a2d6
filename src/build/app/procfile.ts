/**
 * The Procfile: `name: command` lines naming an app's processes (Heroku's format). The build
 * saga uses its `web` line; the others are kept so a later step can show or run them.
 */
import { AppConfigError, type ConfigProblem } from './app-config-error.js';
import { assertAppDir, readAppFile } from './read-app-file.js';

/** The file name, relative to the app's dir. */
export const PROCFILE = 'Procfile';

/** One process of a Procfile. */
export interface ProcfileEntry {
  /** `[a-zA-Z0-9_-]+`. */
  readonly name: string;
  /** The shell command, trimmed. */
  readonly command: string;
  /** 1-based line in the Procfile. */
  readonly line: number;
}

/**
 * A parsed Procfile: its processes in file order. An array rather than a name-keyed object,
 * so a process named `__proto__` or `constructor` is just a name.
 */
export interface Procfile {
  readonly processes: readonly ProcfileEntry[];
}

const PROCESS_NAME = /^[a-zA-Z0-9_-]+$/;

/**
 * Parses a Procfile: `name: command` per line; blank lines and lines starting with `#` are
 * skipped; CRLF line ends are accepted.
 *
 * @throws AppConfigError naming the line, for a line without `:`, a bad process name, an
 *   empty command, or a name given twice (the message names both lines). Every bad line is
 *   reported, not only the first.
 * @example
 * parseProcfile('web: node server.js\nworker: node jobs.js').processes[0]; // { name: 'web', command: 'node server.js', line: 1 }
 */
export function parseProcfile(text: string): Procfile {
  const processes: ProcfileEntry[] = [];
  const problems: ConfigProblem[] = [];
  const seen = new Map<string, number>();
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.replace(/\r$/, '').trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const colon = trimmed.indexOf(':');
    if (colon < 0) {
      problems.push({ file: PROCFILE, line, reason: `must be "name: command", found ${quote(trimmed)} (no ":")` });
      return;
    }
    const name = trimmed.slice(0, colon).trim();
    const command = trimmed.slice(colon + 1).trim();
    if (!PROCESS_NAME.test(name)) {
      problems.push({ file: PROCFILE, line, reason: `process name ${quote(name)} must be letters, digits, "_" or "-"` });
      return;
    }
    if (command === '') {
      problems.push({ file: PROCFILE, line, key: name, reason: 'has an empty command' });
      return;
    }
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      problems.push({ file: PROCFILE, line, key: name, reason: `is defined twice (first on line ${earlier})` });
      return;
    }
    seen.set(name, line);
    processes.push({ name, command, line });
  });
  if (problems.length > 0) throw new AppConfigError(problems);
  return { processes };
}

/**
 * Reads and parses `dir/Procfile`; null when there is none.
 *
 * @throws AppConfigError for an invalid Procfile or one that is not a small UTF-8 regular file.
 */
export async function readProcfile(dir: string): Promise<Procfile | null> {
  await assertAppDir(dir);
  const text = await readAppFile(dir, PROCFILE);
  return text === null ? null : parseProcfile(text);
}

/** The entry of process `name`, if the Procfile has one. */
export function findProcess(procfile: Procfile | null | undefined, name: string): ProcfileEntry | undefined {
  return procfile?.processes.find((p) => p.name === name);
}

function quote(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
}

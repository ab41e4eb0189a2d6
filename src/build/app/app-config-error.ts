/**
 * The one error the build saga raises for an app's own files (app.toml, Procfile,
 * package.json) and for a deploy request that does not fit them. It is the user's to fix, so
 * it is terminal (a retry reads the same files) and every problem names the file, the key and
 * the line, the way a compiler would: `app.toml:7: build.onbuild[1] must be a string`.
 */
import { TerminalError } from '../../errors.js';

/** The stable code of every {@link AppConfigError}. */
export const APP_CONFIG_INVALID = 'APP_CONFIG_INVALID';

/** One thing wrong with an app's configuration, located as precisely as the source allows. */
export interface ConfigProblem {
  /** The file at fault, relative to the app's dir (`app.toml`, `Procfile`), or `deploy request`. */
  readonly file: string;
  /** The key in the file's terms: `build.onbuild[1]`, `env.NODE_ENV`, a Procfile process name. */
  readonly key?: string;
  /** 1-based line of the key (or of the syntax error). */
  readonly line?: number;
  /** 1-based column, given for syntax errors. */
  readonly column?: number;
  /** What is wrong, phrased to follow the key: `must be a string, found the integer 5`. */
  readonly reason: string;
}

/** At most this many problems are kept in `details`: enough to fix a file in one go, still small JSON. */
const MAX_PROBLEMS = 20;

/**
 * An app's configuration is invalid. `details` holds the first problem's `file`, `key`, `line`,
 * `column` and `reason` at the top level and, when there are several, all of them (up to 20)
 * in `problems`, ordered by file and line.
 */
export class AppConfigError extends TerminalError {
  override name = 'AppConfigError';
  /** Every problem found (ordered), not only the first. */
  readonly problems: readonly ConfigProblem[];

  constructor(problems: ConfigProblem | readonly ConfigProblem[], options: { cause?: unknown } = {}) {
    const list = sortProblems(Array.isArray(problems) ? (problems as readonly ConfigProblem[]) : [problems as ConfigProblem]);
    const first = list[0] ?? { file: 'app.toml', reason: 'is invalid' };
    const kept = list.slice(0, MAX_PROBLEMS);
    const more = list.length - 1;
    const message =
      formatProblem(first) +
      (more > 0 ? ` (and ${more} more: ${kept.slice(1).map(formatProblem).join('; ')}${list.length > kept.length ? '; …' : ''})` : '');
    const details: Record<string, unknown> = { ...first };
    if (list.length > 1) details.problems = kept;
    super(message, { code: APP_CONFIG_INVALID, status: 400, details, cause: options.cause });
    this.problems = list;
  }
}

/** `app.toml:7: build.onbuild[1] must be a string`; `app.toml:3:9: expected "="` without a key. */
export function formatProblem(p: ConfigProblem): string {
  let where = p.file;
  if (p.line !== undefined) where += `:${p.line}`;
  if (p.line !== undefined && p.column !== undefined && p.key === undefined) where += `:${p.column}`;
  return `${where}: ${p.key === undefined ? '' : `${p.key} `}${p.reason}`;
}

function sortProblems(list: readonly ConfigProblem[]): ConfigProblem[] {
  // Files in the order they first appear; within a file by line, unlocated problems last (the
  // sort is stable, so equal lines keep the order they were found in).
  const fileRank = new Map<string, number>();
  for (const p of list) if (!fileRank.has(p.file)) fileRank.set(p.file, fileRank.size);
  return [...list].sort(
    (a, b) =>
      (fileRank.get(a.file) ?? 0) - (fileRank.get(b.file) ?? 0) ||
      (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER),
  );
}

/**
 * Reads one of the small text files an app describes itself with (app.toml, Procfile,
 * package.json) from the staged source. The tree is the user's: a file may be missing, huge,
 * a directory, a symlink or not text at all, and each of those gets an `AppConfigError` that
 * names the file rather than a raw fs error or a silently mangled read.
 */
import { lstat, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TerminalError } from '../../errors.js';
import { AppConfigError } from './app-config-error.js';

/** Files an app describes itself with are small; anything bigger is a mistake, not a config. */
export const MAX_APP_FILE_BYTES = 64 * 1024;

/** The code of the error raised when the staged source dir itself is missing. */
export const APP_DIR_MISSING = 'APP_DIR_MISSING';

/**
 * The text of `dir/name`, or null when there is no such file. Throws `AppConfigError` for a
 * file that is not a regular file (symlinks are refused: their target is outside what was
 * checked), larger than `maxBytes`, or not UTF-8; a leading byte-order mark is dropped.
 */
export async function readAppFile(dir: string, name: string, maxBytes = MAX_APP_FILE_BYTES): Promise<string | null> {
  const path = join(dir, name);
  let info;
  try {
    info = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  if (!info.isFile()) {
    const kind = info.isSymbolicLink() ? 'a symbolic link' : info.isDirectory() ? 'a directory' : 'a special file';
    throw new AppConfigError({ file: name, reason: `must be a regular file, found ${kind}` });
  }
  if (info.size > maxBytes) {
    throw new AppConfigError({ file: name, reason: `is ${info.size} bytes; at most ${maxBytes} are read` });
  }
  const bytes = await readFile(path);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    const line = lineOfFirstInvalidByte(bytes);
    throw new AppConfigError({ file: name, line, reason: 'is not valid UTF-8 text' }, { cause: e });
  }
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

/**
 * Checks that the staged source dir exists before anything reads from it: a missing dir would
 * otherwise read as "no app.toml, no Procfile" and build an empty app.
 */
export async function assertAppDir(dir: string): Promise<void> {
  try {
    if ((await stat(dir)).isDirectory()) return;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && (e as NodeJS.ErrnoException).code !== 'ENOTDIR') throw e;
  }
  throw new TerminalError(`the staged source dir ${dir} does not exist or is not a directory`, {
    code: APP_DIR_MISSING,
    status: 500,
    details: { dir },
  });
}

/** The 1-based line holding the first byte that does not decode, for the error message. */
function lineOfFirstInvalidByte(bytes: Uint8Array): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let line = 1;
  let start = 0;
  for (let k = 0; k <= bytes.length; k++) {
    if (k === bytes.length || bytes[k] === 0x0a) {
      try {
        decoder.decode(bytes.subarray(start, k));
      } catch {
        return line;
      }
      line += 1;
      start = k + 1;
    }
  }
  return line;
}

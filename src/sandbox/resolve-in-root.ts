/**
 * Path resolution as if a directory were `/`: what a container runtime does for a rootfs
 * (runc's "securejoin"). Images hold absolute symlinks (`/app -> /srv/app`) that mean a path
 * inside the image, never one on the host, and `..` at the root stays at the root. So a path
 * resolved here is always inside the root, whatever the tree's symlinks say.
 *
 * This keeps a sandbox's working dir and the static server's files inside their trees; it is
 * not a security boundary against a hostile process (the paths can change after resolution).
 */
import { lstat, readlink, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '../errors.js';

/** Linux's own limit on symlinks followed in one lookup. */
const MAX_SYMLINKS = 40;

export class SymlinkLoopError extends Error {
  override name = 'SymlinkLoopError';
  readonly code = 'ELOOP';
}

/**
 * Resolves `path` (slash-separated, absolute or relative, as seen from inside `root`) to a host
 * path under `root`, following symlinks scoped to `root`. `root` must be a real path (no
 * symlinks in it). Components that do not exist are appended as they are. Throws
 * SymlinkLoopError after 40 symlinks.
 */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  let pending = split(path);
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const candidate = join(root, ...done, part);
    let isLink = false;
    try {
      isLink = (await lstat(candidate)).isSymbolicLink();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    }
    if (!isLink) {
      done.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) throw new SymlinkLoopError(`too many symlinks resolving ${path}`);
    const target = await readlink(candidate);
    if (target.startsWith('/')) done.length = 0;
    pending = [...split(target), ...pending];
  }
  return join(root, ...done);
}

function split(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

/**
 * The host directory a sandbox runs in: `workingDir` resolved inside `rootDir`. Both must
 * exist and be directories; otherwise INVALID_ARGUMENT naming the path.
 */
export async function resolveWorkingDir(sandboxId: string, rootDir: string, workingDir: string): Promise<string> {
  const fail = (what: string): InvalidArgumentError =>
    new InvalidArgumentError(`invalid sandbox spec "${sandboxId}": ${what}`, { sandboxId, rootDir, workingDir });
  const root = await realpath(rootDir).catch(() => undefined);
  if (root === undefined) throw fail(`rootDir ${rootDir} does not exist`);
  if (!(await stat(root)).isDirectory()) throw fail(`rootDir ${rootDir} is not a directory`);
  let dir: string;
  try {
    dir = await resolveInRoot(root, workingDir);
  } catch (err) {
    throw fail(`workingDir ${workingDir} cannot be resolved in rootDir: ${err instanceof Error ? err.message : String(err)}`);
  }
  const st = await stat(dir).catch(() => undefined);
  if (!st) throw fail(`workingDir ${workingDir} does not exist in rootDir ${rootDir}`);
  if (!st.isDirectory()) throw fail(`workingDir ${workingDir} is not a directory`);
  return dir;
}

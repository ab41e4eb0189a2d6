/**
 * What a deploy of a directory uploads: the directory's tree less what `.jetsagaignore`
 * (gitignore syntax) and the defaults leave out, in byte order, with symlinks kept as links and
 * special files (sockets, fifos, devices) left out — the extractor would refuse them.
 *
 * Left out always: `.git` at any depth (version-control metadata: large, and it may hold
 * credentials in its config; the build never needs it). Left out by default, and taken back by
 * a `!` line in `.jetsagaignore` (e.g. `!node_modules/`): {@link DEFAULT_IGNORES}.
 */
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { lstat, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import ignore from 'ignore';
import { InvalidArgumentError } from '../../errors.js';
import { sortByBytes } from './byte-order.js';
import { TreeModel } from './tree-model.js';

/** The ignore file read from the top of the packed directory (nested ones are not read). */
export const IGNORE_FILE = '.jetsagaignore';

/** Left out at any depth, whatever the ignore file says. */
export const ALWAYS_IGNORED: readonly string[] = ['.git'];

/**
 * Left out unless the ignore file takes them back with a `!` line. `node_modules/`: the build
 * installs dependencies itself (its `[build] onbuild` commands) for the image's platform; a
 * developer's copy is large and holds native modules built for another machine.
 */
export const DEFAULT_IGNORES: readonly string[] = ['node_modules/'];

export interface PackSelectionOptions {
  /** The ignore file's name at the directory's top (default `.jetsagaignore`). */
  readonly ignoreFile?: string;
}

/** One path to pack. */
export type PackEntry =
  | { readonly path: string; readonly kind: 'dir' }
  | { readonly path: string; readonly kind: 'file'; readonly size: number; readonly executable: boolean }
  | { readonly path: string; readonly kind: 'symlink'; readonly target: string };

export interface PackPlan {
  /** The root directory, absolute. */
  readonly root: string;
  /** Every path to pack, in byte order (a directory before what it holds). */
  readonly entries: readonly PackEntry[];
  /** Special files left out (sockets, fifos, devices). */
  readonly skipped: readonly string[];
}

/**
 * Walks `dir` and decides what to pack. INVALID_ARGUMENT when `dir` is not a directory, or a
 * kept symlink points outside it (the extractor would refuse the archive; ignore the link or
 * replace it with what it points at).
 */
export async function planPack(dir: string, opts: PackSelectionOptions = {}): Promise<PackPlan> {
  const root = resolve(dir);
  const st = await lstat(root).catch(() => undefined);
  if (!st?.isDirectory()) throw new InvalidArgumentError(`cannot pack ${root}: not a directory`, { dir: root });
  const rules = ignore().add([...DEFAULT_IGNORES]);
  const ignoreText = await readFile(join(root, opts.ignoreFile ?? IGNORE_FILE), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  rules.add(ignoreText);

  const entries: PackEntry[] = [];
  const skipped: string[] = [];
  // Synchronous calls, one directory at a time, then a turn of the event loop: a tree of
  // 12,000 files is listed in ~0.2 s this way against ~1.5 s through fs/promises (one pool
  // round trip per lstat), and the loop is never held for more than one directory's calls.
  const walk = async (rel: string): Promise<void> => {
    const listing = readdirSync(rel === '' ? root : join(root, rel), { withFileTypes: true });
    await nextTurn();
    for (const d of listing) {
      const path = rel === '' ? d.name : `${rel}/${d.name}`;
      if (ALWAYS_IGNORED.includes(d.name)) continue;
      if (d.isDirectory()) {
        if (rules.ignores(`${path}/`)) continue;
        entries.push({ path, kind: 'dir' });
        await walk(path);
        continue;
      }
      if (rules.ignores(path)) continue;
      const abs = join(root, path);
      if (d.isSymbolicLink()) entries.push({ path, kind: 'symlink', target: readlinkSync(abs) });
      else if (d.isFile()) {
        const fst = lstatSync(abs);
        entries.push({ path, kind: 'file', size: fst.size, executable: (fst.mode & 0o111) !== 0 });
      } else skipped.push(path);
    }
  };
  await walk('');
  checkSymlinks(root, entries);
  const byPath = new Map(entries.map((e) => [e.path, e]));
  return { root, entries: sortByBytes(byPath.keys()).map((p) => byPath.get(p)!), skipped: sortByBytes(skipped) };
}

/** The paths `packDirectory` would pack, in the order it packs them. */
export async function listPackedPaths(dir: string, opts: PackSelectionOptions = {}): Promise<string[]> {
  return (await planPack(dir, opts)).entries.map((e) => e.path);
}

/** Fails early, on the user's machine, for a link the extractor would refuse. */
function checkSymlinks(root: string, entries: readonly PackEntry[]): void {
  const model = new TreeModel();
  for (const e of entries) model.set(e.path, e.kind === 'symlink' ? { kind: 'symlink', target: e.target } : e.kind === 'dir' ? { kind: 'dir' } : { kind: 'file', inode: 0, size: 0 });
  for (const e of entries) {
    if (e.kind !== 'symlink') continue;
    const where = e.target.startsWith('/') ? 'escapes' : model.resolveLink(e.path, e.target).kind;
    if (where === 'inside') continue;
    throw new InvalidArgumentError(
      `cannot pack ${root}: symlink "${e.path}" points ${where === 'loop' ? 'round in a loop' : 'outside the directory'} (${JSON.stringify(e.target)}); ` +
        `the build would refuse it: list it in ${IGNORE_FILE} or replace it with what it points at`,
      { path: e.path, target: e.target },
    );
  }
}

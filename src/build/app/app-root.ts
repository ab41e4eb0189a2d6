/**
 * The top level of a staged source tree, listed once: stack detection and its defaults ask
 * many "is there a …?" questions and should not touch the disk for each.
 */
import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, sep } from 'node:path';

/** What sits at the top of the app's dir. */
export interface AppRoot {
  readonly dir: string;
  /** A regular file (or a symlink: whatever it points at is the reader's to judge). */
  hasFile(name: string): boolean;
  hasDir(name: string): boolean;
  /** Whether a relative path inside the tree (e.g. package.json's `main`) exists; false for paths leaving it. */
  exists(relative: string): Promise<boolean>;
}

/** Lists `dir`'s top level. */
export async function listAppRoot(dir: string): Promise<AppRoot> {
  const files = new Set<string>();
  const dirs = new Set<string>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) dirs.add(entry.name);
    else if (entry.isFile() || entry.isSymbolicLink()) files.add(entry.name);
  }
  return {
    dir,
    hasFile: (name) => files.has(name),
    hasDir: (name) => dirs.has(name),
    exists: async (relative) => {
      const inside = insidePath(relative);
      if (inside === null) return false;
      try {
        await stat(join(dir, inside));
        return true;
      } catch {
        return false;
      }
    },
  };
}

/** `relative` normalised (`./dist/x.js` → `dist/x.js`), or null when it is absolute or leaves the tree. */
export function insidePath(relative: string): string | null {
  if (isAbsolute(relative)) return null;
  const n = normalize(relative);
  if (n === '..' || n.startsWith(`..${sep}`) || n === '.') return null;
  return n;
}

/**
 * The walk of a staged app dir for its image layer, with sync fs calls: it runs in the layer
 * worker, where blocking is free, and for ~19k entries it is about 5× faster than fs.promises
 * (notes/oci.md §3). Order: depth-first, siblings in byte order, each directory before its
 * children, so the same tree always gives the same entry sequence.
 */
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** One entry of the layer, relative to the walked root ('/'-separated). */
export type WalkEntry =
  | { readonly kind: 'dir'; readonly rel: string }
  | { readonly kind: 'file'; readonly rel: string; readonly size: number; readonly executable: boolean }
  | { readonly kind: 'symlink'; readonly rel: string; readonly target: string };

/**
 * Every directory, regular file and symlink below `root` (not `root` itself). Sockets, FIFOs
 * and devices are dropped; symlinks are kept as links, never followed; hardlinked files appear
 * as separate files. `exclude` is asked about each relative path; an excluded directory is
 * skipped with everything below it.
 */
export function walkTree(root: string, exclude?: (relPath: string) => boolean): WalkEntry[] {
  const out: WalkEntry[] = [];
  const visit = (absDir: string, relDir: string): void => {
    const names = readdirSync(absDir)
      .map((name) => ({ name, bytes: Buffer.from(name) }))
      .sort((a, b) => Buffer.compare(a.bytes, b.bytes));
    for (const { name } of names) {
      const rel = relDir === '' ? name : `${relDir}/${name}`;
      if (exclude?.(rel)) continue;
      const abs = join(absDir, name);
      const st = lstatSync(abs);
      if (st.isDirectory()) {
        out.push({ kind: 'dir', rel });
        visit(abs, rel);
      } else if (st.isFile()) {
        out.push({ kind: 'file', rel, size: st.size, executable: (st.mode & 0o111) !== 0 });
      } else if (st.isSymbolicLink()) {
        out.push({ kind: 'symlink', rel, target: readlinkSync(abs) });
      }
    }
  };
  visit(root, '');
  return out;
}

/**
 * What one extraction has written so far, kept in memory. The staging dir is empty when an
 * extraction starts and nothing else writes into it, so this model is the truth about the tree:
 * it says whether a parent is a real directory (never a symlink), whether an entry would change
 * a path's type, and where a symlink leads once the links already extracted are followed.
 */
import { sortByBytes } from './byte-order.js';

/** A path in the tree. Regular files carry an inode number so that hardlinks share one. */
export type TreeNode =
  | { readonly kind: 'dir' }
  | { readonly kind: 'file'; readonly inode: number; readonly size: number }
  | { readonly kind: 'symlink'; readonly target: string };

/** Where a symlink leads: a path inside the root, out of it, or round in circles. */
export type LinkResolution =
  | { readonly kind: 'inside'; readonly path: string }
  | { readonly kind: 'escapes'; readonly via: readonly string[] }
  | { readonly kind: 'loop' };

/** Linux's MAXSYMLINKS: more links than this on one lookup fail with ELOOP. */
const MAX_HOPS = 40;

export class TreeModel {
  readonly #nodes = new Map<string, TreeNode>();
  #nextInode = 1;

  get(path: string): TreeNode | undefined {
    return path === '' ? { kind: 'dir' } : this.#nodes.get(path);
  }

  set(path: string, node: TreeNode): void {
    this.#nodes.set(path, node);
  }

  /** A fresh inode number for a newly written regular file. */
  newInode(): number {
    return this.#nextInode++;
  }

  /**
   * Resolves `target` as the kernel would for a symlink at `linkPath`: component by component
   * from the link's directory, following the symlinks already in the tree, with '..' going up
   * from where the links actually led. A missing component is taken as written (it may be
   * created later; the whole tree is checked again at the end). Leaving the root at any
   * point counts as an escape, even if a later '..'/name would come back.
   */
  resolveLink(linkPath: string, target: string): LinkResolution {
    const stack = linkPath.split('/').slice(0, -1);
    let queue = target.split('/');
    const via: string[] = [linkPath];
    let hops = 0;
    while (queue.length > 0) {
      const part = queue.shift()!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (stack.length === 0) return { kind: 'escapes', via };
        stack.pop();
        continue;
      }
      stack.push(part);
      const here = stack.join('/');
      const node = this.#nodes.get(here);
      if (node?.kind === 'symlink') {
        if (++hops > MAX_HOPS) return { kind: 'loop' };
        stack.pop();
        via.push(here);
        // An absolute target never gets into the model; were one there, it would leave the root.
        if (node.target.startsWith('/')) return { kind: 'escapes', via };
        queue = [...node.target.split('/'), ...queue];
      }
    }
    return { kind: 'inside', path: stack.join('/') };
  }

  /** Every symlink, in the order they were written. */
  symlinks(): [string, string][] {
    const out: [string, string][] = [];
    for (const [path, node] of this.#nodes) if (node.kind === 'symlink') out.push([path, node.target]);
    return out;
  }

  /** Counts for the extraction's result: `files` is everything that is not a directory. */
  summary(): { files: number; dirs: number; bytes: number; paths: string[] } {
    let files = 0;
    let dirs = 0;
    const inodes = new Map<number, number>();
    for (const node of this.#nodes.values()) {
      if (node.kind === 'dir') dirs++;
      else files++;
      if (node.kind === 'file') inodes.set(node.inode, node.size);
    }
    let bytes = 0;
    for (const size of inodes.values()) bytes += size;
    return { files, dirs, bytes, paths: sortByBytes(this.#nodes.keys()) };
  }
}

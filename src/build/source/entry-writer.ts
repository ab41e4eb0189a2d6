/**
 * Writes tar entries into the extraction root, one at a time, or refuses them. Every check is
 * made against the tree model before anything is written, and every write refuses to follow a
 * link: files are created with O_EXCL|O_NOFOLLOW (which fails on any existing path, a dangling
 * symlink included), directories with mkdir and links with symlink/link (which never replace).
 * Parents are real directories by construction: the model knows every path this extraction
 * made, and an entry below a symlink or a file is refused.
 *
 * The checks run here, as each entry arrives; the fs calls they decide on are queued on a
 * TreeWriter (tree-writer.ts), which carries them out on worker threads in an order that keeps
 * every dependency (a parent before its children, a file before a link to it or its unlink).
 * The model is updated as the calls are queued, so every later check sees the tree as it will
 * be; the caller closes the TreeWriter before it trusts the tree on disk.
 *
 * Duplicates: tar's rule "the last one wins" holds only where it cannot change a path's type
 * or write through a link. A regular file (or hardlink) may replace a regular file — the old one
 * is unlinked first, so another name hardlinked to it keeps the old bytes; a directory entry for
 * an existing directory is a no-op; a symlink identical to an existing one is a no-op. Anything
 * else that names an existing path is refused.
 */
import { join } from 'node:path';
import type { Extract, Header } from 'tar-stream';
import { checkLinkTarget, decodeName, normaliseArchivePath } from './entry-name.js';
import type { ExtractLimits } from './extract-limits.js';
import { SourceRejectedError } from './source-errors.js';
import { TreeModel, type TreeNode } from './tree-model.js';
import type { TreeWriter } from './tree-writer.js';

/** An entry as the tar parser yields it: a readable of its data with its header. */
export type TarEntry = Extract extends AsyncIterable<infer E> ? E : never;
type Entry = TarEntry;

/**
 * The header as tar-stream fills it in: `type` is null for typeflags it does not know, `pax`
 * holds the PAX records applied to it, `byteOffset` is where the entry's data starts.
 */
type EntryHeader = Omit<Header, 'type' | 'pax'> & {
  type: Header['type'] | null;
  pax?: Record<string, string> | null;
  byteOffset?: number;
};

/**
 * Files up to this size are read whole and queued as one write (one message to the writer,
 * four syscalls there); larger ones are streamed chunk by chunk. The TreeWriter's bound on
 * queued bytes caps the memory either way.
 */
const WHOLE_FILE_MAX = 1 << 20;

const KIND_NAME: Record<TreeNode['kind'], string> = { dir: 'directory', file: 'regular file', symlink: 'symlink' };

export class EntryWriter {
  readonly model = new TreeModel();
  /** Entries seen, of any kind. */
  entries = 0;
  /** Bytes of regular-file data written, duplicates included. */
  bytesWritten = 0;
  /** The name of the entry being (or last) written, for messages; null before the first. */
  lastEntry: string | null = null;
  /** Offset in the tar stream where the last entry's data (padded to a block) ends. */
  lastEntryEnd = 0;

  constructor(
    private readonly root: string,
    private readonly limits: ExtractLimits,
    private readonly fs: TreeWriter,
  ) {}

  /** Writes one entry (and reads its data to the end), or throws SourceRejectedError. */
  async write(entry: Entry): Promise<void> {
    const h = entry.header as unknown as EntryHeader;
    this.entries++;
    const decoded = decodeName(h.name, h.pax?.path !== undefined);
    this.lastEntry = decoded.ok ? decoded.name : decoded.shown;
    const size = h.size ?? 0;
    this.lastEntryEnd = (h.byteOffset ?? 0) + (h.type === 'directory' ? 0 : Math.ceil(size / 512) * 512);
    if (this.entries > this.limits.maxEntries) this.reject(`more than ${this.limits.maxEntries} entries`);
    if (!decoded.ok) this.reject(decoded.reason);
    const name = normaliseArchivePath(decoded.name, this.limits, this.root);
    if (!name.ok) this.reject(name.reason);
    const path = name.path;
    if (path === '' && h.type !== 'directory') this.reject(`a ${h.type ?? 'typeless'} entry naming the root directory itself`);

    switch (h.type) {
      case 'directory':
        return this.#directory(path, entry);
      case 'file':
      case 'contiguous-file':
        return this.#file(path, entry, size, h.mode ?? 0);
      case 'symlink':
        return this.#symlink(path, entry, h);
      case 'link':
        return this.#hardlink(path, entry, h);
      case 'character-device':
      case 'block-device':
      case 'fifo':
        return this.reject(`${h.type} entries are not allowed`);
      default:
        // Sockets have no tar type; GNU sparse files, volume labels and the like arrive as null.
        return this.reject('unsupported entry type (only files, directories, symlinks and hardlinks are allowed)');
    }
  }

  /** Throws a rejection naming the current entry. */
  reject(reason: string): never {
    throw new SourceRejectedError(this.lastEntry, reason);
  }

  async #directory(path: string, entry: Entry): Promise<void> {
    if (path !== '') {
      const existing = this.model.get(path);
      if (existing && existing.kind !== 'dir') this.reject(`a directory would replace the ${KIND_NAME[existing.kind]} of the same name`);
      this.#checkParents(path);
      await this.#makeParents(path);
      if (!existing) await this.#mkdir(path);
    }
    await drain(entry);
  }

  async #file(path: string, entry: Entry, size: number, headerMode: number): Promise<void> {
    const room = this.limits.maxTotalBytes - this.bytesWritten;
    if (size > room) this.reject(`a file of ${size} bytes would take the extracted total over ${this.limits.maxTotalBytes} bytes`);
    this.#checkParents(path);
    const existing = this.model.get(path);
    if (existing && existing.kind !== 'file') this.reject(`a file would replace the ${KIND_NAME[existing.kind]} of the same name`);
    await this.#makeParents(path);
    const abs = join(this.root, path);
    if (existing) await this.fs.unlink(abs);
    // Only the executable bit survives: owners, setuid and group/world-writable bits do not.
    const mode = headerMode & 0o111 ? 0o755 : 0o644;
    let written = 0;
    if (size <= WHOLE_FILE_MAX) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        written += chunk.length;
        this.bytesWritten += chunk.length;
        chunks.push(chunk);
      }
      // Copied into a buffer of its own, which is handed over to the writer's thread whole.
      const data = new Uint8Array(written);
      let at = 0;
      for (const c of chunks) {
        data.set(c, at);
        at += c.length;
      }
      await this.fs.writeFile(abs, data, mode);
    } else {
      await this.fs.openFile(abs, mode);
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        written += chunk.length;
        this.bytesWritten += chunk.length;
        this.fs.append(chunk);
        await this.fs.room();
      }
      this.fs.closeFile();
    }
    this.model.set(path, { kind: 'file', inode: this.model.newInode(), size: written });
    await this.fs.room();
  }

  async #symlink(path: string, entry: Entry, h: EntryHeader): Promise<void> {
    const decoded = decodeName(h.linkname ?? '', h.pax?.linkpath !== undefined);
    if (!decoded.ok) this.reject('symlink target is not valid UTF-8');
    const target = decoded.name;
    const bad = checkLinkTarget(target, this.limits);
    if (bad) this.reject(bad);
    this.#checkParents(path);
    const existing = this.model.get(path);
    if (existing?.kind === 'symlink' && existing.target === target) return drain(entry);
    if (existing) this.reject(`a symlink would replace the ${KIND_NAME[existing.kind]} of the same name`);
    const where = this.model.resolveLink(path, target);
    if (where.kind === 'loop') this.reject(`symlink loop (more than 40 links followed from ${JSON.stringify(target)})`);
    if (where.kind === 'escapes') this.reject(escapeReason(target, where.via));
    await this.#makeParents(path);
    await this.fs.symlink(target, join(this.root, path));
    this.model.set(path, { kind: 'symlink', target });
    await drain(entry);
  }

  async #hardlink(path: string, entry: Entry, h: EntryHeader): Promise<void> {
    const decoded = decodeName(h.linkname ?? '', h.pax?.linkpath !== undefined);
    if (!decoded.ok) this.reject('hardlink target is not valid UTF-8');
    const target = normaliseArchivePath(decoded.name, this.limits, this.root);
    if (!target.ok) this.reject(`hardlink target: ${target.reason}`);
    if (target.path === '') this.reject('hardlink to the root directory');
    if (target.path === path) this.reject('hardlink to itself');
    const through = this.#symlinkAbove(target.path);
    if (through !== undefined) this.reject(`hardlink target ${JSON.stringify(target.path)} goes through the symlink ${JSON.stringify(through)}`);
    const node = this.model.get(target.path);
    if (!node) this.reject(`hardlink target ${JSON.stringify(target.path)} does not exist (a hardlink must follow its target)`);
    if (node.kind !== 'file') this.reject(`hardlink target ${JSON.stringify(target.path)} is a ${KIND_NAME[node.kind]}, not a regular file`);
    this.#checkParents(path);
    const existing = this.model.get(path);
    if (existing && existing.kind !== 'file') this.reject(`a hardlink would replace the ${KIND_NAME[existing.kind]} of the same name`);
    await this.#makeParents(path);
    const abs = join(this.root, path);
    if (existing) await this.fs.unlink(abs);
    // link(2) does not follow a symlink named as its source; the model says it is a file anyway.
    // The target's own write was queued before this, and the link waits for it: full bytes.
    await this.fs.link(join(this.root, target.path), abs);
    this.model.set(path, node);
    await drain(entry);
  }

  /** Refuses a path below a symlink or a file. */
  #checkParents(path: string): void {
    const through = this.#symlinkAbove(path);
    if (through !== undefined) this.reject(`would write through the symlink ${JSON.stringify(through)} (links are never followed)`);
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const node = this.model.get(parent);
      if (node?.kind === 'file') this.reject(`its parent ${JSON.stringify(parent)} is a regular file`);
    }
  }

  /** The first proper prefix of `path` that is a symlink, if any. */
  #symlinkAbove(path: string): string | undefined {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (this.model.get(parent)?.kind === 'symlink') return parent;
    }
    return undefined;
  }

  /** Creates the missing parents of `path` (archives often leave directory entries out). */
  async #makeParents(path: string): Promise<void> {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (!this.model.get(parent)) await this.#mkdir(parent);
    }
  }

  /** Queues a directory (mode 0755 whatever the umask; see tree-writer.ts). */
  async #mkdir(path: string): Promise<void> {
    await this.fs.mkdir(join(this.root, path));
    this.model.set(path, { kind: 'dir' });
  }
}

/** The reason for a symlink that leaves the root, naming the links it went through. */
export function escapeReason(target: string, via: readonly string[]): string {
  const through = via.slice(1);
  return (
    `symlink target ${JSON.stringify(target)} escapes the extraction root` +
    (through.length > 0 ? ` (through the symlink${through.length > 1 ? 's' : ''} ${through.map((p) => JSON.stringify(p)).join(', ')})` : '')
  );
}

/** Reads an entry's data to its end (a link or directory normally has none). */
async function drain(entry: Entry): Promise<void> {
  for await (const _ of entry) {
    // discard
  }
}

/**
 * Names of tar entries, decoded and normalised strictly. A name either becomes a relative,
 * '/'-separated path of plain components that stays inside the extraction root by
 * construction, or it is refused with the reason. Nothing is "repaired": stripping a leading
 * '/' or dropping '..' would extract something other than what the archive says.
 */
import type { ExtractLimits } from './extract-limits.js';

/** The outcome of checking a name: the normalised path (`''` is the root) or why it is refused. */
export type NameCheck = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly reason: string };

/** Linux's PATH_MAX, terminating NUL included: a longer absolute path cannot be opened. */
export const PATH_MAX = 4096;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const lossy = new TextDecoder('utf-8');

/**
 * Decodes a name as tar-stream handed it over. Header names are read as latin1 (one char per
 * byte) so that the bytes can be checked as UTF-8 here; names from a PAX record arrive already
 * decoded, where an invalid sequence has become U+FFFD (which is then refused as well: the two
 * cannot be told apart).
 */
export function decodeName(raw: string, fromPax: boolean): { ok: true; name: string } | { ok: false; shown: string; reason: string } {
  if (fromPax) {
    return raw.includes('\uFFFD') ? { ok: false, shown: raw, reason: 'name is not valid UTF-8' } : { ok: true, name: raw };
  }
  const bytes = Buffer.from(raw, 'latin1');
  try {
    return { ok: true, name: utf8.decode(bytes) };
  } catch {
    return { ok: false, shown: lossy.decode(bytes), reason: 'name is not valid UTF-8' };
  }
}

/**
 * Normalises an archive path (an entry's name, or a hardlink's target, which tar gives relative
 * to the archive root): '.' and empty components go; '..' anywhere, an absolute path, a
 * backslash (a separator to some readers, so a traversal in disguise), NUL and over-long
 * names are refused.
 */
export function normaliseArchivePath(name: string, limits: ExtractLimits, root: string): NameCheck {
  if (name === '') return { ok: false, reason: 'empty name' };
  if (name.includes('\0')) return { ok: false, reason: 'name contains a NUL byte' };
  if (name.includes('\\')) return { ok: false, reason: 'name contains a backslash (a path separator to some tools)' };
  if (name.startsWith('/')) return { ok: false, reason: 'absolute path' };
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return { ok: false, reason: "path has a '..' component" };
    const len = Buffer.byteLength(part);
    if (len > limits.maxNameLength) return { ok: false, reason: `path component of ${len} bytes (limit ${limits.maxNameLength})` };
    parts.push(part);
  }
  const path = parts.join('/');
  const len = Buffer.byteLength(path);
  if (len > limits.maxPathLength) return { ok: false, reason: `path of ${len} bytes (limit ${limits.maxPathLength})` };
  const full = Buffer.byteLength(root) + 1 + len;
  if (full >= PATH_MAX) return { ok: false, reason: `path of ${len} bytes is too long under the staging dir (${full} of at most ${PATH_MAX - 1} bytes)` };
  return { ok: true, path };
}

/**
 * Checks a symlink's target text (where it points is checked against the tree, see
 * tree-model.ts). Absolute targets are refused outright: inside the staging dir they would
 * point at the host's files.
 */
export function checkLinkTarget(target: string, limits: ExtractLimits): string | undefined {
  if (target === '') return 'symlink with an empty target';
  if (target.includes('\0')) return 'symlink target contains a NUL byte';
  if (target.includes('\\')) return 'symlink target contains a backslash (a path separator to some tools)';
  if (target.startsWith('/')) return `symlink to an absolute path (${JSON.stringify(target)})`;
  const len = Buffer.byteLength(target);
  if (len > limits.maxPathLength) return `symlink target of ${len} bytes (limit ${limits.maxPathLength})`;
  return undefined;
}

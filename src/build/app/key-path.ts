/**
 * Key paths as a TOML user writes them (`build.onbuild[1]`, `env."my key"`): the one spelling
 * shared by the position scanner (which records where each path is defined) and the
 * validator (which reports problems by path), so that the two meet in a map lookup.
 */

/** A path into a parsed document: table keys and array indexes. */
export type KeyPath = ReadonlyArray<string | number>;

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** Formats a path: bare keys joined by dots, other keys quoted, indexes in brackets. */
export function formatKeyPath(path: KeyPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const key = BARE_KEY.test(seg) ? seg : JSON.stringify(seg);
      out += out === '' ? key : `.${key}`;
    }
  }
  return out;
}

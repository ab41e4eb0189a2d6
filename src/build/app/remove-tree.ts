/**
 * `rm -rf` that also removes what a build made read-only: Go's module cache (under the
 * build's scratch HOME) is written with directories at 0555, which `fs.rm` cannot empty
 * when not running as root.
 */
import { chmod, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Removes `path` and everything below it; a missing path is fine. */
export async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw e;
    await makeWritable(path);
    await rm(path, { recursive: true, force: true });
  }
}

async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o700).catch(() => undefined);
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) if (entry.isDirectory()) await makeWritable(join(dir, entry.name));
}

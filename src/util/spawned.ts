/** Waiting for a child process to have started (or to have failed to), as one promise. */
import type { ChildProcess } from 'node:child_process';

/** Resolves on the child's 'spawn', rejects with its 'error' (ENOENT, EACCES, ...). */
export function spawned(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
}

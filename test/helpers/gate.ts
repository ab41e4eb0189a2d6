/**
 * A gate for a step of the order fixture (`holdUntil`): the step waits until the gate's file
 * exists, in whichever process runs it. Tests hold a step in flight for exactly as long as
 * they need (a crash, a takeover, another coordinator's attempts), not for a guessed time.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'vitest';

export interface Gate {
  /** The file the step waits for. */
  readonly path: string;
  /** Lets every step waiting on this gate finish. */
  open(): void;
}

/** A closed gate in a temp dir that is removed when the test finishes. */
export function gate(ctx: TestContext): Gate {
  const dir = mkdtempSync(join(tmpdir(), 'jetsaga-gate-'));
  ctx.onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'open');
  return { path, open: () => writeFileSync(path, '') };
}

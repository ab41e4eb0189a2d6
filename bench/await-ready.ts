/**
 * Waits for a benchmark child's "ready" line, and fails instead of hanging when the child exits
 * before it or takes longer than `timeoutMs` (it is then killed): a benchmark always ends.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export function awaitReady(child: ChildProcess, what: string, timeoutMs = 600_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const done = (err?: Error): void => {
      clearTimeout(timer);
      lines.close();
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => done(new Error(`${what} exited (${signal ?? `code ${code}`}) before it was ready`));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done(new Error(`${what} was not ready after ${timeoutMs / 1000} s`));
    }, timeoutMs);
    lines.on('line', (line) => {
      if (line === 'ready') done();
    });
    child.on('exit', onExit);
  });
}

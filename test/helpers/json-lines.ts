/** Reads a file of JSON lines written by processes that may be SIGKILLed mid-line. */
import { existsSync, readFileSync } from 'node:fs';

/** Every complete line of `file`, parsed; a line cut short by a kill is skipped. */
export function readJsonLines<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  const out: T[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // the line a SIGKILL cut short
    }
  }
  return out;
}

/** Where the visualizer listens, and the warning when that is more than this machine. */
import { isIP } from 'node:net';

/** 127.0.0.0/8, ::1 and `localhost`: reachable from this machine only. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** Says so on `warn` when the visualizer is reachable from other machines (the token still guards it). */
export function warnIfExposed(host: string, warn: (line: string) => void): void {
  if (isLoopback(host)) return;
  warn(`jetsaga: the visualizer listens on ${host}, not only on this machine: whoever reaches it with the token can cancel, retry and fork sagas`);
}

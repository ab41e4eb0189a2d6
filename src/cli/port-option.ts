/** A TCP port as a command-line option (`--ui 8080`, `--port 0` for any free port). */
import { InvalidArgumentError } from 'commander';

export function portNumber(value: string): number {
  const n = Number(value);
  if (!/^\d{1,5}$/.test(value) || n > 65535) throw new InvalidArgumentError('must be a port number from 0 to 65535 (0: any free port)');
  return n;
}

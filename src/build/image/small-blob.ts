/** Reading small registry documents (configs) whole, with a size cap, and parsing JSON with a clear message. */
import type { Readable } from 'node:stream';
import { InvalidArgumentError } from '../../errors.js';

/** The cap on an image config's size: far above any real one, far below memory trouble. */
export const MAX_CONFIG_BYTES = 4 << 20;

/** Reads `stream` whole; INVALID_ARGUMENT (and the stream destroyed) past `max` bytes. */
export async function readSmallBlob(stream: Readable, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of stream) {
    n += (chunk as Buffer).length;
    if (n > max) {
      stream.destroy();
      throw new InvalidArgumentError(`blob larger than ${max} bytes where a config was expected`);
    }
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts, n);
}

/** `bytes` parsed as JSON; INVALID_ARGUMENT naming `what` when they are not. */
export function parseJsonDoc<T>(bytes: Uint8Array, what: string): T {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
  } catch (err) {
    throw new InvalidArgumentError(`${what} is not JSON: ${(err as Error).message}`);
  }
}

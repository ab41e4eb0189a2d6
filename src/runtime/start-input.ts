/**
 * Checks a saga's start input before anything is written: it must survive JSON (the init
 * entry journals it, and a replay must see exactly what the first run saw) and fit in one
 * journal entry with room to spare for the rest of the init entry. A start refused here has
 * written nothing.
 */
import { InvalidArgumentError } from '../errors.js';

/** Room the init entry needs beside its input. */
const INIT_ENTRY_OVERHEAD = 512;

/** The input as the journal will hold it (its JSON round trip); throws INVALID_ARGUMENT if it cannot. */
export function startInput(sagaId: string, input: unknown, maxEntryBytes: number): unknown {
  let inputJson: string;
  try {
    inputJson = JSON.stringify(input ?? null);
  } catch (e) {
    throw new InvalidArgumentError(`input of saga "${sagaId}" is not JSON-serialisable: ${(e as Error).message}`);
  }
  const bytes = Buffer.byteLength(inputJson);
  if (bytes > maxEntryBytes - INIT_ENTRY_OVERHEAD) {
    throw new InvalidArgumentError(`input of saga "${sagaId}" is ${bytes} bytes; at most ${maxEntryBytes - INIT_ENTRY_OVERHEAD} fit in the journal`, { bytes });
  }
  return JSON.parse(inputJson) as unknown;
}

/**
 * `jetsaga sagas events <id> --follow`: the saga's journal entries as they are journaled, one
 * line each (NDJSON with --json), until it is completed, compensated or cancelled. Ctrl-C
 * stops following, never the saga; a lost coordinator is waited out (one line on stderr).
 */
import type { JetsagaClient } from '../service/client.js';
import { eventLine } from './event-line.js';
import { followStatusLine } from './follow-status.js';

/** Prints until the saga is terminal (0) or Ctrl-C (130). */
export async function followEvents(client: JetsagaClient, id: string, json: boolean, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const stop = new AbortController();
  const onSigint = (): void => stop.abort();
  process.once('SIGINT', onSigint);
  try {
    const entries = client.followSagaEvents(id, { signal: stop.signal, onStatus: (s) => err(followStatusLine(s, `saga ${id}`)) });
    for await (const e of entries) out(json ? JSON.stringify(e) : eventLine(e));
    return 0;
  } catch (e) {
    if (stop.signal.aborted) return 130;
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

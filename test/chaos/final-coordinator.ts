/**
 * After the chaos: one clean coordinator (in this process, under a new owner name) recovers
 * every saga the dead ones left, and the harness waits, with a generous bound, until every
 * known saga has settled.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { join } from 'node:path';
import { pino } from 'pino';
import { ErrorCode } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { RuntimeStores } from '../../src/runtime/stores.js';
import { chaosBinding } from './chaos-saga.js';
import { EffectSink } from './effects.js';
import { RunLog } from './run-log.js';
import { forEachLimit, sleep, withTimeout } from './waiting.js';

export const FINAL_OWNER = 'final';
/** Settled: finished, or parked on purpose (a status the runtime may add). */
export const SETTLED = new Set(['completed', 'compensated', 'cancelled', 'parked']);

export interface FinalCoordinator {
  readonly runtime: Runtime;
  readonly runFile: string;
  readonly logFile: string;
}

export async function openFinalCoordinator(opts: { url: string; nc: NatsConnection; namespace: string; leaseTtlMs: number; dir: string }): Promise<FinalCoordinator> {
  const runFile = join(opts.dir, `runs-final.jsonl`);
  const logFile = join(opts.dir, `log-final.jsonl`);
  const logger = createLogger({
    name: 'chaos:final',
    level: 'info',
    destination: pino.destination({ dest: logFile, sync: true, append: true }) as unknown as NodeJS.WritableStream,
  });
  const runtime = await createRuntime({
    servers: opts.url,
    namespace: opts.namespace,
    owner: FINAL_OWNER,
    leaseTtlMs: opts.leaseTtlMs,
    logger,
    recoverIntervalMs: 500,
    machines: [chaosBinding(await EffectSink.open(opts.nc, opts.namespace), new RunLog(runFile, FINAL_OWNER))],
  });
  return { runtime, runFile, logFile };
}

/** Every saga id the index or the journal knows of (read from the stores, not through the runtime). */
export async function storedIds(stores: RuntimeStores): Promise<Set<string>> {
  const ids = new Set((await stores.journal.listSagas()).keys());
  for (const list of [stores.index.listOpen.bind(stores.index), stores.index.listFinished.bind(stores.index)]) {
    let after: string | undefined;
    do {
      const page = await list({ after, limit: 1000 });
      for (const e of page.entries) ids.add(e.record.sagaId);
      after = page.next;
    } while (after);
  }
  return ids;
}

export interface SettleResult {
  readonly settled: boolean;
  readonly waitedMs: number;
  /** Why it stopped waiting, when not settled. */
  readonly reason?: string;
  readonly unsettled: ReadonlyArray<{ id: string; status: string }>;
}

/**
 * Waits until every known saga (acknowledged ones and any in the stores) reports a settled
 * status on the final coordinator, or is unknown to it (gone from every store). Gives up at `boundMs`, or earlier when nothing has moved
 * (no saga's entry count changed) for `quietMs`: a stuck saga would only burn the bound.
 */
export async function settle(runtime: Runtime, known: () => Promise<Set<string>>, boundMs: number, quietMs: number): Promise<SettleResult> {
  const start = Date.now();
  let lastProgress = start;
  let lastSum = -1;
  for (;;) {
    const ids = [...(await known())];
    const unsettled: Array<{ id: string; status: string; seq: number }> = [];
    await forEachLimit(ids, 16, async (id) => {
      const info = await withTimeout(runtime.get(id), 10_000, `get(${id})`).catch((e: unknown) => ({ status: `error ${(e as { code?: string }).code}`, entryNo: -1 }));
      // A saga no store knows any more cannot move again: waiting would only burn the bound
      // (the invariants report it).
      if (info.status === `error ${ErrorCode.UnknownSaga}`) return;
      if (!SETTLED.has(info.status)) unsettled.push({ id, status: info.status, seq: info.entryNo });
    });
    const waitedMs = Date.now() - start;
    if (unsettled.length === 0) return { settled: true, waitedMs, unsettled: [] };
    const sum = unsettled.reduce((n, u) => n + u.seq, 0);
    if (sum !== lastSum) {
      lastSum = sum;
      lastProgress = Date.now();
    }
    const list = unsettled.map(({ id, status }) => ({ id, status })).sort((a, b) => a.id.localeCompare(b.id));
    if (waitedMs > boundMs) return { settled: false, waitedMs, reason: `bound of ${boundMs} ms reached`, unsettled: list };
    if (Date.now() - lastProgress > quietMs) return { settled: false, waitedMs, reason: `no progress for ${quietMs} ms`, unsettled: list };
    await sleep(500);
  }
}

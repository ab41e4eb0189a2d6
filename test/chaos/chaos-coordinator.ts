/**
 * A coordinator process for the chaos test, meant to be SIGKILLed, SIGSTOPped and left
 * without its nats-server at any moment.
 *
 *   node --import tsx test/chaos/chaos-coordinator.ts <nats-url> <namespace> <owner> <leaseTtlMs> [options-json]
 *
 * It speaks the protocol of test/fixtures/crash-coordinator.ts (so test/helpers/coordinator-proc.ts
 * runs it): `ready` on stdout once open, then one JSON command a line on stdin, one answer a
 * line on stdout; errors carry `code` and `retryable`. options-json: `{ "recoverIntervalMs"? }`.
 *
 * Env: `JETSAGA_CALLS_FILE` (required) is its run log (run-log.ts); `JETSAGA_CHAOS_LOG` (required)
 * receives its logs at info level, written synchronously so a kill loses none that matter.
 * Exits when stdin closes, so it never outlives its parent.
 */
import { pino } from 'pino';
import { createLogger } from '../../src/log.js';
import { connectNats } from '../../src/nats/connect.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { serveCommands } from '../fixtures/coordinator-commands.js';
import type { CoordinatorOptions } from '../fixtures/crash-coordinator.js';
import { chaosBinding } from './chaos-saga.js';
import { EffectSink } from './effects.js';
import { RunLog } from './run-log.js';

const [url, namespace, owner, leaseArg, optionsArg] = process.argv.slice(2);
const runFile = process.env.JETSAGA_CALLS_FILE;
const logFile = process.env.JETSAGA_CHAOS_LOG;
if (!url || !namespace || !owner || !leaseArg || !runFile || !logFile) {
  console.error('usage: chaos-coordinator.ts <nats-url> <namespace> <owner> <leaseTtlMs> [options-json] (JETSAGA_CALLS_FILE and JETSAGA_CHAOS_LOG required)');
  process.exit(2);
}
const options = JSON.parse(optionsArg ?? '{}') as CoordinatorOptions;

const logger = createLogger({
  name: `chaos:${owner}`,
  level: 'info',
  destination: pino.destination({ dest: logFile, sync: true, append: true }) as unknown as NodeJS.WritableStream,
});
const runs = new RunLog(runFile, owner);

/**
 * A replacement may be started while the nats-server is down: keep trying, as a supervisor
 * restarting it would, rather than exit.
 */
async function open(): Promise<Runtime> {
  for (let attempt = 0; ; attempt++) {
    try {
      const nc = await connectNats({ servers: url!, name: `chaos:${owner}`, logger, timeoutMs: 2_000 });
      try {
        const sink = await EffectSink.open(nc, namespace!);
        return await createRuntime({
          nats: nc,
          namespace,
          owner,
          leaseTtlMs: Number(leaseArg),
          logger,
          recoverOnStart: true,
          recoverIntervalMs: options.recoverIntervalMs ?? 1_000,
          machines: [chaosBinding(sink, runs)],
          // Its owner name was taken by another process: the runtime closed itself; so do we.
          onFatal: (e) => {
            logger.error({ err: e.message }, 'runtime closed itself; exiting');
            process.exit(70);
          },
        });
      } catch (e) {
        await nc.close().catch(() => undefined);
        throw e;
      }
    } catch (e) {
      logger.warn({ attempt, err: (e as Error).message }, 'could not open the runtime; retrying');
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

// Commands are read from the start (and wait for the runtime), so that a closed stdin is seen
// even while a replacement waits for its nats-server.
const opened = open();
serveCommands(opened, 'chaos');


await opened;
logger.info({ pid: process.pid }, 'chaos coordinator ready');
console.log('ready');

/**
 * A coordinator process for the recovery benchmark: starts N sagas whose step `hangAt` never
 * finishes, prints "ready" once every saga is waiting on it, then waits to be SIGKILLed.
 * Usage: tsx bench/runtime-child.ts <nats-url> <namespace> <count> <hangAt> [replicas]
 */
import { createRuntime } from '../src/runtime/create-runtime.js';
import { benchBinding } from './bench-saga.js';

const [url, namespace, countArg, hangArg, replicasArg] = process.argv.slice(2);
const count = Number(countArg);
const hangAt = Number(hangArg);
const replicas = Number(replicasArg ?? 1);
// A short lease: the benchmark's restart under the same name waits it out before it recovers.
// Renewals every 333 ms (a 1 s lease) miss under the load of starting 10k sagas on two cores.
const rt = await createRuntime({
  servers: url!,
  namespace,
  owner: 'bench-coordinator',
  machines: [benchBinding(hangAt)],
  recoverOnStart: false,
  recoverIntervalMs: 0,
  leaseTtlMs: 5_000,
  replicas,
  // A lease that lapsed under load stops its sagas: they would never all wait, so say so and end.
  onFatal: (e) => {
    console.error(`runtime-child: ${e.message}`);
    process.exit(1);
  },
});
let waiting = 0;
rt.subscribe((n) => {
  if (n.event?.type === `xstate.done.actor.s${hangAt - 1}`) waiting++;
  if (waiting === count) console.log('ready');
});
const inflight = new Set<Promise<unknown>>();
for (let i = 0; i < count; i++) {
  const p = startRetrying(i).finally(() => inflight.delete(p));
  inflight.add(p);
  if (inflight.size >= 200) await Promise.race(inflight);
}
await Promise.all(inflight);
setInterval(() => undefined, 1 << 30);
if (process.env.BENCH_DEBUG) setInterval(() => console.error(`waiting ${waiting} of ${count}`), 5000);

/** A start refused as retryable (a lease renewal late on a loaded machine) is made again under the same id. */
async function startRetrying(i: number): Promise<unknown> {
  for (;;) {
    try {
      return await rt.start('bench', { i }, { id: `r${i}` });
    } catch (e) {
      if (!(e as { retryable?: boolean }).retryable) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

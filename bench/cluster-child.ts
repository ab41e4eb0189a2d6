/**
 * A coordinator process for the cluster benchmark. Usage:
 *   tsx bench/cluster-child.ts <nats-urls> <namespace> <owner> <replicas>
 * Prints `ready` once its runtime is open; then each stdin line `run <n>` runs n benchmark sagas
 * (100 in flight) and answers `done <n>` once all are finished. Closes its runtime gracefully
 * and exits when stdin closes.
 */
import { createInterface } from 'node:readline';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { benchBinding } from './bench-saga.js';

const [servers, namespace, owner, replicasArg] = process.argv.slice(2);
const IN_FLIGHT = 100;
const TERMINAL = new Set(['completed', 'compensated', 'cancelled']);

const rt = await createRuntime({ servers: servers!, namespace: namespace!, owner: owner!, replicas: Number(replicasArg), machines: [benchBinding()], recoverOnStart: false, recoverIntervalMs: 0 });
const waiting = new Map<string, () => void>();
rt.subscribe((n) => {
  if (!TERMINAL.has(n.status)) return;
  waiting.get(n.sagaId)?.();
  waiting.delete(n.sagaId);
});

let sagaNo = 0;
async function runSaga(): Promise<void> {
  const id = `${owner}-${sagaNo++}`;
  const finished = new Promise<void>((resolve) => waiting.set(id, resolve));
  await rt.start('bench', { n: sagaNo }, { id });
  await finished;
}

async function run(count: number): Promise<void> {
  const inflight = new Set<Promise<void>>();
  for (let i = 0; i < count; i++) {
    const p: Promise<void> = runSaga().finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= IN_FLIGHT) await Promise.race(inflight);
  }
  await Promise.all(inflight);
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [cmd, n] = line.trim().split(' ');
  if (cmd === 'run') void run(Number(n)).then(() => console.log(`done ${n}`));
});
lines.on('close', () => void rt.close().finally(() => process.exit(0)));
console.log('ready');

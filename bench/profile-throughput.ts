/** Throughput only, for profiling: `node --cpu-prof --import tsx bench/profile-throughput.ts`. */
import { performance } from 'node:perf_hooks';
import { connectNats } from '../src/nats/connect.js';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { startNatsServer } from '../test/helpers/nats-server.js';
import { benchBinding } from './bench-saga.js';

const N = Number(process.env.N ?? 3000);
const server = await startNatsServer();
const nc = await connectNats({ servers: server.url });
const rt = await createRuntime({ nats: nc, namespace: 'prof', owner: 'prof', machines: [benchBinding()], recoverOnStart: false, recoverIntervalMs: 0 });
const waiting = new Map<string, () => void>();
rt.subscribe((n) => {
  if (n.status === 'completed') waiting.get(n.sagaId)?.();
});
let k = 0;
const run = async (): Promise<void> => {
  const id = `p${k++}`;
  const done = new Promise<void>((r) => waiting.set(id, r));
  await rt.start('bench', {}, { id });
  await done;
  waiting.delete(id);
};
for (let i = 0; i < 200; i++) await run();
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const inflight = new Set<Promise<void>>();
for (let i = 0; i < N; i++) {
  const p: Promise<void> = run().finally(() => inflight.delete(p));
  inflight.add(p);
  if (inflight.size >= Number(process.env.C ?? 100)) await Promise.race(inflight);
}
await Promise.all(inflight);
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ sagasPerS: (N / (performance.now() - t0)) * 1000, cpuMsPerSaga: (cpu.user + cpu.system) / 1000 / N }));
await rt.close();
await nc.close();
await server.stop();

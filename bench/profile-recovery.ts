/**
 * Recovery only, for profiling: a child coordinator leaves N sagas mid-flight and is
 * SIGKILLed; this process recovers them. `node --cpu-prof --import tsx bench/profile-recovery.ts`
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { performance } from 'node:perf_hooks';
import { createLogger } from '../src/log.js';
import { connectNats } from '../src/nats/connect.js';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { startNatsServer } from '../test/helpers/nats-server.js';
import { awaitReady } from './await-ready.js';
import { benchBinding } from './bench-saga.js';
import { processCpuMs } from './process-cpu.js';

const N = Number(process.env.N ?? 10000);
const server = await startNatsServer();
const child = spawn(process.execPath, ['--import', 'tsx', 'bench/runtime-child.ts', server.url, 'rec', String(N), '6'], { stdio: ['ignore', 'pipe', 'inherit'] });
await awaitReady(child, 'the recovery benchmark child');
child.kill('SIGKILL');
await once(child, 'exit');
const nc = await connectNats({ servers: server.url });
const t0 = performance.now();
const rt = await createRuntime({ logger: createLogger({ destination: process.stderr }), nats: nc, namespace: 'rec', owner: 'bench-coordinator', machines: [benchBinding(undefined, 6)], recoverOnStart: false, recoverIntervalMs: 0 });
const created = performance.now() - t0;
let done = 0;
rt.subscribe((n) => {
  if (n.status === 'completed') done++;
});
// PROFILE=<file>: a CPU profile of recover() alone (the lease wait before it is idle time);
// with PROFILE_PHASE=complete, of the sagas' remaining steps after it instead.
// PROFILE_PHASE=resume stops once they are resumed and prints the resume time and CPU time.
const session = process.env.PROFILE ? new Session() : undefined;
const post = (method: string, params?: object): Promise<unknown> =>
  new Promise((resolve, reject) => session!.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
const completion = process.env.PROFILE_PHASE === 'complete';
const startProfile = async (): Promise<void> => {
  if (!session) return;
  session.connect();
  await post('Profiler.enable');
  await post('Profiler.start');
};
const stopProfile = async (): Promise<void> => {
  if (!session) return;
  const { profile } = (await post('Profiler.stop')) as { profile: unknown };
  writeFileSync(process.env.PROFILE!, JSON.stringify(profile));
  session.disconnect();
};
if (!completion) await startProfile();
const cpu0 = process.cpuUsage();
const serverCpu0 = processCpuMs(server.pid);
const report = await rt.recover();
const cpu = process.cpuUsage(cpu0);
const serverCpuMs = processCpuMs(server.pid) - serverCpu0;
if (!completion) await stopProfile();
const resumed = performance.now() - t0;
const resumeOnly = process.env.PROFILE_PHASE === 'resume';
if (resumeOnly) {
  // Resumption alone, with this process's CPU time over it: steadier than wall time on a busy machine.
  console.log(JSON.stringify({ report, resumeMs: Math.round(resumed - created), cpuMs: Math.round((cpu.user + cpu.system) / 1000), serverCpuMs: Math.round(serverCpuMs) }));
  await rt.close({ graceful: false });
  await nc.close();
  await server.stop();
  process.exit(0);
}
if (completion) await startProfile();
while (done < N) await new Promise((r) => setTimeout(r, 5));
if (completion) await stopProfile();
console.log(JSON.stringify({ report, createMs: Math.round(created), resumedMs: Math.round(resumed), completedMs: Math.round(performance.now() - t0), rssMb: Math.round(process.memoryUsage().rss / 2 ** 20) }));
await rt.close();
await nc.close();
await server.stop();

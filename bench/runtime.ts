/**
 * `npm run bench:runtime`: the saga runtime against the physical floor, in one process.
 *
 * Baseline: one raw JetStream publish with expected-last-subject-sequence + msgID, awaiting
 * the ack (what persisting one transition cannot go below). Measured interleaved with the
 * saga rounds so both see the same machine state. The saga: 10 no-op steps (each with an
 * undo), i.e. 11 journal appends (init + 10 results) plus the index record writes.
 *
 * Prints a table, then one JSON object as the last line. Figures, never assertions.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connectNats } from '../src/nats/connect.js';
import { createRuntime } from '../src/runtime/create-runtime.js';
import type { Runtime } from '../src/runtime/runtime.js';
import { startNatsServer } from '../test/helpers/nats-server.js';
import { awaitReady } from './await-ready.js';
import { processCpuMs } from './process-cpu.js';
import { benchBinding, STEPS } from './bench-saga.js';
import { summary } from './stats.js';

const APPENDS_PER_SAGA = STEPS + 1;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SEQ_PER_ROUND = Number(process.env.BENCH_SEQ ?? 60);
const RAW_CHAINS_PER_ROUND = Math.ceil((SEQ_PER_ROUND * APPENDS_PER_SAGA) / APPENDS_PER_SAGA);
const THROUGHPUT_SAGAS = Number(process.env.BENCH_THROUGHPUT ?? 3000);
const IN_FLIGHT = 100;
const RECOVER_SIZES = (process.env.BENCH_RECOVER ?? '1000,10000').split(',').filter(Boolean).map(Number);
const TERMINAL = new Set(['completed', 'compensated', 'cancelled']);

const server = await startNatsServer();
const nc = await connectNats({ servers: server.url });
// Read while connected: the table is printed after the connection is closed.
const natsVersion = nc.info?.version ?? '?';
let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);

// ---- baseline: raw publish with expectation + msgID --------------------------------------
const jsm = await jetstreamManager(nc);
await jsm.streams.add({ name: 'BENCH_RAW', subjects: ['bench.raw.>'], storage: StorageType.File, allow_direct: true });
const js = jetstream(nc, { timeout: 5000 });
const payload = new TextEncoder().encode(JSON.stringify({ no: 7, at: Date.now(), event: { type: 'xstate.done.actor.s6', actorId: 's6', key: 'b-000000:6:s6', output: null }, pad: 'x'.repeat(40) }));
let rawChain = 0;
async function rawChainOf(n: number, samples: number[]): Promise<void> {
  const subject = `bench.raw.${rawChain++}`;
  let last = 0;
  for (let i = 1; i <= n; i++) {
    const t0 = performance.now();
    const ack = await js.publish(subject, payload, { msgID: `${subject}:${i}`, expect: { lastSubjectSequence: last } });
    samples.push(performance.now() - t0);
    last = ack.seq;
  }
}

// ---- the runtime --------------------------------------------------------------------------
async function openRuntime(namespace: string, owner: string, rerunAt?: number): Promise<{ rt: Runtime; finished: (id: string) => Promise<void>; count: () => number }> {
  const rt = await createRuntime({ nats: nc, namespace, owner, machines: [benchBinding(undefined, rerunAt)], recoverOnStart: false, recoverIntervalMs: 0 });
  const waiting = new Map<string, () => void>();
  let done = 0;
  rt.subscribe((n) => {
    if (!TERMINAL.has(n.status)) return;
    done++;
    waiting.get(n.sagaId)?.();
    waiting.delete(n.sagaId);
  });
  return { rt, count: () => done, finished: (id) => new Promise<void>((resolve) => waiting.set(id, resolve)) };
}

const main = await openRuntime('bench', 'bench-main');
let sagaNo = 0;
async function runSaga(): Promise<number> {
  const id = `b-${sagaNo++}`;
  const t0 = performance.now();
  const finished = main.finished(id);
  await main.rt.start('bench', { n: sagaNo }, { id });
  await finished;
  return performance.now() - t0;
}

// Warm up both paths (JIT, connections, stream files).
for (let i = 0; i < 100; i++) await runSaga();
await rawChainOf(500, []);

const raw: number[] = [];
const seq: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  for (let c = 0; c < RAW_CHAINS_PER_ROUND; c++) await rawChainOf(APPENDS_PER_SAGA, raw);
  for (let i = 0; i < SEQ_PER_ROUND; i++) seq.push(await runSaga());
}
const rawS = summary(raw);
const seqS = summary(seq);

// ---- throughput with 100 sagas in flight ----------------------------------------------------
const cpu0 = process.cpuUsage();
const serverCpu0 = processCpuMs(server.pid);
const t0 = performance.now();
{
  const inflight = new Set<Promise<number>>();
  for (let i = 0; i < THROUGHPUT_SAGAS; i++) {
    const p: Promise<number> = runSaga().finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= IN_FLIGHT) await Promise.race(inflight);
  }
  await Promise.all(inflight);
}
const elapsed = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const serverCpu = processCpuMs(server.pid) - serverCpu0;
const sagasPerS = (THROUGHPUT_SAGAS / elapsed) * 1000;
const cpuMsPerSaga = (cpu.user + cpu.system) / 1000 / THROUGHPUT_SAGAS;
const serverCpuMsPerSaga = serverCpu / THROUGHPUT_SAGAS;
await main.rt.close();

// ---- recovery after SIGKILL of a coordinator with N sagas mid-flight -----------------------
const recovery: Record<string, number> = {};
for (const n of RECOVER_SIZES) {
  const ns = `rec${n}`;
  const hangAt = 6;
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/runtime-child.ts', server.url, ns, String(n), String(hangAt)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await awaitReady(child, `the recovery child (${n} sagas)`);
  child.kill('SIGKILL');
  await once(child, 'exit');
  // A restart under the same name first waits out the killed process's lease (1 s here; it
  // might have been stalled, not dead). Recovery is timed from when the name is held.
  const tl0 = performance.now();
  const next = await openRuntime(ns, 'bench-coordinator', hangAt);
  recovery[`lease_wait_${n / 1000}k_s`] = round((performance.now() - tl0) / 1000, 3);
  const tr0 = performance.now();
  const report = await next.rt.recover();
  const resumed = performance.now() - tr0;
  while (next.count() < n) await new Promise((r) => setTimeout(r, 5));
  const completed = performance.now() - tr0;
  recovery[`recover_${n / 1000}k_s`] = round(completed / 1000, 3);
  recovery[`resume_${n / 1000}k_s`] = round(resumed / 1000, 3);
  if (report.recovered !== n) console.error(`recovery of ${n}: ${JSON.stringify(report)}`);
  await next.rt.close();
}

clearInterval(rssTimer);
await nc.close();
await server.stop();

const result = {
  raw_append_p50_ms: round(rawS.p50, 3),
  raw_append_p99_ms: round(rawS.p99, 3),
  saga_seq_p50_ms: round(seqS.p50, 3),
  saga_seq_p99_ms: round(seqS.p99, 3),
  appends_per_saga: APPENDS_PER_SAGA,
  per_step_overhead_ratio: round(seqS.p50 / (APPENDS_PER_SAGA * rawS.p50), 3),
  sagas_per_s_100: round(sagasPerS, 1),
  cpu_ms_per_saga: round(cpuMsPerSaga, 3),
  server_cpu_ms_per_saga: round(serverCpuMsPerSaga, 3),
  rss_mb: round(peakRss / 2 ** 20, 1),
  ...recovery,
};

const rows: Array<[string, string, string]> = [
  ['raw append p50 / p99', `${result.raw_append_p50_ms} / ${result.raw_append_p99_ms} ms`, `n=${rawS.n}`],
  ['saga (10 steps) p50 / p99', `${result.saga_seq_p50_ms} / ${result.saga_seq_p99_ms} ms`, `n=${seqS.n}, sequential`],
  ['per-step overhead ratio', String(result.per_step_overhead_ratio), `saga p50 / (${APPENDS_PER_SAGA} × raw p50)`],
  ['throughput, 100 in flight', `${result.sagas_per_s_100} sagas/s`, `${THROUGHPUT_SAGAS} sagas`],
  ['client CPU per saga', `${result.cpu_ms_per_saga} ms`, `server: ${result.server_cpu_ms_per_saga} ms`],
  ['peak RSS', `${result.rss_mb} MB`, ''],
  ...RECOVER_SIZES.map((n): [string, string, string] => [
    `recover ${n} mid-flight`,
    `${recovery[`recover_${n / 1000}k_s`]} s`,
    `resumed (folded + acting) after ${recovery[`resume_${n / 1000}k_s`]} s; lease waited ${recovery[`lease_wait_${n / 1000}k_s`]} s before`,
  ]),
];
const w = Math.max(...rows.map((r) => r[0].length));
console.log(`\njetsaga runtime benchmark (node ${process.version}, nats-server ${natsVersion})`);
for (const [k, v, note] of rows) console.log(`  ${k.padEnd(w)}  ${v.padEnd(22)} ${note}`);
console.log(JSON.stringify(result));

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * `npm run bench:cluster`: the 10-step benchmark saga (bench/bench-saga.ts) on a three-node
 * loopback nats-server cluster with every stream and bucket at three replicas (R3), against
 * one nats-server with one replica (R1) in the same run.
 *
 * - Throughput: N sagas (100 in flight per coordinator) shared by 1, 2 and 3 coordinator
 *   processes (bench/cluster-child.ts), each running N/k; timed from the go to the last done,
 *   after a warm-up. The R1 figure is one coordinator process on the single server.
 * - Resume: a coordinator process starts 10k sagas left mid-flight (bench/runtime-child.ts, as
 *   `bench:runtime` does), is SIGKILLed; a new one recovers them: resume = `recover()` returned
 *   (every saga folded and acting again).
 * - Leader-kill stall: sagas in flight in this process; the journal stream's leader node is
 *   SIGKILLed; the stall is the time from the kill to the first step completed after the
 *   appends resumed (the first step result notified after the kill that follows a silence of
 *   250 ms or more; the first one after the kill if there was none).
 *
 * Prints a table, then one JSON object as the last line. Figures, never assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { createInterface, type Interface } from 'node:readline';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '../src/nats/connect.js';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { natsNames, openNatsStores } from '../src/runtime/nats-stores.js';
import { startNatsCluster } from '../test/helpers/nats-cluster.js';
import { startNatsServer } from '../test/helpers/nats-server.js';
import { benchBinding } from './bench-saga.js';

const THROUGHPUT_SAGAS = Number(process.env.BENCH_THROUGHPUT ?? 3000);
const WARMUP_SAGAS = 200;
const RESUME_SAGAS = Number(process.env.BENCH_RESUME ?? 10_000);
const STALL_SAGAS = 600;
const TERMINAL = new Set(['completed', 'compensated', 'cancelled']);

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

interface Child {
  readonly proc: ChildProcess;
  readonly lines: Interface;
  next(prefix: string): Promise<string>;
}

function spawnChild(script: string, args: string[]): Child {
  const proc = spawn(process.execPath, ['--max-semi-space-size=64', '--import', 'tsx', script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  const lines = createInterface({ input: proc.stdout! });
  const waiters: Array<{ prefix: string; resolve: (l: string) => void }> = [];
  lines.on('line', (line) => {
    const i = waiters.findIndex((w) => line.startsWith(w.prefix));
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(line);
  });
  return { proc, lines, next: (prefix) => new Promise((resolve) => waiters.push({ prefix, resolve })) };
}

async function stopChild(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.stdin!.end();
  await once(c.proc, 'exit');
}

/** Sagas per second of `count` sagas shared by `k` coordinator processes. */
async function throughput(servers: string, replicas: number, k: number, namespace: string): Promise<number> {
  // The streams and buckets are made here first: several processes creating the same R3
  // streams at once on this 2-core machine can outlast the JetStream API timeout.
  const nc = await connectNats({ servers, name: 'bench-cluster-setup' });
  try {
    const stores = await openNatsStores(nc, { namespace, replicas });
    await stores.close?.();
  } finally {
    await nc.close();
  }
  const coordinators: Child[] = [];
  try {
    // One at a time, each ready before the next starts.
    for (let i = 0; i < k; i++) {
      const c = spawnChild('bench/cluster-child.ts', [servers, namespace, `c${i + 1}`, String(replicas)]);
      coordinators.push(c);
      await Promise.race([c.next('ready'), once(c.proc, 'exit').then(() => Promise.reject(new Error(`coordinator c${i + 1} exited before ready`)))]);
    }
    await Promise.all(coordinators.map((c) => {
      const done = c.next('done');
      c.proc.stdin!.write(`run ${WARMUP_SAGAS}\n`);
      return done;
    }));
    const share = Math.ceil(THROUGHPUT_SAGAS / k);
    const t0 = performance.now();
    await Promise.all(coordinators.map((c) => {
      const done = c.next('done');
      c.proc.stdin!.write(`run ${share}\n`);
      return done;
    }));
    return ((share * k) / (performance.now() - t0)) * 1000;
  } finally {
    await Promise.all(coordinators.map(stopChild));
  }
}

/** Seconds for a new coordinator's `recover()` to resume `n` sagas a SIGKILLed one left mid-flight. */
async function resume(servers: string, replicas: number, n: number): Promise<number> {
  const ns = `resume${n}`;
  const child = spawnChild('bench/runtime-child.ts', [servers, ns, String(n), '6', String(replicas)]);
  await Promise.race([child.next('ready'), once(child.proc, 'exit').then(() => Promise.reject(new Error('the resume benchmark child exited before ready')))]);
  child.proc.kill('SIGKILL');
  await once(child.proc, 'exit');
  // The restart under the same name waits out the killed process's lease (5 s on R3), untimed.
  const rt = await createRuntime({ servers, namespace: ns, owner: 'bench-coordinator', replicas, machines: [benchBinding(undefined, 6)], recoverOnStart: false, recoverIntervalMs: 0 });
  try {
    const t0 = performance.now();
    const report = await rt.recover();
    const s = (performance.now() - t0) / 1000;
    if (report.recovered !== n) console.error(`resume of ${n}: ${JSON.stringify(report)}`);
    return s;
  } finally {
    await rt.close();
  }
}

/** Seconds from a SIGKILL of the journal stream's leader to the first step completed after the appends resumed. */
async function leaderKillStall(cluster: Awaited<ReturnType<typeof startNatsCluster>>): Promise<{ stall: number; leader: string }> {
  const namespace = 'stall';
  const rt = await createRuntime({ servers: cluster.servers, namespace, owner: 'stall-c1', replicas: 3, machines: [benchBinding()], recoverOnStart: false, recoverIntervalMs: 0 });
  const nc = await connectNats({ servers: cluster.servers, name: 'bench-cluster' });
  const stepsAt: number[] = [];
  let finished = 0;
  rt.subscribe((n) => {
    if (n.event?.type.startsWith('xstate.done.actor.')) stepsAt.push(performance.now());
    if (TERMINAL.has(n.status)) finished++;
  });
  try {
    // Sagas are started until the kill and for a while after, so steps are always waiting to be journaled.
    let started = 0;
    let stop = false;
    const feeder = (async () => {
      while (!stop && started < STALL_SAGAS) {
        if (started - finished < 100) await rt.start('bench', { i: started }, { id: `st${started++}` }).catch(() => undefined);
        else await new Promise((r) => setTimeout(r, 5));
      }
    })();
    while (stepsAt.length < 500) await new Promise((r) => setTimeout(r, 5));
    const jsm = await jetstreamManager(nc);
    const leader = (await jsm.streams.info(natsNames(namespace).eventsStream)).cluster!.leader!;
    const killedAt = performance.now();
    await cluster.kill(cluster.indexOf(leader));
    const after = (): number[] => stepsAt.filter((t) => t > killedAt);
    for (;;) {
      const a = after();
      const resumedAt = a.find((t, i) => t - (i === 0 ? killedAt : a[i - 1]!) >= 250);
      if (resumedAt !== undefined || (a.length > 50 && performance.now() - killedAt > 15_000)) {
        stop = true;
        await feeder;
        return { stall: ((resumedAt ?? a[0]!) - killedAt) / 1000, leader };
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await rt.close();
    await nc.close();
  }
}

const single = await startNatsServer();
const cluster = await startNatsCluster();
let result: Record<string, number>;
let stallLeader = '?';
try {
  const r1 = await stage('R1 throughput', () => throughput(single.url, 1, 1, 'tp1r1'));
  const c1 = await stage('R3 throughput, 1 coordinator', () => throughput(cluster.servers, 3, 1, 'tp1'));
  const c2 = await stage('R3 throughput, 2 coordinators', () => throughput(cluster.servers, 3, 2, 'tp2'));
  const c3 = await stage('R3 throughput, 3 coordinators', () => throughput(cluster.servers, 3, 3, 'tp3'));
  const resumeS = await stage(`R3 resume of ${RESUME_SAGAS}`, () => resume(cluster.servers, 3, RESUME_SAGAS));
  const stall = await stage('R3 leader kill', () => leaderKillStall(cluster));
  stallLeader = stall.leader;
  result = {
    sagas_per_s_r1: round(r1, 1),
    sagas_per_s_1c: round(c1, 1),
    sagas_per_s_2c: round(c2, 1),
    sagas_per_s_3c: round(c3, 1),
    r3_vs_r1_ratio: round(c1 / r1, 3),
    [`resume_${RESUME_SAGAS / 1000}k_s`]: round(resumeS, 3),
    leader_kill_stall_s: round(stall.stall, 3),
  };
} finally {
  await cluster.stop();
  await single.stop();
}

const rows: Array<[string, string, string]> = [
  ['R1, one server, 1 coordinator', `${result.sagas_per_s_r1} sagas/s`, `${THROUGHPUT_SAGAS} sagas, 100 in flight per coordinator`],
  ['R3, three nodes, 1 coordinator', `${result.sagas_per_s_1c} sagas/s`, `R3/R1 = ${result.r3_vs_r1_ratio}`],
  ['R3, three nodes, 2 coordinators', `${result.sagas_per_s_2c} sagas/s`, ''],
  ['R3, three nodes, 3 coordinators', `${result.sagas_per_s_3c} sagas/s`, ''],
  [`R3 resume ${RESUME_SAGAS} mid-flight`, `${result[`resume_${RESUME_SAGAS / 1000}k_s`]} s`, 'recover() returned: folded and acting'],
  ['R3 leader-kill stall', `${result.leader_kill_stall_s} s`, `SIGKILL of ${stallLeader} to the first step completed after`],
];
const w = Math.max(...rows.map((r) => r[0].length));
console.log(`\njetsaga cluster benchmark (node ${process.version}, 2-core loopback; one machine runs every node and coordinator)`);
for (const [k, v, note] of rows) console.log(`  ${k.padEnd(w)}  ${v.padEnd(16)} ${note}`);
console.log(JSON.stringify(result));

/** Runs one part of the benchmark, saying on stderr what it is doing. */
async function stage<T>(what: string, run: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  console.error(`${what}...`);
  const out = await run();
  console.error(`${what}: ${JSON.stringify(out)} (${Math.round(performance.now() - t0)} ms)`);
  return out;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

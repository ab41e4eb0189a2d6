/**
 * Reading a journal range two ways: the client's ordered consumer (ordered-read.ts) against an
 * ephemeral push consumer (push-read.ts), as a bulk recovery's journal scan reads it: N entries
 * on S saga subjects, W sagas wanted. Prints the best wall and client CPU time of each and their
 * ratio; the last line is one JSON object.
 */
import { jetstream, jetstreamManager, DeliverPolicy } from '@nats-io/jetstream';
import { performance } from 'node:perf_hooks';
import { connectNats } from '../src/nats/connect.js';
import { readUntilCaughtUp } from '../src/nats/ordered-read.js';
import { pushRead } from '../src/nats/push-read.js';
import { startNatsServer } from '../test/helpers/nats-server.js';

const N = Number(process.env.N ?? 70_000);
const S = 10_000;
const W = 900;
const server = await startNatsServer();
const nc = await connectNats({ servers: server.url });
const jsm = await jetstreamManager(nc);
const js = jetstream(nc);
await jsm.streams.add({ name: 'SCAN', subjects: ['sc.>'] });
const payload = new Uint8Array(120).fill(65);
const acks: Promise<unknown>[] = [];
for (let i = 0; i < N; i++) {
  acks.push(js.publish(`sc.s${i % S}`, payload, { msgID: `m${i}` }));
  if (acks.length >= 2000) await Promise.all(acks.splice(0));
}
await Promise.all(acks);
const last = (await jsm.streams.info('SCAN')).state.last_seq;
const wanted = new Set(Array.from({ length: W }, (_, i) => `s${i * 7}`));

async function measure(read: () => Promise<number>): Promise<{ kept: number; wallMs: number; cpuMs: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const kept = await read();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  return { kept, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}
const ordered = async (): Promise<number> => {
  const oc = await js.consumers.get('SCAN', { filter_subjects: 'sc.>', deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 1 });
  let kept = 0;
  for await (const m of readUntilCaughtUp(oc, { batch: 5000, untilSeq: last })) {
    if (wanted.has(m.subject.slice(3))) kept++;
    if (m.info.streamSequence === last) break;
  }
  await oc.delete().catch(() => undefined);
  return kept;
};
const push = async (): Promise<number> => {
  let kept = 0;
  const read = pushRead(nc, jsm, { stream: 'SCAN', filterSubject: 'sc.>', from: { seq: 1 }, untilSeq: last }, (subject, seq, m) => {
    const id = subject.slice(3);
    return wanted.has(id) ? { id, seq, data: m.data } : undefined;
  });
  for await (const b of read) kept += b.length;
  return kept;
};
// Interleaved rounds; the best of each (the machine is shared).
const best = { ordered: { wallMs: Infinity, cpuMs: Infinity }, push: { wallMs: Infinity, cpuMs: Infinity } };
for (let round = 0; round < 5; round++) {
  for (const [name, fn] of [['ordered', ordered], ['push', push]] as const) {
    const r = await measure(fn);
    if (r.kept !== W * Math.ceil(N / S)) throw new Error(`${name} read kept ${r.kept} entries`);
    best[name].wallMs = Math.min(best[name].wallMs, r.wallMs);
    best[name].cpuMs = Math.min(best[name].cpuMs, r.cpuMs);
  }
}
const f = (x: number): string => `${x.toFixed(0)} ms`;
console.log(`\njournal range read, ${N} entries on ${S} subjects, ${W} sagas wanted (best of 5)`);
console.log(`  ordered consumer (pull)   wall ${f(best.ordered.wallMs)}   client CPU ${f(best.ordered.cpuMs)}`);
console.log(`  push read                 wall ${f(best.push.wallMs)}   client CPU ${f(best.push.cpuMs)}`);
console.log(`  ratio (ordered / push)    wall ${(best.ordered.wallMs / best.push.wallMs).toFixed(2)}   CPU ${(best.ordered.cpuMs / best.push.cpuMs).toFixed(2)}`);
console.log(
  JSON.stringify({
    ordered_wall_ms: Math.round(best.ordered.wallMs),
    ordered_cpu_ms: Math.round(best.ordered.cpuMs),
    push_wall_ms: Math.round(best.push.wallMs),
    push_cpu_ms: Math.round(best.push.cpuMs),
    cpu_ratio: Number((best.ordered.cpuMs / best.push.cpuMs).toFixed(2)),
  }),
);
await nc.close();
await server.stop();

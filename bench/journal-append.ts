/**
 * Append overhead: raw `js.publish` with expectation + msgID awaiting the ack, against
 * `JetStreamJournal.append` doing the same, sequentially, interleaved in rounds so that both
 * see the same machine noise. Starts its own nats-server. Run: npx tsx bench/journal-append.ts
 */
import { performance } from 'node:perf_hooks';
import { jetstream, jetstreamManager, type JetStreamClient, type PubAck } from '@nats-io/jetstream';
import { JetStreamJournal, openJetStreamJournal } from '../src/journal/jetstream-journal.js';
import { silentLogger } from '../src/log.js';
import { connectNats } from '../src/nats/connect.js';
import { startNatsServer } from '../test/helpers/nats-server.js';
import { fmt, summary, timed } from './stats.js';

const N = Number(process.env.N ?? 5_000);
const ROUNDS = Number(process.env.ROUNDS ?? 10);
const SAGAS = 100;
const WARMUP = 500;

const server = await startNatsServer();
const nc = await connectNats({ servers: server.url });
try {
  const journal = await openJetStreamJournal(nc, { stream: 'BENCH_APPEND', subjectPrefix: 'bench.ev' });
  const js = jetstream(nc, { timeout: 2_000 });
  const payload = new Uint8Array(300).fill(42);
  // Separate sagas per method so that each keeps its own expectation chain.
  const rawLast = new Array<number>(SAGAS).fill(0);
  const jLast = new Array<number>(SAGAS).fill(0);
  let rawN = 0;
  let jN = 0;

  const raw = async (): Promise<void> => {
    const s = rawN % SAGAS;
    const pa = await js.publish(`bench.ev.raw${s}`, payload, {
      msgID: `raw${s}:${rawN++}`,
      expect: { lastSubjectSequence: rawLast[s] as number },
    });
    rawLast[s] = pa.seq;
  };
  const viaJournal = async (): Promise<void> => {
    const s = jN % SAGAS;
    const r = await journal.append(`j${s}`, payload, { expectedLastSeq: jLast[s] as number, msgId: `j${s}:${jN++}` });
    jLast[s] = r.seq;
  };

  for (let i = 0; i < WARMUP; i++) {
    await raw();
    await viaJournal();
  }
  const tRaw: number[] = [];
  const tJournal: number[] = [];
  const perRound = Math.ceil(N / ROUNDS);
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which method goes first so that neither always runs on a warmer server.
    const order = round % 2 === 0 ? [raw, viaJournal] : [viaJournal, raw];
    for (const fn of order) {
      const sink = fn === raw ? tRaw : tJournal;
      for (let i = 0; i < perRound && sink.length < N; i++) sink.push((await timed(fn))[0]);
    }
  }
  const a = summary(tRaw);
  const b = summary(tJournal);
  console.log(`nats-server ${nc.info?.version}; ${N} sequential appends each, ${ROUNDS} interleaved rounds, 300-byte payloads, ${SAGAS} sagas`);
  console.log(`raw js.publish   p50 ${fmt(a.p50)}  p90 ${fmt(a.p90)}  p99 ${fmt(a.p99)}  mean ${fmt(a.mean)}`);
  console.log(`journal.append   p50 ${fmt(b.p50)}  p90 ${fmt(b.p90)}  p99 ${fmt(b.p99)}  mean ${fmt(b.mean)}`);
  console.log(`ratio journal/raw  p50 ${(b.p50 / a.p50).toFixed(3)}  p99 ${(b.p99 / a.p99).toFixed(3)}  mean ${(b.mean / a.mean).toFixed(3)}`);

  // The wrapper's own CPU cost, with the network taken out: a client whose publish resolves
  // at once, called directly and through append. The raw figures above cannot resolve it:
  // their run-to-run spread is tens of µs.
  const ack: PubAck = { stream: 'X', seq: 1, duplicate: false };
  const stub = Object.create(js) as JetStreamClient;
  stub.publish = () => Promise.resolve(ack);
  const stubbed = new JetStreamJournal({
    nc,
    js: stub,
    jsm: await jetstreamManager(nc),
    stream: 'BENCH_APPEND',
    subjectPrefix: 'bench.ev',
    logger: silentLogger,
  });
  const CALLS = 200_000;
  const loop = async (fn: (i: number) => Promise<unknown>): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < CALLS; i++) await fn(i);
    return ((performance.now() - t0) * 1000) / CALLS;
  };
  let direct = Infinity;
  let wrapped = Infinity;
  for (let rep = 0; rep < 5; rep++) {
    // what any caller of the raw client does per call: build the options and the msgId
    direct = Math.min(direct, await loop((i) => stub.publish('bench.ev.s1', payload, { msgID: `m${i}`, expect: { lastSubjectSequence: 0 } })));
    wrapped = Math.min(wrapped, await loop((i) => stubbed.append('s1', payload, { expectedLastSeq: 0, msgId: `m${i}` })));
  }
  console.log(`stub client, best of 5 x ${CALLS}: direct ${direct.toFixed(3)} µs/call, via append ${wrapped.toFixed(3)} µs/call (+${(wrapped - direct).toFixed(3)} µs)`);
} finally {
  await nc.close();
  await server.stop();
}

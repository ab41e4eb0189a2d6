/**
 * Listing open sagas from the JetStream index: names via stream info, payloads via one ordered
 * consumer or via bounded-parallel direct gets, and `listOpen` itself. 10,000 sagas of which
 * 7,500 finished (defaults). Starts its own nats-server. Run: npx tsx bench/index-list.ts
 */
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { SagaStatus, type IndexRecord } from '../src/journal/index-store.js';
import { openJetStreamIndexStore } from '../src/journal/jetstream-index-store.js';
import { connectNats } from '../src/nats/connect.js';
import { startNatsServer } from '../test/helpers/nats-server.js';
import { fmt, summary, timed } from './stats.js';

const TOTAL = Number(process.env.TOTAL ?? 10_000);
const FINISHED = Number(process.env.FINISHED ?? 7_500);
const REPS = Number(process.env.REPS ?? 20);
const STREAM = 'BENCH_INDEX';
const PREFIX = 'bench.idx';

const server = await startNatsServer();
const nc = await connectNats({ servers: server.url });
try {
  const index = await openJetStreamIndexStore(nc, { stream: STREAM, subjectPrefix: PREFIX });
  const js = jetstream(nc, { timeout: 10_000 });
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  const rec = (i: number, status: SagaStatus = SagaStatus.Running): IndexRecord => ({
    sagaId: `saga-${String(i).padStart(6, '0')}`,
    machine: 'order@1',
    status,
    owner: 'coord-1',
    epoch: 1,
    createdAt: 1_700_000_000_000 + i,
    updatedAt: 1_700_000_000_000 + i,
  });
  for (let i = 0; i < TOTAL; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, TOTAL - i) }, (_, k) => index.create(rec(i + k))));
  }
  for (let i = 0; i < FINISHED; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, FINISHED - i) }, (_, k) => index.finish(rec(i + k, SagaStatus.Completed))));
  }
  const open = TOTAL - FINISHED;
  console.log(`${TOTAL} sagas, ${FINISHED} finished, ${open} open; ${REPS} reps, medians`);

  const base = `${PREFIX}.open.`;
  const names = async (): Promise<string[]> =>
    Object.keys((await jsm.streams.info(STREAM, { subjects_filter: `${base}*` })).state.subjects ?? {});
  const viaConsumer = async (): Promise<number> => {
    const oc = await js.consumers.get(STREAM, { filter_subjects: `${base}*`, deliver_policy: DeliverPolicy.All });
    let n = 0;
    try {
      const pending = (await oc.info(true)).num_pending;
      if (pending === 0) return 0;
      const iter = await oc.consume({ max_messages: Math.min(pending, 5_000) });
      for await (const m of iter) {
        n++;
        if (m.info.pending === 0) break;
      }
      iter.stop();
    } finally {
      oc.delete().catch(() => undefined);
    }
    return n;
  };
  const viaDirect = async (subjects: readonly string[], concurrency: number): Promise<number> => {
    let next = 0;
    let n = 0;
    const worker = async (): Promise<void> => {
      while (next < subjects.length) {
        const s = subjects[next++] as string;
        if (await jsm.direct.getMessage(STREAM, { last_by_subj: s })) n++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, subjects.length) }, worker));
    return n;
  };

  const all = (await names()).sort();
  const page500 = all.slice(0, 500);
  const cells: Record<string, number[]> = {};
  const add = (k: string, ms: number): void => void (cells[k] ??= []).push(ms);
  for (let r = 0; r < REPS; r++) {
    add('names (stream info + subjects_filter)', (await timed(names))[0]);
    add(`all ${open} payloads: ordered consumer`, (await timed(viaConsumer))[0]);
    add(`all ${open} payloads: direct gets x16`, (await timed(() => viaDirect(all, 16)))[0]);
    add(`all ${open} payloads: direct gets x64`, (await timed(() => viaDirect(all, 64)))[0]);
    add(`all ${open} payloads: direct gets x256`, (await timed(() => viaDirect(all, 256)))[0]);
    add('page of 500: direct gets x64', (await timed(() => viaDirect(page500, 64)))[0]);
    add('listOpen() (page of 500)', (await timed(() => index.listOpen()))[0]);
    add(`listOpen({ limit: ${open} }) (whole set)`, (await timed(() => index.listOpen({ limit: open })))[0]);
    add('listFinished() (page of 500)', (await timed(() => index.listFinished()))[0]);
  }
  for (const [k, v] of Object.entries(cells)) {
    const s = summary(v);
    console.log(`${k.padEnd(44)} p50 ${fmt(s.p50)}  p90 ${fmt(s.p90)}`);
  }
} finally {
  await nc.close();
  await server.stop();
}

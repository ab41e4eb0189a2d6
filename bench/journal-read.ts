/**
 * Reading one saga: direct-get walk vs ordered consumer vs `JetStreamJournal.read` (which
 * walks up to a limit and then switches), in a stream with background noise. Starts its own
 * nats-server. Run: npx tsx bench/journal-read.ts
 */
import { DeliverPolicy, jetstream, jetstreamManager, type StoredMsg } from '@nats-io/jetstream';
import { openJetStreamJournal } from '../src/journal/jetstream-journal.js';
import { connectNats } from '../src/nats/connect.js';
import { startNatsServer } from '../test/helpers/nats-server.js';
import { fmt, summary, timed } from './stats.js';

const REPS = Number(process.env.REPS ?? 200);
const NOISE_SAGAS = Number(process.env.NOISE_SAGAS ?? 5_000);
const SIZES = [0, 1, 3, 5, 8, 10, 16, 20, 30, 50, 100];
const STREAM = 'BENCH_READ';
const PREFIX = 'bench.ev';

const server = await startNatsServer();
const nc = await connectNats({ servers: server.url });
try {
  const journal = await openJetStreamJournal(nc, { stream: STREAM, subjectPrefix: PREFIX });
  const js = jetstream(nc, { timeout: 5_000 });
  const jsm = await jetstreamManager(nc);
  const payload = new Uint8Array(300).fill(42);

  // Sagas of each size, written in waves among noise sagas so that their entries are spread.
  const heads = new Map<string, number>();
  const maxSize = Math.max(...SIZES);
  for (let wave = 0; wave < maxSize; wave++) {
    const batch: Promise<unknown>[] = [];
    for (const n of SIZES) if (wave < n) batch.push(appendNext(`s${n}`));
    if (wave < 10) for (let k = 0; k < NOISE_SAGAS; k++) batch.push(appendNext(`noise${k}`));
    await Promise.all(batch);
  }
  async function appendNext(id: string): Promise<void> {
    const last = heads.get(id) ?? 0;
    const r = await journal.append(id, payload, { expectedLastSeq: last, msgId: `${id}:${last}` });
    heads.set(id, r.seq);
  }
  console.log(`stream: ${await journal.lastSeq()} messages; ${REPS} reads per cell, interleaved`);

  const walk = async (subject: string): Promise<number> => {
    let seq = 1;
    let count = 0;
    for (;;) {
      const m: StoredMsg | null = await jsm.direct.getMessage(STREAM, { seq, next_by_subj: subject });
      if (m === null) return count;
      count++;
      seq = m.seq + 1;
    }
  };
  const consumer = async (subject: string): Promise<number> => {
    const oc = await js.consumers.get(STREAM, {
      filter_subjects: subject,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: 1,
      inactive_threshold: 30_000,
    });
    let count = 0;
    try {
      const pending = (await oc.info(true)).num_pending;
      if (pending === 0) return 0;
      const iter = await oc.consume({ max_messages: Math.min(pending, 5_000) });
      for await (const m of iter) {
        count++;
        if (m.info.pending === 0) break;
      }
      iter.stop();
    } finally {
      oc.delete().catch(() => undefined);
    }
    return count;
  };

  const rows: string[] = [];
  for (const n of SIZES) {
    const id = `s${n}`;
    const subject = `${PREFIX}.${id}`;
    const t = { walk: [] as number[], consumer: [] as number[], read: [] as number[] };
    for (let r = 0; r < REPS; r++) {
      const [a, ca] = await timed(() => walk(subject));
      const [b, cb] = await timed(() => consumer(subject));
      const [c, cc] = await timed(async () => (await journal.read(id)).length);
      if (ca !== n || cb !== n || cc !== n) throw new Error(`count mismatch for ${id}: ${ca}/${cb}/${cc}`);
      t.walk.push(a);
      t.consumer.push(b);
      t.read.push(c);
    }
    const w = summary(t.walk);
    const o = summary(t.consumer);
    const h = summary(t.read);
    rows.push(
      `${String(n).padStart(4)} entries | walk p50 ${fmt(w.p50)} p99 ${fmt(w.p99)} | consumer p50 ${fmt(o.p50)} p99 ${fmt(o.p99)} | read() p50 ${fmt(h.p50)} p99 ${fmt(h.p99)}`,
    );
    console.log(rows[rows.length - 1]);
  }
} finally {
  await nc.close();
  await server.stop();
}

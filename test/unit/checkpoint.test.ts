/**
 * Checkpoints: folding from a checkpoint plus the journal's tail must give exactly what the
 * whole journal gives; a recovering runtime must read only the tail; and a checkpoint that is
 * unreadable or does not line up with the journal must be ignored in favour of a full fold.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { defineSaga } from '../../machines/kit/index.js';
import { encodeRecord } from '../../src/journal/codec.js';
import type { Journal, JournalEntry } from '../../src/journal/journal.js';
import { MemoryKvStore } from '../../src/journal/memory-kv-store.js';
import { applyEntry, emptyBook } from '../../src/runtime/book.js';
import { loadCheckpoint, makeCheckpoint, saveCheckpoint, type Checkpoint } from '../../src/runtime/checkpoint.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { crash } from '../helpers/lease.js';
import { foldSaga, type FoldedSaga } from '../../src/runtime/fold.js';
import { pureTransitions } from '../../src/runtime/pure-transition.js';
import { MachineRegistry } from '../../src/runtime/registry.js';
import { statusOf } from '../../src/runtime/status.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { memoryStores, type RuntimeStores } from '../../src/runtime/stores.js';
import type { SagaBinding, StepFn } from '../../src/runtime/types.js';
import { orderBinding, orderMachine } from '../fixtures/order-saga.js';
import { choice, nextEvent, type Choice } from '../helpers/random-inputs.js';
import { until } from '../helpers/until.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The parts of a fold that must not depend on where it started. */
const comparable = (f: FoldedSaga) => ({
  value: f.snapshot.value,
  context: f.snapshot.context,
  status: f.snapshot.status,
  output: f.snapshot.output,
  children: Object.keys(f.snapshot.children).sort(),
  book: f.book,
  no: f.no,
  lastSeq: f.lastSeq,
  firstSeq: f.firstSeq,
  lastAt: f.lastAt,
  createdAt: f.createdAt,
});

// ---------------------------------------------------------------------------------------------
// Pure: checkpoint at every cut of random journals.
// ---------------------------------------------------------------------------------------------

/**
 * A journal as the host writes it: only inputs that change something are appended, seqs are
 * global (other sagas' entries in between), `at` grows.
 */
function journalOf(sagaId: string, choices: readonly Choice[], gap: number): JournalEntry[] {
  const pure = pureTransitions(orderMachine);
  const entries: JournalEntry[] = [];
  let seq = 10;
  let at = 1_700_000_000_000;
  const push = (data: Uint8Array) => entries.push({ sagaId, seq: (seq += gap), msgId: undefined, data });
  let [snapshot, actions] = pure.initial({ order: sagaId });
  const book = emptyBook();
  applyEntry(book, { sagaId, no: 1, at, event: undefined, final: false }, actions);
  push(encodeRecord({ no: 1, at, init: { machine: 'order', version: 1, input: { order: sagaId } } }));
  for (const c of choices) {
    if (snapshot.status === 'done') break;
    const event = nextEvent(book, c, (n) => ({ n: n % 7 }));
    at += 37;
    const [next, acts] = pure.next(snapshot, { ...event, at });
    if (next === snapshot && acts.length === 0) continue;
    const no = entries.length + 1;
    applyEntry(book, { sagaId, no, at, event: { ...event, at }, final: next.status === 'done' }, acts);
    [snapshot, actions] = [next, acts];
    push(encodeRecord({ no, at, event: event as { type: string } }));
  }
  return entries;
}

const ok = (): Choice => ({ kind: 'result', pick: 0, ok: true, retryable: false, external: 0 });
const fail = (): Choice => ({ kind: 'result', pick: 0, ok: false, retryable: false, external: 0 });
/** An undo is retried only while its failures are retryable; a terminal one blocks at once. */
const flaky = (): Choice => ({ kind: 'result', pick: 0, ok: false, retryable: true, external: 0 });
const fire = (): Choice => ({ kind: 'timer', pick: 0, ok: true, retryable: false, external: 0 });
const operator = (external: number): Choice => ({ kind: 'external', pick: 0, ok: true, retryable: false, external });
/** reserve, charge, ship fails; its undo keeps failing into `blocked`; saga.retry; one undo retry; compensated. */
const THROUGH_BLOCKED: Choice[] = [
  ok(), ok(), fail(), flaky(), fire(), flaky(), fire(), flaky(), operator(1), ok(), flaky(), fire(), ok(), ok(),
];

describe('checkpoint + tail = whole journal', () => {
  const registry = new MachineRegistry([orderBinding()]);

  it('holds at every cut of random journals, through a save/load round trip (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(choice, { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 5 }), async (choices, gap) => {
        const id = 'cp';
        const entries = journalOf(id, choices, gap);
        const whole = foldSaga(registry, id, entries);
        const kv = new MemoryKvStore('checkpoints');
        for (let cut = 1; cut <= entries.length; cut++) {
          const head = foldSaga(registry, id, entries.slice(0, cut));
          await saveCheckpoint(kv, id, makeCheckpoint(orderMachine, {
            no: head.no, seq: head.lastSeq, at: head.lastAt, createdAt: head.createdAt, firstSeq: head.firstSeq,
            machine: 'order', version: 1, snapshot: head.snapshot, book: structuredClone(head.book),
          }));
          const cp = await loadCheckpoint(kv, id);
          expect(cp).not.toBeNull();
          let folded = 0;
          const tail = entries.filter((e) => e.seq > cp!.seq);
          const fromCp = foldSaga(registry, id, tail, cp, () => folded++);
          expect(folded).toBe(entries.length - cut);
          expect(comparable(fromCp)).toEqual(comparable(whole));
        }
      }),
      { numRuns: 60, examples: [[THROUGH_BLOCKED, 3]] },
    );
  });

  it('the hand-made journal goes through blocked to compensated', () => {
    const entries = journalOf('hb', THROUGH_BLOCKED, 1);
    const statuses = entries.map((_, k) => statusOf(foldSaga(registry, 'hb', entries.slice(0, k + 1)).snapshot));
    expect(statuses).toContain('blocked');
    expect(statuses.at(-1)).toBe('compensated');
  });

  it('a restored in-flight invocation that the tail abandons (cancel) leaves the book', () => {
    // Regression guard for restoreSnapshot: it must revive children, or the stopChild of the
    // cancel would not name the charge and recovery would re-run a step the saga left.
    const id = 'cx';
    const entries = journalOf(id, [{ kind: 'result', pick: 0, ok: true, retryable: false, external: 0 }, { kind: 'external', pick: 0, ok: true, retryable: false, external: 0 }], 1);
    const head = foldSaga(registry, id, entries.slice(0, 2));
    expect(Object.keys(head.book.pending)).toEqual(['charge']);
    const cp = JSON.parse(JSON.stringify(makeCheckpoint(orderMachine, {
      no: head.no, seq: head.lastSeq, at: head.lastAt, createdAt: head.createdAt, firstSeq: head.firstSeq,
      machine: 'order', version: 1, snapshot: head.snapshot, book: head.book,
    }))) as Checkpoint;
    const fromCp = foldSaga(registry, id, entries.slice(2), cp);
    expect(Object.keys(fromCp.book.pending)).toEqual(['undo.charge']);
  });
});

// ---------------------------------------------------------------------------------------------
// A runtime writing checkpoints, and one recovering from them.
// ---------------------------------------------------------------------------------------------

const STEPS = 10;
const longSaga = defineSaga({
  id: 'long',
  steps: Array.from({ length: STEPS }, (_, i) => ({ name: `s${i + 1}`, run: `r${i + 1}`, undo: `u${i + 1}` })),
});

/** Steps that succeed at once; with `hold`, the last never returns (until aborted). */
function longBinding(log: string[], hold: boolean): SagaBinding {
  const steps: Record<string, StepFn> = {};
  for (let i = 1; i <= STEPS; i++) {
    steps[`r${i}`] = (_input, ctx) => {
      log.push(ctx.idempotencyKey);
      if (hold && i === STEPS) return new Promise((_r, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
      return { done: i, saga: ctx.sagaId };
    };
    steps[`u${i}`] = () => null;
  }
  return { id: 'long', version: 1, machine: longSaga, steps };
}

interface Read {
  readonly sagaId: string;
  readonly fromSeq: number | undefined;
}

/** Records every per-saga read of the journal. */
function spyReads(journal: Journal): Read[] {
  const reads: Read[] = [];
  const read = journal.read.bind(journal);
  journal.read = (sagaId, options) => {
    reads.push({ sagaId, fromSeq: options?.fromSeq });
    return read(sagaId, options);
  };
  return reads;
}

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.close()));
});

async function open(stores: RuntimeStores, binding: SagaBinding, checkpointEvery: number): Promise<Runtime> {
  const rt = await createRuntime({ machines: [binding], stores, owner: 'c1', checkpointEvery, recoverOnStart: false, recoverIntervalMs: 0 });
  runtimes.push(rt);
  return rt;
}


const IDS = ['L', 'M'];

/**
 * Runs two long sagas (their entries interleave, so seq ≠ entry no) up to their last step with
 * checkpoints every 3 entries, then crashes. Returns every checkpoint written, in order.
 */
async function crashMidway(stores: RuntimeStores): Promise<Map<string, Checkpoint[]>> {
  const written = new Map<string, Checkpoint[]>(IDS.map((id) => [id, []]));
  const put = stores.checkpoints.put.bind(stores.checkpoints);
  stores.checkpoints.put = (key, value) => {
    written.get(key)?.push(JSON.parse(decoder.decode(value)) as Checkpoint);
    return put(key, value);
  };
  const a = await open(stores, longBinding([], true), 3);
  await Promise.all(IDS.map((id) => a.start('long', { id }, { id })));
  // the last step is spawned by entry 10; checkpoints are written at entries 3, 6 and 9
  await until(async () => {
    for (const id of IDS) {
      if ((await a.get(id)).pending[0]?.id !== `s${STEPS}`) return false;
      if ((await loadCheckpoint(stores.checkpoints, id))?.no !== 9) return false;
    }
    return true;
  });
  await crash(a, stores);
  stores.checkpoints.put = put;
  return written;
}

async function fullFold(stores: RuntimeStores, id: string): Promise<FoldedSaga> {
  return foldSaga(new MachineRegistry([longBinding([], false)]), id, await stores.journal.read(id));
}

describe('checkpoints in a runtime', () => {
  it('are written every N entries while a saga runs', async () => {
    const stores = memoryStores();
    const written = await crashMidway(stores);
    for (const id of IDS) {
      const cps = written.get(id)!;
      expect(cps.map((c) => c.no)).toEqual([3, 6, 9]);
      const entries = await stores.journal.read(id);
      for (const cp of cps) {
        expect(cp).toMatchObject({ machine: 'long', version: 1, firstSeq: entries[0]!.seq, seq: entries[cp.no - 1]!.seq });
        expect(Object.values(cp.book.pending).map((p) => p.key)).toEqual([`${id}:${cp.no}:s${cp.no}`]);
      }
    }
  });

  it('a recovering runtime folds only the tail after the checkpoint and gets the same state', async () => {
    const stores = memoryStores();
    await crashMidway(stores);
    const expected = new Map<string, FoldedSaga>();
    for (const id of IDS) expected.set(id, await fullFold(stores, id));

    const reads = spyReads(stores.journal);
    const log: string[] = [];
    const b = await open(stores, longBinding(log, true), 3);
    expect(await b.recover()).toMatchObject({ recovered: 2, failed: 0 });

    for (const id of IDS) {
      const cp = (await loadCheckpoint(stores.checkpoints, id))!;
      expect(reads.filter((r) => r.sagaId === id)).toEqual([{ sagaId: id, fromSeq: cp.seq + 1 }]);
      const info = await b.get(id);
      const whole = expected.get(id)!;
      // + 1: the restart's takeover marker (a new incarnation fences the old one's appends)
      expect({ state: info.state, context: info.context, seq: info.entryNo }).toEqual({ state: whole.snapshot.value, context: whole.snapshot.context, seq: whole.no + 1 });
      expect(info.pending).toEqual([{ id: `s${STEPS}`, src: `r${STEPS}`, attempt: 1, key: `${id}:10:s${STEPS}` }]);
    }
    // only the step in flight runs again, under its original key
    await until(() => log.length === 2);
    expect(log.sort()).toEqual(['L:10:s10', 'M:10:s10']);
  });

  it('any earlier checkpoint of the saga leads to the same state; the finished saga’s checkpoint is deleted', async () => {
    const stores = memoryStores();
    const written = await crashMidway(stores);
    const whole = await fullFold(stores, 'L');
    for (const cp of written.get('L')!) {
      await stores.checkpoints.put('L', encoder.encode(JSON.stringify(cp)));
      const reads = spyReads(stores.journal);
      const b = await open(stores, longBinding([], true), 3);
      await b.recover();
      expect(reads.find((r) => r.sagaId === 'L')).toEqual({ sagaId: 'L', fromSeq: cp.seq + 1 });
      const info = await b.get('L');
      // Every restart adds its takeover marker: the saga's entry count is the journal's.
      expect([info.state, info.context, info.entryNo]).toEqual([whole.snapshot.value, whole.snapshot.context, (await stores.journal.read('L')).length]);
      await crash(b, stores);
    }
    const c = await open(stores, longBinding([], false), 3);
    await c.recover();
    expect((await c.wait('L', { timeoutMs: 5_000 })).status).toBe('completed');
    expect(await stores.checkpoints.get('L')).toBeNull();
  });

  type Spoil = (cp: Checkpoint) => Uint8Array;
  const spoilers: Array<[string, Spoil]> = [
    ['garbage bytes', () => new Uint8Array([0xff, 0x00, 0x7b])],
    ['JSON that is not a checkpoint', () => encoder.encode('{"hello":"world"}')],
    ['JSON null', () => encoder.encode('null')],
    ['a checkpoint whose entry number does not line up with the journal', (cp) => encoder.encode(JSON.stringify({ ...cp, no: cp.no - 1 }))],
    ['a checkpoint pointing past the tail it claims', (cp) => encoder.encode(JSON.stringify({ ...cp, seq: cp.seq - 1 }))],
    ['a checkpoint of a machine not registered here', (cp) => encoder.encode(JSON.stringify({ ...cp, machine: 'other' }))],
    ['a checkpoint of an unknown version', (cp) => encoder.encode(JSON.stringify({ ...cp, version: 9 }))],
  ];

  it.each(spoilers)('ignores %s and folds the whole journal instead', async (_what, spoil) => {
    const stores = memoryStores();
    await crashMidway(stores);
    const whole = await fullFold(stores, 'L');
    const cp = (await loadCheckpoint(stores.checkpoints, 'L'))!;
    await stores.checkpoints.put('L', spoil(cp));

    const reads = spyReads(stores.journal);
    const log: string[] = [];
    const b = await open(stores, longBinding(log, false), 3);
    expect(await b.recover()).toMatchObject({ recovered: 2, failed: 0 });
    expect(reads.filter((r) => r.sagaId === 'L').at(-1)).toEqual({ sagaId: 'L', fromSeq: undefined });

    const info = await b.wait('L', { timeoutMs: 5_000 });
    expect(info.status).toBe('completed');
    expect(log.filter((k) => k.startsWith('L:'))).toEqual(['L:10:s10']);
    const events = await b.events('L');
    // the init, one entry per step and the restart's takeover marker
    expect(events.map((e) => e.entryNo)).toEqual(Array.from({ length: STEPS + 2 }, (_, i) => i + 1));
    expect((info.context as { outputs: unknown }).outputs).toEqual({
      ...(whole.snapshot.context as { outputs: Record<string, unknown> }).outputs,
      s10: { done: 10, saga: 'L' },
    });
  });
});

/** The journal record format: round-trips, the hot-path encoder, peekEntryNo and bad bytes. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CorruptEntryError } from '../../src/errors.js';
import {
  decodeRecord,
  encodeEventRecord,
  encodeRecord,
  isInitRecord,
  isTakeoverRecord,
  peekEntryNo,
  type EventRecord,
  type InitRecord,
  type JournalRecord,
  type TakeoverRecord,
} from '../../src/journal/codec.js';

const WHERE = { sagaId: 'saga-1', seq: 42 };
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** JSON values as they survive a JSON round trip (no -0, no undefined, no NaN). */
const json: fc.Arbitrary<unknown> = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown);
const at = fc.oneof(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Object.is(x, -0)));
const eventData = fc
  .tuple(fc.string({ minLength: 1 }), fc.dictionary(fc.string().filter((k) => k !== 'type'), json, { maxKeys: 4 }))
  .map(([type, rest]) => ({ type, ...rest }));

const initRecord: fc.Arbitrary<InitRecord> = fc
  .record({
    at,
    machine: fc.string(),
    version: fc.integer({ min: 1, max: 1_000 }),
    input: json,
    owner: fc.option(fc.string(), { nil: undefined }),
  })
  .map(({ at, machine, version, input, owner }) => ({
    no: 1 as const,
    at,
    init: owner === undefined ? { machine, version, input } : { machine, version, input, owner },
  }));

const eventRecord: fc.Arbitrary<EventRecord> = fc.record({ no: fc.integer({ min: 2, max: 2 ** 40 }), at, event: eventData });

const takeoverRecord: fc.Arbitrary<TakeoverRecord> = fc.record({
  no: fc.integer({ min: 2, max: 2 ** 40 }),
  at,
  takeover: fc.record({ owner: fc.string(), epoch: fc.integer({ min: 1 }), from: fc.string() }),
});

describe('codec: round trips', () => {
  it('decodes what it encodes, for init, event and takeover records (property)', () => {
    fc.assert(
      fc.property(fc.oneof(initRecord, eventRecord, takeoverRecord), (record: JournalRecord) => {
        const back = decodeRecord(encodeRecord(record), WHERE);
        expect(back).toEqual(record);
        expect(isInitRecord(back)).toBe('init' in record);
        expect(isTakeoverRecord(back)).toBe('takeover' in record);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps unicode, nested input and the owner of an init record', () => {
    const init: InitRecord = { no: 1, at: 1_700_000_000_000, init: { machine: 'order', version: 3, input: { name: 'Zoë 🚚', items: [1, { a: null }] }, owner: 'c1' } };
    const back = decodeRecord(encodeRecord(init), WHERE);
    expect(back).toEqual(init);
    if (!isInitRecord(back)) throw new Error('not an init record');
    expect(back.init.owner).toBe('c1');
  });

  it('the event fast path writes exactly what the generic encoder writes (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 45 }), at, eventData, (no, when, event) => {
        const fast = encodeEventRecord(no, when, JSON.stringify(event));
        expect(new TextDecoder().decode(fast)).toBe(new TextDecoder().decode(encodeRecord({ no, at: when, event })));
        expect(fast).toEqual(encodeRecord({ no, at: when, event }));
      }),
      { numRuns: 300 },
    );
  });
});

describe('codec: peekEntryNo', () => {
  it('reads the entry number of every encoded record without decoding it (property)', () => {
    fc.assert(
      fc.property(fc.oneof(initRecord, eventRecord, takeoverRecord), (record) => {
        expect(peekEntryNo(encodeRecord(record))).toBe(record.no);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 2 ** 45 }), at, eventData, (no, when, event) => {
        expect(peekEntryNo(encodeEventRecord(no, when, JSON.stringify(event)))).toBe(no);
      }),
    );
  });

  it('gives -1 when `no` is not written first', () => {
    expect(peekEntryNo(bytes('{"at":1,"no":2,"event":{"type":"x"}}'))).toBe(-1);
    expect(peekEntryNo(bytes('{ "no": 2 }'))).toBe(-1);
    expect(peekEntryNo(bytes('hello'))).toBe(-1);
    expect(peekEntryNo(bytes(''))).toBe(-1);
    expect(peekEntryNo(bytes('{"no":-3,"at":1}'))).toBe(-1);
  });
});

describe('codec: malformed entries', () => {
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0xfe]), /journal entry 42 of saga "saga-1" is not valid JSON/],
    ['truncated JSON', bytes('{"no":2,"at":1,"event":{"type":'), /is not valid JSON/],
    ['empty bytes', new Uint8Array(), /is not valid JSON/],
    ['a JSON array', bytes('[1,2]'), /is malformed: not an object/],
    ['JSON null', bytes('null'), /is malformed: not an object/],
    ['a missing no', bytes('{"at":1,"event":{"type":"x"}}'), /"no" must be a positive integer/],
    ['no 0', bytes('{"no":0,"at":1,"event":{"type":"x"}}'), /"no" must be a positive integer/],
    ['a fractional no', bytes('{"no":2.5,"at":1,"event":{"type":"x"}}'), /"no" must be a positive integer/],
    ['a string at', bytes('{"no":2,"at":"now","event":{"type":"x"}}'), /"at" must be a number/],
    ['an init record that is not entry 1', bytes('{"no":2,"at":1,"init":{"machine":"m","version":1}}'), /an init record must be entry 1/],
    ['an init without machine', bytes('{"no":1,"at":1,"init":{"version":1}}'), /"init.machine" must be a string/],
    ['an init with a fractional version', bytes('{"no":1,"at":1,"init":{"machine":"m","version":1.5}}'), /"init.version" must be an integer/],
    ['an init that is not an object', bytes('{"no":1,"at":1,"init":null}'), /"init" must be an object/],
    ['an event without type', bytes('{"no":2,"at":1,"event":{"kind":"x"}}'), /"event.type" must be a string/],
    ['no event at all', bytes('{"no":2,"at":1}'), /"event.type" must be a string/],
    ['an event as entry 1', bytes('{"no":1,"at":1,"event":{"type":"x"}}'), /entry 1 must be an init record/],
    ['a takeover without owner', bytes('{"no":3,"at":1,"takeover":{"epoch":2}}'), /"takeover.owner" must be a string/],
    ['a takeover as entry 1', bytes('{"no":1,"at":1,"takeover":{"owner":"o","epoch":2,"from":"p"}}'), /entry 1 must be an init record/],
  ];

  it.each(cases)('reports %s as CORRUPT_ENTRY with where it was found', (_what, data, message) => {
    let error: unknown;
    try {
      decodeRecord(data, WHERE);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CorruptEntryError);
    expect(error).toMatchObject({ code: 'CORRUPT_ENTRY', details: expect.objectContaining(WHERE) });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain('entry 42 of saga "saga-1"');
  });

  it('never throws anything but CorruptEntryError on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.json().map(bytes)), (data) => {
        try {
          decodeRecord(data, WHERE);
        } catch (e) {
          expect(e).toBeInstanceOf(CorruptEntryError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

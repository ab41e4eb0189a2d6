/**
 * The journal's record format (JSON, one record per entry). The journal holds inputs only:
 * the init record (machine, version, input) and then every event the saga consumed, stamped
 * with the host's time `at`. Derived state is never written; replay folds these records.
 */
import { CorruptEntryError } from '../errors.js';

export interface InitRecord {
  readonly no: 1;
  readonly at: number;
  readonly init: {
    readonly machine: string;
    readonly version: number;
    readonly input: unknown;
    /** The coordinator that started the saga (for the timeline; not used by replay). */
    readonly owner?: string;
    /** Set when the saga is a fork of another (`runtime.fork`): see `ForkedFrom`. */
    readonly forkedFrom?: ForkedFrom;
  };
}

/**
 * Where a forked saga came from: its journal begins with copies of entries 1..`entry` of saga
 * `sagaId` (takeover records left out), `entries` of them counting this init. A journal that
 * holds fewer than `entries` entries is a fork whose copying was interrupted: it must never be
 * driven as if it were complete.
 */
export interface ForkedFrom {
  readonly sagaId: string;
  readonly entry: number;
  readonly entries: number;
}

export interface SagaEventData {
  readonly type: string;
  readonly [key: string]: unknown;
}

export interface EventRecord {
  /** Entry number within the saga: 1 is the init record, then 2, 3, ... without gaps. */
  readonly no: number;
  readonly at: number;
  readonly event: SagaEventData;
}

/**
 * Written by a coordinator that takes a saga over from one whose lease lapsed. It is not an
 * input of the machine (replay skips it); it moves the saga's last sequence so that the old
 * owner, should it still be running, fails its next append and stops.
 */
export interface TakeoverRecord {
  readonly no: number;
  readonly at: number;
  readonly takeover: { readonly owner: string; readonly epoch: number; readonly from: string };
}

/**
 * Written by a coordinator that found a saga's index record but no init entry: a start that
 * died (or stalls) between its index record and its first entry. Appended where the init would
 * go (after the journal's current head), it fences that start: a late init, expecting the
 * journal as it was, fails and its start tries again after the void. It is not an entry of the
 * saga (number 0, never counted) and only ever precedes the init.
 */
export interface VoidRecord {
  readonly no: 0;
  readonly at: number;
  readonly void: { readonly owner: string; readonly epoch: number; readonly reason: string };
}

export type JournalRecord = InitRecord | EventRecord | TakeoverRecord | VoidRecord;

export function isInitRecord(r: JournalRecord): r is InitRecord {
  return 'init' in r;
}

export function isTakeoverRecord(r: JournalRecord): r is TakeoverRecord {
  return 'takeover' in r;
}

export function isVoidRecord(r: JournalRecord): r is VoidRecord {
  return 'void' in r;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeRecord(record: JournalRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

/**
 * Fast path for the hot loop: the event is already JSON (the host stringifies it once, then
 * feeds the parsed copy to the machine so live and replayed runs see identical data).
 */
export function encodeEventRecord(no: number, at: number, eventJson: string): Uint8Array {
  return encoder.encode(`{"no":${no},"at":${at},"event":${eventJson}}`);
}

/** Parses and checks one entry; a bad entry is reported with where it was found. */
export function decodeRecord(data: Uint8Array, where: { sagaId: string; seq: number }): JournalRecord {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch (e) {
    throw new CorruptEntryError(`journal entry ${where.seq} of saga "${where.sagaId}" is not valid JSON`, {
      ...where,
      reason: (e as Error).message,
    });
  }
  const r = value as Record<string, unknown>;
  const bad = (reason: string): never => {
    throw new CorruptEntryError(`journal entry ${where.seq} of saga "${where.sagaId}" is malformed: ${reason}`, {
      ...where,
      reason,
    });
  };
  if (typeof r !== 'object' || r === null || Array.isArray(r)) bad('not an object');
  if ('void' in r) {
    const v = r.void as Record<string, unknown>;
    if (r.no !== 0) bad('a void record must have number 0');
    if (typeof r.at !== 'number' || !Number.isFinite(r.at)) bad('"at" must be a number');
    if (typeof v !== 'object' || v === null || typeof v.owner !== 'string') bad('"void.owner" must be a string');
    return r as unknown as JournalRecord;
  }
  if (!Number.isInteger(r.no) || (r.no as number) < 1) bad('"no" must be a positive integer');
  if (typeof r.at !== 'number' || !Number.isFinite(r.at)) bad('"at" must be a number');
  if ('init' in r) {
    const init = r.init as Record<string, unknown>;
    if (r.no !== 1) bad('an init record must be entry 1');
    if (typeof init !== 'object' || init === null) bad('"init" must be an object');
    if (typeof init.machine !== 'string') bad('"init.machine" must be a string');
    if (!Number.isInteger(init.version)) bad('"init.version" must be an integer');
    if (init.forkedFrom !== undefined) {
      const f = init.forkedFrom as Record<string, unknown>;
      if (typeof f !== 'object' || f === null || typeof f.sagaId !== 'string') bad('"init.forkedFrom.sagaId" must be a string');
      if (!Number.isInteger(f.entry) || (f.entry as number) < 1) bad('"init.forkedFrom.entry" must be a positive integer');
      if (!Number.isInteger(f.entries) || (f.entries as number) < 1) bad('"init.forkedFrom.entries" must be a positive integer');
    }
  } else if ('takeover' in r) {
    const t = r.takeover as Record<string, unknown>;
    if (typeof t !== 'object' || t === null || typeof t.owner !== 'string') bad('"takeover.owner" must be a string');
    if (r.no === 1) bad('entry 1 must be an init record');
  } else {
    const ev = r.event as Record<string, unknown>;
    if (typeof ev !== 'object' || ev === null || typeof ev.type !== 'string') bad('"event.type" must be a string');
    if (r.no === 1) bad('entry 1 must be an init record');
  }
  return r as unknown as JournalRecord;
}

/**
 * The entry number of an encoded record, read from its first bytes without parsing it all
 * (records are written with `no` first). -1 when it cannot be read that way.
 */
export function peekEntryNo(data: Uint8Array): number {
  // Only ASCII is looked at: a cut through a multi-byte character must not throw.
  let head = '';
  for (let i = 0; i < Math.min(24, data.length); i++) head += String.fromCharCode(data[i]!);
  const m = /^\{"no":(\d+)/.exec(head);
  return m ? Number(m[1]) : -1;
}

import { describe, expect, it } from 'vitest';
import { MemoryIndexStore } from '../../src/journal/memory-index-store.js';
import { MemoryJournal } from '../../src/journal/memory-journal.js';
import { MemoryKvStore } from '../../src/journal/memory-kv-store.js';
import { describeIndexContract } from '../contract/index.contract.js';
import { describeJournalContract } from '../contract/journal.contract.js';
import { describeKvContract } from '../contract/kv.contract.js';

describeJournalContract('MemoryJournal', async () => ({ journal: new MemoryJournal() }));
describeKvContract('MemoryKvStore', async () => ({ kv: new MemoryKvStore('test') }));
describeIndexContract('MemoryIndexStore', async () => ({ index: new MemoryIndexStore() }));

describe('MemoryJournal dedupe window', () => {
  const data = new Uint8Array([1]);

  it('forgets a msgId once the window has passed, as JetStream does', async () => {
    let now = 1_000;
    const j = new MemoryJournal({ duplicateWindowMs: 100, now: () => now });
    const first = await j.append('w', data, { expectedLastSeq: 0, msgId: 'w:0' });
    now += 99;
    expect(await j.append('w', data, { expectedLastSeq: 0, msgId: 'w:0' })).toEqual({ seq: first.seq, duplicate: true });
    now += 1;
    // outside the window the stale expectation is checked again
    await expect(j.append('w', data, { expectedLastSeq: 0, msgId: 'w:0' })).rejects.toMatchObject({
      code: 'JOURNAL_CONFLICT',
      actualLastSeq: first.seq,
    });
    const again = await j.append('w', data, { expectedLastSeq: first.seq, msgId: 'w:0' });
    expect(again).toEqual({ seq: first.seq + 1, duplicate: false });
  });

  it('refuses appends after close and honours an aborted signal', async () => {
    const j = new MemoryJournal();
    const ctl = new AbortController();
    ctl.abort(new Error('stop'));
    await expect(j.append('s', data, { expectedLastSeq: 0, msgId: 's:0', signal: ctl.signal })).rejects.toThrow('stop');
    await j.close();
    await expect(j.append('s', data, { expectedLastSeq: 0, msgId: 's:0' })).rejects.toMatchObject({ code: 'CLOSED' });
  });
});

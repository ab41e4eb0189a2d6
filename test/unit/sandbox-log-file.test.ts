import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CappedLogFile, type CappedLogFileOptions } from '../../src/sandbox/capped-log-file.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function logIn(options: CappedLogFileOptions = {}): Promise<{ log: CappedLogFile; path: string }> {
  dir = await mkdtemp(join(tmpdir(), 'jetsaga-sandbox-log-'));
  const path = join(dir, 'web.log');
  return { log: await CappedLogFile.open(path, options), path };
}

describe('CappedLogFile', () => {
  it('appends lines in order, private to the owner', async () => {
    const { log, path } = await logIn();
    for (let i = 0; i < 100; i++) log.write(`line ${i}`);
    await log.close();
    expect(await readFile(path, 'utf8')).toBe(Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join(''));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('rotates once a file would pass maxBytes: at most two files, the newest lines kept, none lost from them', async () => {
    const { log, path } = await logIn({ maxBytes: 100 });
    // 10 bytes a line: "line 0000\n"
    const lines = Array.from({ length: 57 }, (_, i) => `line ${String(i).padStart(4, '0')}`);
    for (const l of lines) log.write(l);
    await log.close();
    expect((await readdir(dir!)).sort()).toEqual(['web.log', 'web.log.1']);
    const current = await readFile(path, 'utf8');
    const previous = await readFile(`${path}.1`, 'utf8');
    expect(Buffer.byteLength(current)).toBeLessThanOrEqual(100);
    expect(Buffer.byteLength(previous)).toBeLessThanOrEqual(100);
    // The two files together are the last lines written, in order, without a gap.
    const kept = (previous + current).split('\n').filter(Boolean);
    expect(kept).toEqual(lines.slice(lines.length - kept.length));
    expect(kept.length).toBeGreaterThanOrEqual(10);
  });

  it('keeps the end of a line longer than a whole file', async () => {
    const { log, path } = await logIn({ maxBytes: 16 });
    log.write(`${'x'.repeat(100)}THE END`);
    await log.close();
    expect(await readFile(path, 'utf8')).toBe(`${'x'.repeat(8)}THE END\n`);
  });

  it('appends to what an earlier run left, and counts it against the cap', async () => {
    const first = await logIn({ maxBytes: 30 });
    first.log.write('from the first run 1234567');
    await first.log.close();
    const second = await CappedLogFile.open(first.path, { maxBytes: 30 });
    second.write('from the second run');
    await second.close();
    expect(await readFile(`${first.path}.1`, 'utf8')).toBe('from the first run 1234567\n');
    expect(await readFile(first.path, 'utf8')).toBe('from the second run\n');
  });

  it('says when the writer is behind and when it has caught up', async () => {
    const { log } = await logIn({ highWaterBytes: 64 });
    expect(log.write('short')).toBe(true);
    let full = true;
    for (let i = 0; i < 20 && full; i++) full = log.write('a line of some thirty bytes...');
    expect(full).toBe(false);
    await new Promise<void>((resolve) => log.onDrain(resolve));
    let drainedAtOnce = false;
    log.onDrain(() => (drainedAtOnce = true));
    expect(drainedAtOnce).toBe(true);
    await log.close();
  });

  it('ignores writes after close, and close twice is fine', async () => {
    const { log, path } = await logIn();
    log.write('before');
    await log.close();
    expect(log.write('after')).toBe(true);
    await log.close();
    expect(await readFile(path, 'utf8')).toBe('before\n');
  });
});

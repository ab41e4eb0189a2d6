/**
 * `npx tsx bench/source-io.ts`: the source intake's own I/O — `packDirectory` (what a deploy
 * uploads) and `extractSource` (the receive step, and the pull step's unpacking) — over the
 * tree a large deploy sends, next to the floors that bound them.
 *
 * The tree (~170 MB, the same on every run): 12,000 small text files of ~7 KB in 120 dirs,
 * plus 4 × 25 MiB of seeded random bytes. Kept between runs in BENCH_TREE (default
 * $TMPDIR/jetsaga-bench-source-io-tree) so repeated runs skip generating it.
 *
 * Figures (medians over BENCH_ROUNDS, default 3), seconds:
 *   pack_s        packDirectory(tree, { gzipLevel: 1 }) piped into a file
 *   extract_s     extractSource of that file into an empty directory
 *   parse_s       gunzip + tar-stream parsing of the same file, entries discarded (the
 *                 extractor's floor without any file system work)
 *   tar_gzip1_s   tar -c | gzip -1 > file (the packer's floor as other tools reach it)
 *   tar_x_s       tar -xzf of the packed file (the extractor's floor as other tools reach it:
 *                 the same creates and writes, without the checks)
 *
 * SOURCE_IO_COMPARE=<dir>: also time the pack-directory.ts and safe-extract.ts found in <dir>
 * (e.g. an older checkout's src/build/source), alternating it with this tree's round by round
 * so both see the same machine load; the figures then come in pairs (base_*).
 *
 * Prints a table, then one JSON object as the last line. Figures, never assertions (except
 * that each extraction must give back the tree's file count).
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { createGunzip } from 'node:zlib';
import { extract as tarExtract } from 'tar-stream';
import * as packCurrent from '../src/build/source/pack-directory.js';
import * as extractCurrent from '../src/build/source/safe-extract.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DIRS = 120;
const FILES_PER_DIR = 100;
const RANDOM_FILES = 4;
const RANDOM_BYTES = 25 << 20;
const TREE = process.env.BENCH_TREE ?? join(tmpdir(), 'jetsaga-bench-source-io-tree');
const WORK = join(tmpdir(), `jetsaga-bench-source-io-${process.pid}`);

interface Impl {
  readonly name: string;
  packDirectory(dir: string, opts: { gzipLevel: number }): Readable;
  extractSource(input: Readable, dest: string): Promise<{ files: number; bytes: number }>;
}

/** Seeded, so the random files are the same bytes on every run (xorshift32). */
function seeded(seed: number): (n: number) => Buffer {
  let x = seed >>> 0 || 1;
  return (n) => {
    const words = new Uint32Array(Math.ceil(n / 4));
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      words[i] = x;
    }
    return Buffer.from(words.buffer, 0, n);
  };
}

function makeTree(dir: string): void {
  const marker = join(dir, '.complete');
  if (existsSync(marker)) return;
  mkdirSync(dir, { recursive: true });
  for (let d = 0; d < DIRS; d++) {
    mkdirSync(join(dir, `d${d}`), { recursive: true });
    for (let f = 0; f < FILES_PER_DIR; f++) writeFileSync(join(dir, `d${d}`, `f${f}.txt`), `file ${d} ${f}\n`.repeat(500));
  }
  const random = seeded(20_240_601);
  for (let i = 0; i < RANDOM_FILES; i++) writeFileSync(join(dir, `r${i}.bin`), random(RANDOM_BYTES));
  // Left out of the archive neither by default nor by name: it is one more (empty) file.
  writeFileSync(marker, '');
}

async function loadImpl(name: string, dir: string): Promise<Impl> {
  const pack = (await import(pathToFileURL(join(dir, 'pack-directory.ts')).href)) as typeof packCurrent;
  const ext = (await import(pathToFileURL(join(dir, 'safe-extract.ts')).href)) as typeof extractCurrent;
  return { name, packDirectory: pack.packDirectory, extractSource: ext.extractSource };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

async function parseOnly(archive: string): Promise<void> {
  const parser = tarExtract();
  const reading = (async () => {
    for await (const e of parser) e.resume();
  })();
  await Promise.all([pipeline(createReadStream(archive), createGunzip(), parser as unknown as NodeJS.WritableStream), reading]);
}

const t0 = performance.now();
makeTree(TREE);
const expectedFiles = DIRS * FILES_PER_DIR + RANDOM_FILES + 1;
const du = spawnSync('du', ['-sb', TREE], { encoding: 'utf8' });
const treeMb = Number(du.stdout.split('\t')[0]) / 1e6;
console.log(
  `tree ${TREE}: ${expectedFiles} files, ${treeMb.toFixed(1)} MB (ready in ${((performance.now() - t0) / 1000).toFixed(1)} s); ` +
    `${ROUNDS} rounds; node ${process.version}, ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} cores`,
);

const impls: Impl[] = [{ name: 'current', packDirectory: packCurrent.packDirectory, extractSource: extractCurrent.extractSource }];
if (process.env.SOURCE_IO_COMPARE) impls.push(await loadImpl('base', resolve(process.env.SOURCE_IO_COMPARE)));

const times: Record<string, { pack: number[]; extract: number[]; archiveMb: number }> = {};
const parseTimes: number[] = [];
const tarTimes: number[] = [];
const untarTimes: number[] = [];
/**
 * Removes a tree and flushes the disk: on a file system mounted with `discard`, freeing
 * thousands of files stalls the journal for a while, which would otherwise land on whatever is
 * timed next.
 */
async function clear(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
  spawnSync('sync');
}
mkdirSync(WORK, { recursive: true });
try {
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first, so neither always runs on a warmer (or busier) machine.
    const order = round % 2 === 0 ? impls : [...impls].reverse();
    for (const impl of order) {
      const archive = join(WORK, `${impl.name}.tgz`);
      const dest = join(WORK, `${impl.name}-out`);
      const r = (times[impl.name] ??= { pack: [], extract: [], archiveMb: 0 });
      r.pack.push(await seconds(() => pipeline(impl.packDirectory(TREE, { gzipLevel: 1 }), createWriteStream(archive))));
      r.archiveMb = Number(spawnSync('stat', ['-c', '%s', archive], { encoding: 'utf8' }).stdout) / 1e6;
      let files = 0;
      r.extract.push(await seconds(async () => void ({ files } = await impl.extractSource(createReadStream(archive), dest))));
      if (files !== expectedFiles) throw new Error(`${impl.name}: extracted ${files} files, expected ${expectedFiles}`);
      await clear(dest);
      if (impl === impls[0]) {
        parseTimes.push(await seconds(() => parseOnly(archive)));
        mkdirSync(dest);
        untarTimes.push(await seconds(async () => {
          const tar = spawnSync('tar', ['-xzf', archive, '-C', dest], { stdio: 'inherit' });
          if (tar.status !== 0) throw new Error(`tar -xzf failed (${tar.status})`);
        }));
        await clear(dest);
      }
    }
    const tarFile = join(WORK, 'tar.tgz');
    tarTimes.push(await seconds(async () => {
      const tar = spawnSync('sh', ['-c', `tar -C '${TREE}' -cf - . | gzip -1 > '${tarFile}'`], { stdio: 'inherit' });
      if (tar.status !== 0) throw new Error(`tar | gzip -1 failed (${tar.status})`);
    }));
  }
} finally {
  await rm(WORK, { recursive: true, force: true });
}

const summary: Record<string, number | string> = { tree_mb: Number(treeMb.toFixed(1)), files: expectedFiles, rounds: ROUNDS };
console.log('impl        pack s   extract s   archive MB   (each: median, all rounds)');
for (const [name, r] of Object.entries(times)) {
  const all = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
  console.log(
    `${name.padEnd(9)} ${median(r.pack).toFixed(2).padStart(8)} ${median(r.extract).toFixed(2).padStart(11)} ${r.archiveMb.toFixed(1).padStart(12)}   pack [${all(r.pack)}] extract [${all(r.extract)}]`,
  );
  const prefix = name === 'current' ? '' : `${name}_`;
  summary[`${prefix}pack_s`] = Number(median(r.pack).toFixed(2));
  summary[`${prefix}extract_s`] = Number(median(r.extract).toFixed(2));
  summary[`${prefix}archive_mb`] = Number(r.archiveMb.toFixed(1));
}
console.log(`gunzip + tar-stream parse ${median(parseTimes).toFixed(2).padStart(7)} s`);
console.log(`tar -c | gzip -1          ${median(tarTimes).toFixed(2).padStart(7)} s`);
console.log(`tar -xzf                  ${median(untarTimes).toFixed(2).padStart(7)} s`);
summary.parse_s = Number(median(parseTimes).toFixed(2));
summary.tar_gzip1_s = Number(median(tarTimes).toFixed(2));
summary.tar_x_s = Number(median(untarTimes).toFixed(2));
const base = times.base;
if (base) {
  summary.pack_speedup = Number((median(base.pack) / median(times.current!.pack)).toFixed(2));
  summary.extract_speedup = Number((median(base.extract) / median(times.current!.extract)).toFixed(2));
}
summary.load_avg_1m = Number(loadavg()[0]!.toFixed(1));
console.log(JSON.stringify(summary));

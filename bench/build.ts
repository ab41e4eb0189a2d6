/**
 * `npm run bench:build`: image build + push against a real docker-registry, next to the floor
 * of `tar -c | gzip -1 > /dev/null` over the same tree (notes/oci.md §5).
 *
 * The tree (~200 MB, seeded, so every run packs the same bytes): 12k small text-like files in
 * 120 dirs, plus 4 × 25 MiB of random bytes (the worst case for gzip). Each round builds into
 * a fresh work dir and pushes into a fresh repository, so every blob is really uploaded.
 *
 * Figures (medians over BENCH_ROUNDS, default 3), MB/s of tree bytes (1 MB = 10^6 bytes):
 *   build_push_mb_s        uncompressed layer (`compression: 'none'`), build + push
 *   build_push_gzip1_mb_s  gzip level 1 (the default: block-parallel gzip, incompressible
 *                          blocks stored — src/build/image/block-gzip.ts), build + push
 *   layer_gzip1_mb         size of that gzip layer (what storing incompressible blocks costs)
 *   tar_gzip1_mb_s         tar -c | gzip -1 > /dev/null
 *   ratio_vs_tar_gzip1     build_push_gzip1_mb_s / tar_gzip1_mb_s (1 = as fast as tar | gzip)
 *   umoci_skopeo_mb_s      umoci init/new/insert + skopeo copy into the same registry (where installed)
 *   saga_overhead_ms       the same deploy as the saga vs as a plain function (bench/build-saga.ts)
 *   redeploy_unchanged_s   a second deploy of this tree, unchanged, end to end (bench/build-saga.ts)
 * Prints a table, then one JSON object as the last line. Figures, never assertions.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startEmbeddedRegistry } from '../src/boot/embedded-registry.js';
import { buildImage, pushImage, RegistryClient, type BuiltImage } from '../src/build/image/index.js';
import { createLogger } from '../src/log.js';
import { measureBuildSaga } from './build-saga.js';
import { freePort } from '../test/helpers/nats-server.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SMALL_FILES = Number(process.env.BENCH_SMALL_FILES ?? 12_000);
const DIRS = 120;
const RANDOM_FILES = 4;
const RANDOM_BYTES = 25 << 20;

/** xorshift32: a small seeded generator, so the tree is the same on every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function makeTree(dir: string): { bytes: number; files: number } {
  const next = rng(20_240_601);
  const words = Array.from({ length: 2_000 }, () => {
    const len = 2 + (next() % 9);
    let w = '';
    for (let i = 0; i < len; i++) w += String.fromCharCode(97 + (next() % 26));
    return w;
  });
  // A 1 MiB pool of text-like bytes; each file takes a slice of it after a unique first line.
  const lines: string[] = [];
  let poolLength = 0;
  while (poolLength < 1 << 20) {
    const line = Array.from({ length: 4 + (next() % 12) }, () => words[next() % words.length]).join(' ') + (next() % 5 === 0 ? ';\n' : '\n');
    lines.push(line);
    poolLength += line.length;
  }
  const pool = Buffer.from(lines.join(''));
  let bytes = 0;
  for (let d = 0; d < DIRS; d++) mkdirSync(join(dir, 'src', `mod-${String(d).padStart(3, '0')}`), { recursive: true });
  for (let i = 0; i < SMALL_FILES; i++) {
    const size = 512 + (next() % 16_000);
    const start = next() % (pool.length - size);
    const body = Buffer.concat([Buffer.from(`// file ${i}\n`), pool.subarray(start, start + size)]);
    writeFileSync(join(dir, 'src', `mod-${String(i % DIRS).padStart(3, '0')}`, `file-${i}.js`), body);
    bytes += body.length;
  }
  mkdirSync(join(dir, 'assets'));
  for (let f = 0; f < RANDOM_FILES; f++) {
    const words32 = new Uint32Array(RANDOM_BYTES / 4);
    for (let i = 0; i < words32.length; i++) words32[i] = next();
    writeFileSync(join(dir, 'assets', `blob-${f}.bin`), Buffer.from(words32.buffer));
    bytes += RANDOM_BYTES;
  }
  return { bytes, files: SMALL_FILES + RANDOM_FILES };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const tmp = await mkdtemp(join(tmpdir(), 'jetsaga-bench-build-'));
const logger = createLogger({ name: 'bench-build', level: 'warn' });
const registry = await startEmbeddedRegistry({ dataDir: join(tmp, 'registry'), port: await freePort(), logger, stopTimeoutMs: 5_000 });
const client = new RegistryClient({ url: registry.url, logger });
try {
  const tree = join(tmp, 'tree');
  mkdirSync(tree);
  const t0 = performance.now();
  const { bytes, files } = makeTree(tree);
  const mb = bytes / 1e6;
  console.log(`tree: ${files} files, ${mb.toFixed(1)} MB, generated in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${ROUNDS} rounds; node ${process.version} (zlib ${process.versions.zlib})`);

  const modes = [
    { name: 'none', compression: 'none' as const },
    { name: 'gzip1', compression: 'gzip' as const },
  ];
  const results: Record<string, { build: number[]; push: number[]; total: number[]; blob: number }> = {};
  const tarTimes: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of modes) {
      const workDir = join(tmp, `work-${mode.name}-${round}`);
      const b0 = performance.now();
      const image: BuiltImage = await buildImage({ root: tree, workDir, compression: mode.compression, cmd: ['node', 'src/index.js'] });
      const b1 = performance.now();
      const pushed = await pushImage(client, image, `bench/${mode.name}-${round}`, { tag: 'v1' });
      const b2 = performance.now();
      if (pushed.uploaded !== 2) console.error(`round ${round} ${mode.name}: uploaded ${pushed.uploaded} blobs, expected 2`);
      const r = (results[mode.name] ??= { build: [], push: [], total: [], blob: 0 });
      r.build.push((b1 - b0) / 1000);
      r.push.push((b2 - b1) / 1000);
      r.total.push((b2 - b0) / 1000);
      r.blob = image.layers[0]!.size;
      await rm(workDir, { recursive: true, force: true });
    }
    const t1 = performance.now();
    const tar = spawnSync('sh', ['-c', `tar -C '${tree}' -cf - . | gzip -1 > /dev/null`], { stdio: 'inherit' });
    if (tar.status !== 0) throw new Error(`tar | gzip -1 failed (${tar.status})`);
    tarTimes.push((performance.now() - t1) / 1000);
  }

  console.log('mode          build s   push s   total s   MB/s (total)   layer MB');
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `${name.padEnd(12)} ${median(r.build).toFixed(2).padStart(7)} ${median(r.push).toFixed(2).padStart(8)} ${median(r.total).toFixed(2).padStart(9)} ${(mb / median(r.total)).toFixed(1).padStart(14)} ${(r.blob / 1e6).toFixed(1).padStart(10)}`,
    );
  }
  const tarS = median(tarTimes);
  console.log(`tar | gzip -1 ${tarS.toFixed(2).padStart(24)} ${(mb / tarS).toFixed(1).padStart(14)}`);

  // The peer pipeline where installed: umoci builds an OCI layout, skopeo copies it in.
  let umociS: number | null = null;
  if (existsSync('/usr/bin/umoci') && existsSync('/usr/bin/skopeo')) {
    const times: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const layout = join(tmp, `umoci-${round}`);
      const dest = `docker://127.0.0.1:${new URL(registry.url).port}/bench/umoci-${round}:v1`;
      const script = [
        `umoci init --layout '${layout}'`,
        `umoci new --image '${layout}:app'`,
        `umoci insert --image '${layout}:app' '${tree}' /app`,
        `skopeo copy --quiet --dest-tls-verify=false 'oci:${layout}:app' '${dest}'`,
      ].join(' && ');
      const u0 = performance.now();
      const run = spawnSync('sh', ['-c', script], { stdio: ['ignore', 'ignore', 'inherit'] });
      if (run.status !== 0) throw new Error(`umoci + skopeo copy failed (${run.status})`);
      times.push((performance.now() - u0) / 1000);
      await rm(layout, { recursive: true, force: true });
    }
    umociS = median(times);
    console.log(`umoci + skopeo ${umociS.toFixed(2).padStart(23)} ${(mb / umociS).toFixed(1).padStart(14)}`);
  }

  // The saga's own cost, and a no-op redeploy of this tree (bench/build-saga.ts).
  const saga = await measureBuildSaga({ rounds: Math.max(ROUNDS, 5), bigTree: tree });
  console.log(
    `deploy of examples/node-hello: plain function ${saga.plain_ms} ms, saga ${saga.saga_ms} ms: overhead ${saga.saga_overhead_ms} ms (${saga.saga_overhead_pct} %)`,
  );
  console.log(`redeploy of the unchanged ${mb.toFixed(0)} MB tree (upload, stage, build, push, pull, start, activate): ${saga.redeploy_unchanged_s} s`);
  const gzip1 = mb / median(results.gzip1!.total);
  const summary = {
    tree_mb: Number(mb.toFixed(1)),
    files,
    rounds: ROUNDS,
    build_push_mb_s: Number((mb / median(results.none!.total)).toFixed(1)),
    build_push_gzip1_mb_s: Number(gzip1.toFixed(1)),
    build_only_gzip1_mb_s: Number((mb / median(results.gzip1!.build)).toFixed(1)),
    build_only_none_mb_s: Number((mb / median(results.none!.build)).toFixed(1)),
    layer_gzip1_mb: Number((results.gzip1!.blob / 1e6).toFixed(1)),
    tar_gzip1_mb_s: Number((mb / tarS).toFixed(1)),
    ratio_vs_tar_gzip1: Number((gzip1 / (mb / tarS)).toFixed(2)),
    umoci_skopeo_mb_s: umociS === null ? null : Number((mb / umociS).toFixed(1)),
    ratio_vs_umoci_skopeo: umociS === null ? null : Number((gzip1 / (mb / umociS)).toFixed(2)),
    saga_overhead_ms: saga.saga_overhead_ms,
    saga_overhead_pct: saga.saga_overhead_pct,
    redeploy_unchanged_s: saga.redeploy_unchanged_s,
  };
  console.log(JSON.stringify(summary));
} finally {
  await client.close();
  await registry.stop();
  await rm(tmp, { recursive: true, force: true });
}

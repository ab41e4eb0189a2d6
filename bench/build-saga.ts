/**
 * The build saga's own cost, for `npm run bench:build` (or alone: `tsx bench/build-saga.ts`):
 *
 *   saga_overhead_ms      the same deploy of examples/node-hello (onbuild, image, push, pull,
 *                         healthy start, activation) run as a plain function calling the step
 *                         implementations in order, vs run as the saga (journaled, recoverable);
 *                         median difference, and as a % of the plain run. Rounds alternate.
 *   redeploy_unchanged_s  a second deploy of an unchanged app tree (the bench's ~200 MB tree
 *                         plus an index.html, so it runs as a static site): upload, stage,
 *                         build, push (blobs already there), pull, start, activate.
 *
 * Both run against a real nats-server and docker-registry started here. Figures, no assertions.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { BuildHost } from '../src/build/build-host.js';
import { buildSteps } from '../src/build/build-steps.js';
import { deploy } from '../src/build/deploy.js';
import { packDirectory } from '../src/build/source/index.js';
import { loadConfig } from '../src/config.js';
import { Coordinator } from '../src/coordinator.js';
import { createLogger } from '../src/log.js';
import type { StepContext } from '../src/runtime/types.js';
import { startNatsServer } from '../test/helpers/nats-server.js';
import { startRegistry } from '../test/helpers/registry.js';

const SAMPLE = join(dirname(fileURLToPath(import.meta.url)), '..', 'examples', 'node-hello');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The build as a plain function: the saga's steps called in its order, nothing journaled. */
async function plainBuild(host: BuildHost, app: string, id: string, digest: string): Promise<void> {
  const s = buildSteps(() => host);
  const logger = createLogger({ level: 'warn' });
  const signal = new AbortController().signal;
  const ctx = (step: string): StepContext => ({ sagaId: id, invocationId: step, idempotencyKey: `${id}:1:${step}`, attempt: 1, signal, logger });
  const version = await s.allocateVersion({ app }, ctx('allocate'));
  const source = { name: id, digest };
  const staged = await s.receiveSource({ source }, ctx('receive'));
  await s.takeDeployLock({ app }, ctx('lock'));
  const config = await s.loadAppConfig({ app, staged, source }, ctx('appConfig'));
  const stack = await s.detectStack({ staged, source, config }, ctx('stack'));
  await s.runOnbuild({ app, staged, source, config, stack }, ctx('onbuild'));
  const [pushed, procfile, configVersion, settings] = await (async () => {
    const imageIn = { app, version, staged, source, stack, config, compression: 'gzip' } as const;
    const image = s.buildImage(imageIn, ctx('image')).then((image) => s.pushImage({ ...imageIn, image }, ctx('push')));
    const procfile = s.readProcfile({ staged, source, config, stack }, ctx('procfile'));
    const settings = await s.prepareConfig({ app, config, env: {} });
    const cv = await s.createConfigVersion({ app, version, settings }, ctx('configVersion'));
    return [await image, await procfile, cv, settings] as const;
  })();
  await s.createVersion({ app, version, image: pushed, configVersion, processes: procfile }, ctx('version'));
  await s.startSandbox({ app, version, image: pushed, processes: procfile, settings }, ctx('start'));
  await s.setActiveVersion({ app, version }, ctx('activate'));
  await s.stopOldSandboxes({ app, version }, ctx('stopOld'));
  await s.finalizeBuild({ app }, ctx('finalize'));
}

export interface SagaFigures {
  readonly plain_ms: number;
  readonly saga_ms: number;
  readonly saga_overhead_ms: number;
  readonly saga_overhead_pct: number;
  readonly redeploy_unchanged_s: number | null;
}

/** Runs both measurements; `bigTree` (optional) is the bench's generated tree for the redeploy. */
export async function measureBuildSaga(options: { rounds: number; bigTree?: string }): Promise<SagaFigures> {
  const tmp = await mkdtemp(join(tmpdir(), 'jetsaga-bench-saga-'));
  const [nats, registry] = await Promise.all([startNatsServer(), startRegistry()]);
  const config = loadConfig({ nats: nats.url, registry: `127.0.0.1:${registry.port}`, namespace: 'bench', owner: 'bench', dataDir: join(tmp, 'data') }, {});
  const coordinator = new Coordinator({ config, machines: [], builds: true, recoverIntervalMs: 0 });
  try {
    await coordinator.allReady();
    const host = coordinator.builds;
    // The sample without its `name`, so that each round deploys it as an app of its own.
    const sample = join(tmp, 'sample');
    cpSync(SAMPLE, sample, { recursive: true });
    writeFileSync(join(sample, 'app.toml'), readFileSync(join(SAMPLE, 'app.toml'), 'utf8').replace(/^name = .*\n/m, ''));
    const plain: number[] = [];
    const saga: number[] = [];
    // One warm-up of each, not counted (module loading, first worker thread, first pull).
    for (let round = -1; round < options.rounds; round++) {
      for (const kind of ['plain', 'saga'] as const) {
        const app = `${kind}-${round + 1}`;
        const id = `${app}-build`;
        const put = await host.sources.put(id, packDirectory(sample));
        const t0 = performance.now();
        if (kind === 'plain') await plainBuild(host, app, id, put.digest);
        else {
          await coordinator.runtime.start('build', { app, source: { name: id, digest: put.digest } }, { id });
          const info = await coordinator.runtime.wait(id);
          if (info.status !== 'completed') throw new Error(`saga build ${id} ended ${info.status}`);
        }
        const ms = performance.now() - t0;
        if (round >= 0) (kind === 'plain' ? plain : saga).push(ms);
        // Keep the machine quiet for the next round: stop this app's sandbox.
        await host.runner.stop(app, 1);
      }
    }
    let redeploy: number | null = null;
    if (options.bigTree) {
      const dir = join(tmp, 'big-app');
      cpSync(options.bigTree, dir, { recursive: true });
      writeFileSync(join(dir, 'index.html'), '<!doctype html><title>bench</title>\n');
      const target = { runtime: coordinator.runtime, sources: host.sources };
      const first = await deploy(target, { app: 'big', dir });
      if ((await coordinator.runtime.wait(first.id)).status !== 'completed') throw new Error('first deploy of the big tree failed');
      const t0 = performance.now();
      const second = await deploy(target, { app: 'big', dir });
      const info = await coordinator.runtime.wait(second.id);
      if (info.status !== 'completed') throw new Error(`redeploy ended ${info.status}`);
      redeploy = (performance.now() - t0) / 1000;
    }
    const p = median(plain);
    const s = median(saga);
    return {
      plain_ms: Number(p.toFixed(1)),
      saga_ms: Number(s.toFixed(1)),
      saga_overhead_ms: Number((s - p).toFixed(1)),
      saga_overhead_pct: Number((((s - p) / p) * 100).toFixed(2)),
      redeploy_unchanged_s: redeploy === null ? null : Number(redeploy.toFixed(2)),
    };
  } finally {
    await coordinator.stop();
    await Promise.all([nats.stop(), registry.stop()]);
    await rm(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const figures = await measureBuildSaga({ rounds: Number(process.env.BENCH_ROUNDS ?? 5) });
  console.log(`deploy of examples/node-hello: plain ${figures.plain_ms} ms, saga ${figures.saga_ms} ms, overhead ${figures.saga_overhead_ms} ms (${figures.saga_overhead_pct} %)`);
  console.log(JSON.stringify(figures));
}

/**
 * A build taken over by a coordinator on "another host": coordinator A (its own data dir) is
 * SIGKILLed as a step of a build starts, its data dir is wiped, and coordinator B (another
 * owner, another data dir) takes the build over once A's lease lapses. Nothing A staged or built
 * is there any more, only the journal and the source in the object store:
 *
 * - right after receive (A dies as the app.toml step starts): B's steps stage the source again
 *   and run on it, onbuild included, and the image step finds onbuild's record;
 * - between onbuild and image (A dies as the image step starts, onbuild done on A): B stages
 *   the source again, runs onbuild again before building the image, and completes;
 * - between image and push (A dies as the push starts): B builds the image again, the same
 *   image (the build is reproducible), pushes it and completes.
 *
 * B is held at its finalize step (which removes the staging) so the test can see which dirs it
 * used: its own. The new version answers HTTP; no undo ran.
 */
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { BuildInput } from '../../machines/build.machine.js';
import { ProgressLog, type ProgressRecord } from '../../src/build/progress.js';
import { packDirectory, SourceStore } from '../../src/build/source/index.js';
import { openEntityStores, type EntityStores } from '../../src/entities/index.js';
import type { JournalView } from '../../src/runtime/journal-view.js';
import type { SagaInfo } from '../../src/runtime/types.js';
import { BUILD_UNDOS, useBuildServers } from '../helpers/build-servers.js';
import { spawnCoordinator, until, type CallRecord, type CoordinatorProc } from '../helpers/coordinator-proc.js';
import { gate } from '../helpers/gate.js';
import { expectWellFormed, takeoversOf } from '../helpers/journal-checks.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPT = join(ROOT, 'test', 'fixtures', 'build-coordinator.ts');
const EXAMPLE = join(ROOT, 'examples', 'node-hello');
const APP = 'node-hello';

const world = useBuildServers('jetsaga-build-takeover-');
let scenarios = 0;

interface Host {
  readonly owner: string;
  readonly dataDir: string;
}

function spawnOn(namespace: string, host: Host, fixture: Record<string, unknown>): CoordinatorProc {
  return spawnCoordinator({
    url: world.server.url,
    namespace,
    owner: host.owner,
    leaseTtlMs: 3_000,
    script: SCRIPT,
    env: { BUILD_FIXTURE: JSON.stringify({ registry: `127.0.0.1:${world.registry.port}`, dataDir: host.dataDir, ...fixture }) },
  });
}

const doneOutput = (journal: readonly JournalView[], actor: string): unknown =>
  (journal.find((e) => e.event?.type === `xstate.done.actor.${actor}`)?.event as { output?: unknown } | undefined)?.output;

async function progressOf(namespace: string, id: string): Promise<ProgressRecord[]> {
  const progress = await ProgressLog.open(world.nc, { namespace });
  const records: ProgressRecord[] = [];
  for await (const r of progress.read(id)) records.push(r);
  return records;
}

const texts = (records: readonly ProgressRecord[], step: string): string[] =>
  records.flatMap((r) => (r.kind === 'log' && r.step === step ? [r.text] : []));

describe('a build taken over by a coordinator with another data dir', () => {
  for (const crashIn of ['loadAppConfig', 'buildImage', 'pushImage'] as const) {
    it(`A dies as ${crashIn} starts, its data dir wiped: B stages, builds and pushes in its own dirs, and the version answers`, async (ctx) => {
      const n = scenarios++;
      const namespace = `bt${process.pid}x${n}`;
      const a: Host = { owner: 'coord-a', dataDir: join(world.tmp, `s${n}-a`) };
      const b: Host = { owner: 'coord-b', dataDir: join(world.tmp, `s${n}-b`) };
      const entities: EntityStores = await openEntityStores(world.nc, namespace);
      const sources = await SourceStore.open(world.nc, { namespace });
      const id = `takeover-${crashIn}`;
      const put = await sources.put(id, packDirectory(EXAMPLE));
      const input: BuildInput = { app: APP, source: { name: id, digest: put.digest } };

      const first = spawnOn(namespace, a, { crashIn, crashMarker: join(world.tmp, `s${n}.crashed`) });
      await first.ready;
      await first.request({ op: 'start', sagaId: id, input }).catch(() => undefined);
      expect((await first.exited).signal).toBe('SIGKILL');
      const stagedOnA = join(a.dataDir, 'staging', id);
      expect(existsSync(join(stagedOnA, 'src', 'build-info.json')), 'onbuild ran on A').toBe(crashIn !== 'loadAppConfig');
      // A's host is gone: nothing it staged or built is reachable any more.
      await rm(a.dataDir, { recursive: true, force: true });

      const finalize = gate(ctx);
      const second = spawnOn(namespace, b, { holdIn: 'finalizeBuild', holdUntil: finalize.path });
      await second.ready;
      await until(() => second.calls().some((c) => c.step === 'finalizeBuild' && c.sagaId === id), `B to take ${id} over and reach finalize`, 180_000);

      // Held at finalize: deployed, and everything B used is under B's data dir.
      const version = (await entities.versions.list(APP)).find((v) => v.sagaId === id);
      expect(version?.status).toBe('active');
      expect((await entities.apps.get(APP))?.activeVersion).toBe(version!.version);
      const sandbox = (await entities.sandboxes.list(APP)).find((s) => s.version === version!.version);
      const res = await fetch(`http://127.0.0.1:${sandbox!.port}/`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ app: APP, built: { builtBy: 'onbuild' } });

      const stagedOnB = join(b.dataDir, 'staging', id);
      expect(existsSync(join(stagedOnB, 'src', 'build-info.json')), 'onbuild ran on B').toBe(true);
      expect(JSON.parse(readFileSync(join(stagedOnB, 'onbuild.json'), 'utf8'))).toMatchObject({ buildId: id, digest: put.digest, commands: ['npm run build'] });
      const builtOnB = JSON.parse(readFileSync(join(stagedOnB, 'image', 'image.json'), 'utf8')) as { manifestDigest: string };
      expect(existsSync(a.dataDir), "A's wiped data dir stays gone").toBe(false);

      const journal = await second.request<JournalView[]>({ op: 'events', sagaId: id });
      expectWellFormed(journal);
      expect(takeoversOf(journal).map((t) => [t.from, t.owner])).toEqual([[a.owner, b.owner]]);
      // The receive step ran on A: its journaled dir is A's, and no later step used it.
      expect((doneOutput(journal, 'receive') as { dir: string }).dir.startsWith(a.dataDir)).toBe(true);
      const image = doneOutput(journal, 'image') as { workDir: string; manifestDigest: string };
      const pushed = doneOutput(journal, 'push') as { digest: string };
      // Reproducible: the image B built is the one journaled, and the one pushed and run.
      expect(pushed.digest).toBe(image.manifestDigest);
      expect(builtOnB.manifestDigest).toBe(image.manifestDigest);
      expect(version!.image?.digest).toBe(image.manifestDigest);

      const records = await progressOf(namespace, id);
      const calls: CallRecord[] = second.calls().filter((c) => c.sagaId === id);
      // Staged again once on B, by whichever of its steps needed the tree first.
      const restaged = records.filter((r) => r.kind === 'log' && r.text.startsWith('the staged source was not on this host'));
      expect(restaged).toHaveLength(1);
      if (crashIn === 'loadAppConfig') {
        // Every step from app.toml on ran on B, on the tree it staged again; the image step found onbuild's record.
        expect(calls.filter((c) => c.outcome === 'ok').map((c) => c.step)).toEqual(expect.arrayContaining(['loadAppConfig', 'detectStack', 'runOnbuild', 'buildImage']));
        expect(image.workDir).toBe(join(stagedOnB, 'image'));
        expect(texts(records, 'image').filter((t) => t.startsWith('onbuild has not run'))).toEqual([]);
      } else if (crashIn === 'buildImage') {
        // The image step ran on B: into B's image dir, onbuild re-run first on the tree staged again.
        expect(image.workDir).toBe(join(stagedOnB, 'image'));
        expect(calls.some((c) => c.step === 'runOnbuild')).toBe(false);
        expect(texts(records, 'image')).toEqual(expect.arrayContaining([expect.stringMatching(/^onbuild has not run on this host's staged source/)]));
      } else {
        // The image step ran on A (its journaled work dir is gone); B's push built it again.
        expect(image.workDir).toBe(join(stagedOnA, 'image'));
        expect(calls.some((c) => c.step === 'buildImage')).toBe(false);
        expect(texts(records, 'push')).toEqual(
          expect.arrayContaining([
            expect.stringMatching(/^the built image sha256:[0-9a-f]{64} is not on this host: building it again$/),
            expect.stringMatching(/^onbuild has not run on this host's staged source/),
            expect.stringMatching(/^built sha256:[0-9a-f]{64} again, the same image$/),
          ]),
        );
      }

      finalize.open();
      await until(async () => (await second.request<SagaInfo>({ op: 'get', sagaId: id })).status === 'completed', `${id} to complete`, 60_000);
      expect(existsSync(stagedOnB), "finalize removed B's staging").toBe(false);
      expect([...first.calls(), ...calls].filter((c) => BUILD_UNDOS.includes(c.step))).toEqual([]);
      expect(await entities.locks.get(APP)).toBeNull();
    }, 240_000);
  }
});

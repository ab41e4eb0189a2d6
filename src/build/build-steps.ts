/**
 * The build saga's step implementations (machines/build.machine.ts names them). Each is
 * at-least-once: it may run again after a crash or a takeover, so each is idempotent under the
 * saga's id (versions, locks, config versions and activations are keyed by it; the staged
 * source, the image and the sandbox by names derived from it), and each undo is safe to repeat
 * and safe when its step never applied.
 *
 * No step trusts a path an earlier step journaled: a step may run on another coordinator (a
 * takeover) or after this one's data dir was wiped, so the staged source, onbuild's output and
 * the image are found — or made again — in this host's dirs of the saga (build-tree.ts).
 *
 * Errors a user must act on are terminal (bad app.toml, a failing onbuild command, a refused
 * lock); an unreachable registry becomes DEPENDENCY_UNAVAILABLE so the saga waits for the
 * registry's readiness instead of burning its retries.
 */
import { createServer } from 'node:net';
import { rm } from 'node:fs/promises';
import type { AppConfig } from './app/index.js';
import {
  AppConfigError,
  decideWebProcess,
  detectStack,
  findProcess,
  loadAppConfig,
  nameMismatch,
  prepareConfig,
  readProcfile,
  toArgv,
  type PreparedConfig,
  type Stack,
} from './app/index.js';
import { TerminalError } from '../errors.js';
import { DeployLockedError, type Processes } from '../entities/index.js';
import { defineSteps, type UndoInput } from '../runtime/define-steps.js';
import type { BuildInput } from '../../machines/build.machine.js';
import type { BuildHost } from './build-host.js';
import { imageHere, onbuildHere, stagedHere, type ImageIn, type TreeIn } from './build-tree.js';
import { appRepository, pushImage, readBuiltImage, RegistryUnavailableError, versionTag, type BuiltImage } from './image/index.js';
import type { StagedSource } from './source/index.js';
import { registryStep, say } from './step-support.js';
import { sandboxIdOf, type RunningVersion, type VersionRun } from './version-runner.js';
import { openEnv, type SealedEnv } from '../secrets/index.js';
import { offeredAddonKinds } from '../addons/addon-providers.js';
import { withAddonSecrets } from '../addons/addon-env.js';
import { provisionedAddonsOf } from '../addons/addon-output.js';
import { AddonErrorCode } from '../addons/addon-errors.js';

/** What the push step records: where the image is. */
export interface PushedImage {
  /** `<registry host>/apps/<app>` (an `ImageRef.repo`). */
  readonly repo: string;
  readonly digest: string;
  readonly tag: string;
  readonly uploaded: number;
}

interface AppIn {
  readonly app: string;
}

export { parseImageRef } from './build-tree.js';

/** Whether a port is free on loopback (a port held by this app's running version counts as free: that version is replaced). */
async function portFree(host: BuildHost, app: string, port: number): Promise<boolean> {
  const own = (await host.entities.sandboxes.list(app)).some((s) => s.port === port);
  if (own) return true;
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** The processes of a version: the decided web process plus the Procfile's others. */
function processesOf(web: readonly string[], procfile: Awaited<ReturnType<typeof readProcfile>>): Processes {
  const out: Record<string, readonly string[]> = { web: [...web] };
  for (const entry of procfile?.processes ?? []) if (entry.name !== 'web') out[entry.name] = toArgv(entry.command);
  return out;
}

/** The build saga's steps, acting on the host `host()` returns when they run. */
export function buildSteps(host: () => BuildHost) {
  const h = (): BuildHost => {
    const x = host();
    x.assertOpen();
    return x;
  };
  return defineSteps({
    allocateVersion: async ({ app }: AppIn, ctx) => h().entities.versions.allocate(app, ctx.sagaId),

    abandonVersion: async ({ input }: UndoInput<AppIn, number>, ctx) => {
      await h().entities.versions.abandon(input.app, ctx.sagaId);
      return null;
    },

    receiveSource: async ({ source }: Pick<BuildInput, 'source'>, ctx): Promise<StagedSource> => {
      const x = h();
      const staged = await x.staging.ensure(ctx.sagaId, () => x.sources.get(source.name), { digest: source.digest, signal: ctx.signal });
      say(x, ctx, 'receive', `${staged.reused ? 'reused the staged source' : 'staged the source'}: ${staged.files} files, ${staged.bytes} bytes`);
      return staged;
    },

    removeStaging: async (_: UndoInput<unknown, StagedSource>, ctx) => {
      await h().staging.remove(ctx.sagaId);
      return null;
    },

    takeDeployLock: async ({ app, waitForLock }: AppIn & { waitForLock?: boolean }, ctx) => {
      const x = h();
      for (;;) {
        try {
          const { lock, outcome } = await x.entities.locks.acquire(app, ctx.sagaId);
          return { holder: lock.holder, since: lock.since, outcome };
        } catch (err) {
          if (!(err instanceof DeployLockedError) || !waitForLock) {
            // Another deploy of the app holds it: refused at once, naming the holder and since when.
            if (err instanceof DeployLockedError) throw new TerminalError(err.message, { code: err.code, details: err.details, cause: err });
            throw err;
          }
          const held = err.details as { holder?: string; since?: number };
          say(x, ctx, 'lock', `waiting for the deployment lock: app "${app}" is being deployed by saga "${String(held.holder)}" since ${new Date(held.since ?? 0).toISOString()}; this build goes on when that one ends`);
          await x.entities.locks.waitFor(app, { signal: ctx.signal, sagaId: ctx.sagaId });
        }
      }
    },

    releaseDeployLock: async ({ input }: UndoInput<AppIn, unknown>, ctx) => {
      await h().entities.locks.release(input.app, ctx.sagaId);
      return null;
    },

    loadAppConfig: async (input: AppIn & TreeIn, ctx): Promise<AppConfig> => {
      const staged = await stagedHere(h(), ctx, 'appConfig', input);
      const config = await loadAppConfig(staged.dir);
      const { app } = input;
      // A source meant for another app is refused here, before onbuild and the image build.
      const mismatch = nameMismatch(config, app);
      if (mismatch) throw new AppConfigError(mismatch);
      return config;
    },

    detectStack: async (input: TreeIn & { config: AppConfig }, ctx): Promise<Stack> => detectStack((await stagedHere(h(), ctx, 'stack', input)).dir, input.config),

    runOnbuild: async (input: AppIn & TreeIn & { config: AppConfig; stack: Stack }, ctx) => {
      const x = h();
      const staged = await stagedHere(x, ctx, 'onbuild', input);
      const { record, reused, source } = await onbuildHere(x, ctx, 'onbuild', { staged, config: input.config, stack: input.stack });
      // Completed on this very tree before (a re-run of the step after its result was lost).
      if (reused && record.ran.length > 0) say(x, ctx, 'onbuild', 'the build commands already ran on the staged source');
      return { source, ran: record.ran };
    },

    buildImage: async (input: ImageIn, ctx): Promise<BuiltImage> => {
      const x = h();
      const image = await imageHere(x, ctx, 'image', input);
      say(x, ctx, 'image', `built ${image.manifestDigest}: ${image.files} files, ${image.bytes} bytes`);
      return image;
    },

    discardImage: async (_: UndoInput<unknown, BuiltImage>, ctx) => {
      const x = h();
      await x.workspace.exclusive(ctx.sagaId, () => rm(x.workspace.imageDir(ctx.sagaId), { recursive: true, force: true }));
      return null;
    },

    pushImage: async (input: Partial<ImageIn> & { image: BuiltImage; app: string; version: number }, ctx): Promise<PushedImage> => {
      const x = h();
      const { app, version } = input;
      const journaled = input.image.manifestDigest;
      // This host's image dir, never the journaled `workDir`: the image step may have run elsewhere.
      let built = await readBuiltImage(x.workspace.imageDir(ctx.sagaId));
      if (built?.manifestDigest !== journaled) {
        if (!input.staged || !input.stack || !input.compression) {
          // An input journaled before the push step was given what the image step is: it cannot build.
          throw new TerminalError(`the built image ${journaled} is not on this host; deploy again`, { code: 'IMAGE_MISSING' });
        }
        say(x, ctx, 'push', `the built image ${journaled} is not on this host: building it again`);
        built = await imageHere(x, ctx, 'push', input as ImageIn);
        if (built.manifestDigest === journaled) {
          say(x, ctx, 'push', `built ${built.manifestDigest} again, the same image`);
        } else {
          // The image build is reproducible for a tree, but the tree holds onbuild's output, which
          // need not be (a tool's timestamps, another Node on this host). The image pushed is the
          // one the version records: the version and start steps read the push's result.
          ctx.logger.warn({ journaled, rebuilt: built.manifestDigest }, 'the image built again differs from the one built first; pushing the new one');
          say(x, ctx, 'push', `built ${built.manifestDigest} again, not ${journaled}: onbuild's output differs on this host; pushing the new image`);
        }
      }
      const repo = appRepository(app);
      const tag = versionTag(version);
      const image = built;
      const pushed = await registryStep(() => pushImage(x.registry, image, repo, { tag, signal: ctx.signal }));
      say(x, ctx, 'push', `pushed ${x.registry.host}/${repo}:${tag}@${pushed.digest} (${pushed.uploaded} blobs uploaded, ${pushed.mounted} mounted from the base, ${pushed.skipped} already there)`);
      return { repo: `${x.registry.host}/${repo}`, digest: pushed.digest, tag, uploaded: pushed.uploaded };
    },

    unpushImage: async ({ input, output }: UndoInput<{ image: BuiltImage | null; app: string; version?: number | null }, PushedImage>, ctx) => {
      const x = h();
      const repo = appRepository(input.app);
      try {
        const digests = new Set<string>();
        if (output?.digest) digests.add(output.digest);
        else {
          if (input.image?.manifestDigest) digests.add(input.image.manifestDigest);
          // A push that built the image again may have pushed another digest before its result
          // was journaled; the version's tag names it (a version number is this build's alone).
          if (typeof input.version === 'number') {
            const tagged = await x.registry.headManifest(repo, versionTag(input.version), ctx.signal);
            if (tagged) digests.add(tagged);
          }
        }
        // The manifest carries this saga's label, so its digest is this build's alone.
        for (const digest of digests) await x.registry.deleteManifest(repo, digest, ctx.signal);
      } catch (err) {
        // An unreachable registry must not block the rollback for long: an orphan manifest is
        // garbage, not harm. A few tries, then it is left (and logged).
        if (err instanceof RegistryUnavailableError && ctx.attempt >= 3) {
          const left = output?.digest ?? input.image?.manifestDigest ?? null;
          ctx.logger.warn({ err: err.message, digest: left }, 'the pushed manifest could not be deleted; left in the registry');
          return { left };
        }
        throw err;
      }
      return null;
    },

    readProcfile: async (input: TreeIn & { config: AppConfig; stack: Stack }, ctx) => {
      const { config, stack } = input;
      const procfile = await readProcfile((await stagedHere(h(), ctx, 'procfile', input)).dir);
      const web = decideWebProcess({ config, procfile, stack });
      return { processes: processesOf(web.argv, procfile), web: web.from, hasWorker: findProcess(procfile, 'worker') !== undefined };
    },

    /**
     * `addons`: what the app's addon saga provisioned — its child step's result, its
     * `outputs.ready.addons`, or that list — whose sealed URLs join the version's secrets; absent
     * in builds that provision none. Checked here: the machine maps it from journaled outputs
     * without looking inside.
     */
    prepareConfig: async ({
      app,
      config,
      env,
      secretEnv,
      addons,
    }: AppIn & { config: AppConfig; env: Record<string, string>; secretEnv?: SealedEnv; addons?: unknown }): Promise<PreparedConfig> => {
      const x = h();
      const checked = await prepareConfig({
        config,
        requestEnv: env,
        requestSecrets: secretEnv,
        services: x.services,
        offeredAddons: offeredAddonKinds(x.addons),
        appName: app,
        portFree: (port) => portFree(x, app, port),
      });
      const provisioned = provisionedAddonsOf(addons);
      const foreign = provisioned.find((a) => a.app !== app);
      if (foreign) throw new TerminalError(`addon "${foreign.name}" was provisioned for app "${foreign.app}", not "${app}"`, { code: AddonErrorCode.EnvConflict, status: 400 });
      const prepared = withAddonSecrets(checked, provisioned);
      // Opened and dropped: a coordinator without the key the secrets were sealed with fails
      // the build here (terminal, naming the key), early, rather than at its last step.
      if (prepared.secrets) openEnv(x.secrets, app, prepared.secrets);
      return prepared;
    },

    createConfigVersion: async ({ app, version, settings }: AppIn & { version: number; settings: PreparedConfig }, ctx) => {
      const rec = await h().entities.configs.create({ app, version, env: settings.env, ...(settings.secrets ? { secrets: settings.secrets } : {}), sagaId: ctx.sagaId });
      return rec.version;
    },

    deleteConfigVersion: async ({ input }: UndoInput<AppIn & { version: number | null }, number>, ctx) => {
      if (input.version === null) return null;
      await h().entities.configs.discard(input.app, input.version, ctx.sagaId);
      return null;
    },

    createVersion: async (
      input: AppIn & { version: number; image: PushedImage; configVersion: number; processes: { processes: Processes } },
      ctx,
    ) => {
      const rec = await h().entities.versions.create({
        app: input.app,
        version: input.version,
        sagaId: ctx.sagaId,
        image: { repo: input.image.repo, digest: input.image.digest },
        configVersion: input.configVersion,
        processes: input.processes.processes,
      });
      return { version: rec.version, status: rec.status };
    },

    retireVersion: async ({ input }: UndoInput<AppIn & { version: number | null }, unknown>) => {
      // Recorded but never live: it failed. The allocation's undo then abandons it.
      if (input.version !== null) await h().entities.versions.markIf(input.app, input.version, ['ready'], 'failed');
      return null;
    },

    startSandbox: async (
      input: AppIn & { version: number; image: PushedImage; processes: { processes: Processes }; settings: PreparedConfig },
      ctx,
    ): Promise<RunningVersion> => {
      const x = h();
      const run: VersionRun = {
        app: input.app,
        version: input.version,
        image: { repo: input.image.repo, digest: input.image.digest },
        web: input.processes.processes.web ?? [],
        env: input.settings.env,
        ...(input.settings.secrets ? { secrets: input.settings.secrets } : {}),
        port: input.settings.port,
        health: input.settings.health,
        sagaId: ctx.sagaId,
      };
      if (run.port !== null) {
        // A pinned port can serve one version at a time: the one holding it steps aside (a
        // short gap, the price of pinning); the undo below puts it back if this build fails.
        for (const s of await x.entities.sandboxes.list(input.app)) {
          if (s.version !== input.version && s.port === run.port) {
            say(x, ctx, 'start', `version ${s.version} holds port ${run.port}: stopping it first`);
            await x.runner.stop(input.app, s.version, { keepFiles: true });
          }
        }
      }
      const started = await registryStep(() => x.runner.start(run, ctx.signal));
      say(x, ctx, 'start', `version ${input.version} is healthy at ${started.url}`);
      return started;
    },

    stopSandbox: async ({ input }: UndoInput<AppIn & { version: number | null }, RunningVersion>, ctx) => {
      const x = h();
      if (input.version !== null) await x.runner.stop(input.app, input.version);
      // The active version must be serving again (a pinned port may have made it step aside).
      const active = (await x.entities.apps.get(input.app))?.activeVersion;
      if (active && active !== input.version && !(await x.entities.sandboxes.get(input.app, sandboxIdOf(input.app, active)))) {
        const run = await x.runner.recordedRun(input.app, active);
        if (run) await registryStep(() => x.runner.start(run, ctx.signal));
      }
      return null;
    },

    setActiveVersion: async ({ app, version }: AppIn & { version: number }, ctx) => h().entities.apps.setActive(app, version, ctx.sagaId),

    restoreActiveVersion: async ({ input, output }: UndoInput<AppIn, { previous: number | null }>, ctx) => {
      await h().entities.apps.restoreActive(input.app, ctx.sagaId, output?.previous);
      return null;
    },

    stopOldSandboxes: async ({ app, version }: AppIn & { version: number }, ctx) => {
      const x = h();
      const stopped: number[] = [];
      for (const s of await x.entities.sandboxes.list(app)) {
        if (s.version === version) continue;
        // Its spec stays on disk (keepFiles) so that the undo can start it again without a pull.
        await x.runner.stop(app, s.version, { keepFiles: true });
        stopped.push(s.version);
      }
      if (stopped.length) say(x, ctx, 'stopOld', `stopped version(s) ${stopped.join(', ')}`);
      return { stopped };
    },

    restartOldSandboxes: async ({ input, output }: UndoInput<AppIn & { version: number }, { stopped: number[] }>, ctx) => {
      const x = h();
      let versions: number[] = output?.stopped ?? [];
      if (!output) {
        // Stopped before its output was journaled: what was active before this build is what ran.
        const previous = (await x.entities.apps.get(input.app))?.previousActive;
        versions = previous ? [previous] : [];
      }
      for (const v of versions) {
        const run = await x.runner.recordedRun(input.app, v);
        if (!run) {
          ctx.logger.warn({ app: input.app, version: v }, 'no recorded spec of an old sandbox: not restarted');
          continue;
        }
        await registryStep(() => x.runner.start(run, ctx.signal));
      }
      return null;
    },

    finalizeBuild: async ({ app }: AppIn, ctx) => {
      const x = h();
      const released = await x.entities.locks.release(app, ctx.sagaId);
      const staging = await x.staging.remove(ctx.sagaId);
      return { lockReleased: released, staging: staging.status };
    },
  });
}


/**
 * `jetsaga serve --deploy <dir>`: once the coordinator admits work, deploys the app in `dir`
 * (its name from app.toml `name`, else the directory's name), shows the build's progress on
 * stderr as it happens and prints where the new version answers on stdout.
 */
import { basename, resolve } from 'node:path';
import { loadAppConfig } from '../build/app/index.js';
import { deploy } from '../build/deploy.js';
import { followBuild } from '../build/follow-build.js';
import type { Coordinator } from '../coordinator.js';
import { SagaError } from '../errors.js';

/** A directory name as an app name: lower case, `[a-z0-9-]`, at most 63 characters. */
function appNameOf(dir: string): string {
  return basename(resolve(dir)).toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'app';
}

/** Deploys `dir`; resolves with the URL of the new version, rejects with the build's error. */
export async function deployOnServe(coordinator: Coordinator, dir: string, err: (line: string) => void): Promise<string> {
  const config = await loadAppConfig(dir);
  const app = config.name ?? appNameOf(dir);
  const host = coordinator.builds;
  const { id } = await deploy({ runtime: coordinator.runtime, sources: host.sources }, { app, dir });
  err(`deploying ${app} from ${resolve(dir)} (build ${id})`);
  for await (const p of followBuild(host.progress, coordinator.runtime, id)) {
    if (p.kind === 'phase') err(`  ${p.phase}`);
    else if (p.kind === 'log') err(`    ${p.text}`);
    else if (p.kind === 'error') err(`  ${p.step} failed: ${p.message} [${p.code}]`);
    else {
      if (p.status !== 'completed') throw new SagaError('DEPLOY_FAILED', `the build of ${app} ended ${p.status} (see the errors above; build ${id})`);
      const out = p.output as { outputs?: { start?: { url?: string }; allocate?: number } } | null;
      const version = out?.outputs?.allocate ?? (await host.entities.apps.get(app))?.activeVersion;
      const url = out?.outputs?.start?.url ?? 'unknown';
      return `deployed ${app} v${version ?? '?'} (build ${id}): ${url}`;
    }
  }
  throw new SagaError('DEPLOY_FAILED', `progress of build ${id} ended without a result`);
}

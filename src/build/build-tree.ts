/**
 * The build's tree on this host, made ready for the step at hand. A step of the build saga may
 * run on another coordinator than the steps before it (a takeover in a cluster, each with its
 * own data dir) or after this one's data dir was wiped, so none trusts a path an earlier step
 * journaled; each asks for what it needs here:
 *
 * - the staged source (`stagedHere`): extracted again from the source store when this host
 *   lacks it, checked against the digest the receive step journaled;
 * - onbuild's output in it (`onbuildHere`): the commands ran on this tree, or they run now —
 *   a fresh extraction holds none of what they built, and the image must;
 * - the image (`imageHere`): built from that tree into this host's work dir.
 *
 * Steps are at-least-once, so redoing onbuild and the image build on the host that took a
 * build over is what a retry there would do anyway. One build's onbuild and image build run
 * one at a time on a host (BuildWorkspace.exclusive).
 */
import type { AppConfig, Stack } from './app/index.js';
import { decideWebProcess, ONBUILD_HOME, planOnbuild, readProcfile, runOnbuild } from './app/index.js';
import type { StepContext } from '../runtime/types.js';
import type { BuildHost } from './build-host.js';
import type { OnbuildRecord, SourceRef } from './build-workspace.js';
import { buildImage, type BuiltImage } from './image/index.js';
import type { StagedSource } from './source/index.js';
import { registryStep, say } from './step-support.js';

/** What a step reading the staged tree is given: the receive step's result and the build's source. */
export interface TreeIn {
  /** The receive step's result; only its digest is used (its `dir` may be on another host). */
  readonly staged: StagedSource;
  /** Absent in inputs journaled before steps named it: then only a tree already here is used. */
  readonly source?: SourceRef;
}

/** What the image step (and a push that has to build the image again) is given. */
export interface ImageIn extends TreeIn {
  readonly app: string;
  readonly version: number;
  readonly stack: Stack;
  readonly config?: AppConfig | null;
  readonly compression: 'gzip' | 'none';
}

/** `library/node:20` → { repository: 'library/node', reference: '20' }; no tag means `latest`. */
export function parseImageRef(ref: string): { repository: string; reference: string } {
  const at = ref.indexOf('@');
  if (at >= 0) return { repository: ref.slice(0, at), reference: ref.slice(at + 1) };
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/') ? { repository: ref.slice(0, colon), reference: ref.slice(colon + 1) } : { repository: ref, reference: 'latest' };
}

/** The build's staged source on this host (its `dir` is this host's), extracted again if missing. */
export async function stagedHere(x: BuildHost, ctx: StepContext, step: string, input: TreeIn): Promise<StagedSource> {
  const staged = await x.workspace.staged(ctx.sagaId, { source: input.source, digest: input.staged?.digest, signal: ctx.signal });
  if (!staged.reused) say(x, ctx, step, `the staged source was not on this host: extracted it again from the source store (${staged.files} files)`);
  return staged;
}

/** onbuild's commands, run on this host's staged tree unless they already ran on it. */
export async function onbuildHere(
  x: BuildHost,
  ctx: StepContext,
  step: string,
  input: { staged: StagedSource; config: AppConfig; stack: Stack },
): Promise<{ record: OnbuildRecord; reused: boolean; source: 'app.toml' | 'stack' }> {
  return x.workspace.exclusive(ctx.sagaId, () => onbuildLocked(x, ctx, step, input));
}

/**
 * The image of the build, built on this host: the staged tree made ready first (extracted and
 * onbuild run again when this host lacks them), then the image into this host's work dir.
 */
export async function imageHere(x: BuildHost, ctx: StepContext, step: string, input: ImageIn): Promise<BuiltImage> {
  const staged = await stagedHere(x, ctx, step, input);
  const config = input.config ?? null;
  return x.workspace.exclusive(ctx.sagaId, async () => {
    if (config) await onbuildLocked(x, ctx, step, { staged, config, stack: input.stack });
    const procfile = await readProcfile(staged.dir);
    // The Cmd is the web process as the config branch decides it; the sandbox runs the same.
    const web = config ? decideWebProcess({ config, procfile, stack: input.stack }).argv : undefined;
    const base = config?.build.base ? { ...parseImageRef(config.build.base), client: x.registry } : undefined;
    say(x, ctx, step, `building the image (${input.compression === 'none' ? 'uncompressed' : 'gzip'}${base ? `, on ${config!.build.base}` : ''})`);
    return registryStep(() =>
      buildImage({
        base,
        root: staged.dir,
        workDir: x.workspace.imageDir(ctx.sagaId),
        compression: input.compression,
        cmd: web ? [...web] : undefined,
        env: config?.env ? { ...config.env } : undefined,
        workingDir: '/app',
        labels: {
          'org.jetsaga.app': input.app,
          'org.jetsaga.version': String(input.version),
          'org.jetsaga.source-digest': staged.digest,
          'org.jetsaga.saga': ctx.sagaId,
        },
        // onbuild's scratch HOME never belongs in the image.
        exclude: (rel) => rel === ONBUILD_HOME || rel.startsWith(`${ONBUILD_HOME}/`),
        signal: ctx.signal,
      }),
    );
  });
}

/** onbuild under the build's exclusive section: reused when its record says it ran on this tree. */
async function onbuildLocked(
  x: BuildHost,
  ctx: StepContext,
  step: string,
  { staged, config, stack }: { staged: StagedSource; config: AppConfig; stack: Stack },
): Promise<{ record: OnbuildRecord; reused: boolean; source: 'app.toml' | 'stack' }> {
  const plan = planOnbuild(config, stack);
  const done = await x.workspace.onbuildRecord(ctx.sagaId, staged.digest);
  if (done && sameList(done.commands, plan.commands)) return { record: done, reused: true, source: plan.source };
  if (step !== 'onbuild' && plan.commands.length > 0) {
    say(x, ctx, step, "onbuild has not run on this host's staged source: running it first");
  }
  const lines: Promise<unknown>[] = [];
  const result = await runOnbuild({
    dir: staged.dir,
    commands: plan.commands,
    timeoutSec: plan.timeoutSec,
    env: config.env,
    signal: ctx.signal,
    logger: ctx.logger,
    onOutput: (line) => {
      lines.push(x.progress.publish(ctx.sagaId, { kind: 'log', step, stream: line.stream, text: line.text, key: ctx.idempotencyKey }).catch(() => undefined));
    },
  });
  await Promise.all(lines);
  const record: OnbuildRecord = { digest: staged.digest, commands: [...plan.commands], ran: result.ran };
  await x.workspace.recordOnbuild(ctx.sagaId, record);
  return { record, reused: false, source: plan.source };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Following a build from the CLI: its progress from the start (phases, onbuild output,
 * errors) on stderr as it happens, then its outcome. Ctrl-C stops following, never the build.
 * A rollback has the same progress and outcome (`what` names it in the messages).
 * Through the service's `builds.follow`: a coordinator lost mid-build is waited out (one line
 * when it is lost, one when following resumes), and no record is printed twice.
 */
import { backoffMs, sleep } from '../nats/retry.js';
import type { JetsagaClient } from '../service/client.js';
import { canFollowAgain } from '../service/follow-client.js';
import { colourEnabled, palette, statusText, type Palette } from './colour.js';
import { ExitCode } from './exit-codes.js';
import { followStatusLine } from './follow-status.js';
import { knownForwardSteps } from './known-machines.js';
import { createProgressView, type ProgressView } from './progress-view.js';

export interface BuildOutcome {
  readonly sagaId: string;
  readonly app: string | null;
  readonly status: string;
  readonly version: number | null;
  readonly image: string | null;
  readonly url: string | null;
  /** The first error a step reported (e.g. DEPLOY_LOCKED naming the holder). */
  readonly error?: { readonly step: string; readonly code: string; readonly message: string };
}

/** Prints the build's progress until its result; resolves with the outcome, or null when interrupted. */
export async function followBuild(client: JetsagaClient, id: string, err: (line: string) => void, what: 'build' | 'rollback' = 'build'): Promise<BuildOutcome | null> {
  const stop = new AbortController();
  const onSigint = (): void => {
    err(`stopped following; the ${what} goes on. Re-attach with: jetsaga builds follow ${id}`);
    stop.abort();
  };
  process.once('SIGINT', onSigint);
  const view = await viewFor(client, id, err);
  let error: BuildOutcome['error'];
  try {
    const records = client.followBuild(id, { signal: stop.signal, onStatus: (s) => view.note(followStatusLine(s, `${what} ${id}`)) });
    for await (const p of records) {
      view.record(p);
      if (p.kind === 'error') error ??= { step: p.step, code: p.code, message: p.message };
      if (p.kind === 'result') break;
    }
    if (stop.signal.aborted) return null;
    return await outcomeOf(client, id, error, stop.signal);
  } catch (e) {
    if (stop.signal.aborted) return null;
    throw e;
  } finally {
    view.close();
    process.off('SIGINT', onSigint);
  }
}

/** The finished build's outcome; a coordinator that is away just then is waited for, like the follow. */
async function outcomeOf(client: JetsagaClient, id: string, error: BuildOutcome['error'], signal: AbortSignal): Promise<BuildOutcome> {
  let got: Awaited<ReturnType<JetsagaClient['getBuild']>>;
  for (let attempt = 0; ; attempt++) {
    try {
      got = await client.getBuild(id);
      break;
    } catch (e) {
      if (!canFollowAgain(e)) throw e;
      await sleep(backoffMs(attempt), [signal]);
    }
  }
  const { saga, build } = got;
  const b = build as { app?: string | null; version?: number | null; image?: string | null; url?: string | null } | null;
  return {
    sagaId: id,
    app: b?.app ?? null,
    status: saga.status,
    version: b?.version ?? null,
    image: b?.image ?? null,
    url: b?.url ?? null,
    ...(error ? { error } : {}),
  };
}

/** A bar on a terminal (it needs the saga's machine for its steps), plain lines otherwise. */
async function viewFor(client: JetsagaClient, id: string, err: (line: string) => void): Promise<ProgressView> {
  if (process.stderr.isTTY !== true) return createProgressView({ err });
  const machine = await client.getSaga(id).then(
    (s) => s.machine,
    () => undefined,
  );
  const steps = machine === undefined ? undefined : await knownForwardSteps(machine);
  return createProgressView({ err, ...(steps ? { steps } : {}) });
}

/** The exit code of a followed build: 0 completed, 5 refused by the deployment lock, 1 otherwise. */
export function exitCodeOfBuild(outcome: BuildOutcome): number {
  if (outcome.status === 'completed') return ExitCode.Ok;
  if (outcome.error?.code === 'DEPLOY_LOCKED') return ExitCode.Locked;
  return ExitCode.Failure;
}

/** One line for people; the JSON shape for scripts. */
export function describeOutcome(o: BuildOutcome, json: boolean, colours: Palette = palette(colourEnabled(process.stdout))): string {
  if (json) return JSON.stringify({ sagaId: o.sagaId, app: o.app, status: o.status, version: o.version, image: o.image, url: o.url, ...(o.error ? { error: o.error } : {}) });
  if (o.status === 'completed') return `${colours.ok('deployed')} ${o.app} v${o.version}: ${o.url} (image ${o.image}, build ${o.sagaId})`;
  return `build ${o.sagaId} of ${o.app ?? 'the app'} ended ${statusText(o.status, colours)}${o.error ? `: ${o.error.step} failed: ${o.error.message} [${o.error.code}]` : ''}`;
}

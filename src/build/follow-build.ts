/**
 * Follows a build's progress to its end, in the process that runs the coordinator
 * (`serve --deploy`, a program deploying through the library).
 *
 * The `result` record ends the progress; but progress is written after the fact, and a result
 * record can be lost: NATS away for longer than the relay retries just as the build ends. A
 * follower waiting only for that record would wait for ever, so the saga's own status ends the
 * follow too: once the build has been finished for `graceMs` with no result record, a result
 * made from the saga's status and output is yielded last (as the service's followers end, see
 * service/follow-sources.ts).
 */
import type { SagaInfo } from '../runtime/types.js';
import { sleep } from '../nats/retry.js';
import { SagaStatus } from '../journal/index-store.js';
import type { ProgressEvent, ProgressLog } from './progress.js';

/** How long a finished build's result record is waited for before its status stands in for it. */
export const RESULT_GRACE_MS = 5_000;

const FINISHED: readonly SagaStatus[] = [SagaStatus.Completed, SagaStatus.Compensated, SagaStatus.Cancelled];

/** What the follow asks of the runtime: to wait until the build has finished. */
export interface BuildStatusSource {
  wait(sagaId: string, options: { until: readonly SagaStatus[]; signal: AbortSignal }): Promise<SagaInfo>;
}

class ResultMissing extends Error {}

/**
 * The build's progress events from the start, ending with one `result` event (the recorded one,
 * or the saga's own once it has been finished for `graceMs` without one).
 */
export async function* followBuild(
  progress: ProgressLog,
  runtime: BuildStatusSource,
  buildId: string,
  options: { graceMs?: number; signal?: AbortSignal } = {},
): AsyncGenerator<ProgressEvent> {
  const done = new AbortController();
  let finished: SagaInfo | undefined;
  runtime
    .wait(buildId, { until: FINISHED, signal: done.signal })
    .then(async (info) => {
      finished = info;
      await sleep(options.graceMs ?? RESULT_GRACE_MS, [done.signal]);
      done.abort(new ResultMissing(`build ${buildId} ended ${info.status} without a result record`));
    })
    // The follow ended first, or the runtime closed: the read goes on (or ends) by itself.
    .catch(() => undefined);
  const signal = options.signal ? AbortSignal.any([options.signal, done.signal]) : done.signal;
  try {
    for await (const p of progress.read(buildId, { follow: true, signal })) yield p;
  } catch (e) {
    if (!(done.signal.reason instanceof ResultMissing) || options.signal?.aborted || !finished) throw e;
    yield { kind: 'result', status: finished.status, output: finished.output ?? null };
  } finally {
    done.abort();
  }
}

/**
 * The follow endpoints: `builds.follow` streams a build's progress records and `sagas.follow` a
 * saga's journal entries to the client's inbox (stream-session.ts, follow-sources.ts). The
 * handler checks the request against what exists, takes a stream place and answers at once
 * with `{ id, heartbeatMs, coordinator }`; the stream starts once that reply is out.
 */
import type { z } from 'zod';
import type { Coordinator } from '../coordinator.js';
import { buildProgressSource, sagaJournalSource } from './follow-sources.js';
import { buildInfo } from './build-info.js';
import { HEARTBEAT_MS, type BuildsFollowRequest, type SagasFollowRequest } from './schemas-follow.js';
import type { HandlerContext, StreamSpec } from './stream-session.js';

function open(ctx: HandlerContext, c: Coordinator, spec: StreamSpec): { id: string; heartbeatMs: number; coordinator: string } {
  const session = ctx.streams.reserve(spec);
  ctx.afterReply((replied) => (replied ? session.start() : session.release()));
  return { id: spec.id, heartbeatMs: spec.heartbeatMs, coordinator: c.config.owner };
}

export const followHandlers = {
  'builds.follow': async (r: z.output<typeof BuildsFollowRequest>, c: Coordinator, ctx: HandlerContext) => {
    await buildInfo(c, r.id);
    const progress = c.builds.progress;
    return open(ctx, c, {
      endpoint: 'builds.follow',
      id: r.id,
      inbox: r.inbox,
      heartbeatMs: r.heartbeatMs ?? HEARTBEAT_MS.default,
      cursor: r.afterSeq ?? null,
      ...buildProgressSource(c, progress, r.id, r.afterSeq),
    });
  },
  'sagas.follow': async (r: z.output<typeof SagasFollowRequest>, c: Coordinator, ctx: HandlerContext) => {
    await c.runtime.get(r.id); // UNKNOWN_SAGA before a stream of nothing
    return open(ctx, c, {
      endpoint: 'sagas.follow',
      id: r.id,
      inbox: r.inbox,
      heartbeatMs: r.heartbeatMs ?? HEARTBEAT_MS.default,
      cursor: r.afterEntry ?? null,
      ...sagaJournalSource(c, r.id, r.afterEntry),
    });
  },
};

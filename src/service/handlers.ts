/**
 * What each endpoint does, over a coordinator's runtime and build host. Each handler takes the
 * parsed request and returns the reply body (plain JSON data); errors are thrown as SagaErrors
 * and turned into error replies by service.ts.
 */
import { BUILD_MACHINE_ID, type BuildInput } from '../../machines/build.machine.js';
import { ROLLBACK_MACHINE_ID } from '../../machines/rollback.machine.js';
import { SagaEventType } from '../../machines/kit/tags.js';
import { readReadiness } from '../boot/readiness-bus.js';
import { sealDeploySecrets } from '../build/deploy-secrets.js';
import type { ProgressRecord } from '../build/progress.js';
import type { Coordinator } from '../coordinator.js';
import { SandboxState } from '../entities/records.js';
import type { SagaInfo } from '../runtime/types.js';
import type { z } from 'zod';
import { SagaError } from '../errors.js';
import { ServiceErrorCode } from './errors.js';
import { rollbackHandlers, rollbackSummary } from './handlers-rollback.js';
import { addonHandlers } from './handlers-addons.js';
import { blockedHandlers } from './handlers-blocked.js';
import { followHandlers } from './handlers-follow.js';
import { buildInfo } from './build-info.js';
import { forkHandlers } from './handlers-fork.js';
import { machineHandlers } from './handlers-machines.js';
import type * as S from './schemas.js';
import type { HandlerContext } from './stream-session.js';
import type { Endpoint } from './subjects.js';

/** At most this many progress records per `builds.progress` reply (the request may ask for fewer). */
export const PROGRESS_PAGE = 200;
/** …and at most about this many bytes of them, well under NATS's 1 MiB payload. */
export const PROGRESS_PAGE_BYTES = 512 * 1024;

/** What a completed build produced, as read from the saga's context and output. */
export interface BuildSummary {
  readonly app: string;
  readonly version: number | null;
  readonly status: string;
  /** The image's manifest digest once pushed. */
  readonly image: string | null;
  /** Where the new version answers, once the build completed. */
  readonly url: string | null;
}

type Handler = (request: never, coordinator: Coordinator, context: HandlerContext) => Promise<unknown>;

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

export function buildSummary(info: SagaInfo): BuildSummary {
  if (info.machine === ROLLBACK_MACHINE_ID) return rollbackSummary(info);
  const ctx = record(info.context);
  const input = record(ctx.input) as Partial<BuildInput>;
  const outputs = { ...record(ctx.outputs), ...record(record(info.output).outputs) };
  const version = typeof outputs.allocate === 'number' ? outputs.allocate : null;
  const digest = record(outputs.push).digest;
  const url = record(outputs.start).url;
  return {
    app: typeof input.app === 'string' ? input.app : '',
    version,
    status: info.status,
    image: typeof digest === 'string' ? digest : null,
    url: info.status === 'completed' && typeof url === 'string' ? url : null,
  };
}

async function appRecord(coordinator: Coordinator, app: string) {
  const found = await coordinator.builds.entities.apps.get(app);
  if (!found) throw new SagaError(ServiceErrorCode.UnknownApp, `unknown app "${app}"`, { status: 404, details: { app } });
  return found;
}

export const handlers = {
  ...followHandlers,
  'sagas.list': async (r: z.output<typeof S.SagasListRequest>, c: Coordinator) => {
    const page = await c.runtime.list({ status: r.status, machine: r.machine, limit: r.limit, after: r.after });
    return { sagas: page.sagas, next: page.next ?? null };
  },
  'sagas.get': async (r: z.output<typeof S.SagaIdRequest>, c: Coordinator) => c.runtime.show(r.id),
  'sagas.events': async (r: z.output<typeof S.SagaIdRequest>, c: Coordinator) => ({ id: r.id, events: await c.runtime.events(r.id) }),
  'sagas.cancel': async (r: z.output<typeof S.SagaIdRequest>, c: Coordinator) => {
    const sent = await c.runtime.send(r.id, { type: SagaEventType.Cancel });
    return { id: r.id, ...sent };
  },
  ...blockedHandlers,
  ...forkHandlers,
  ...machineHandlers,
  'builds.start': async (r: z.output<typeof S.BuildsStartRequest>, c: Coordinator) => {
    const { id, secretEnv, ...input } = r;
    // Sealed before the start journals the input: the request's plain values go no further.
    const sealed = await sealDeploySecrets({ runtime: c.runtime, secrets: c.builds.secrets }, input.app, id, secretEnv);
    const buildInput: BuildInput = { ...input, ...(sealed ? { secretEnv: sealed } : {}) };
    const started = await c.runtime.start(BUILD_MACHINE_ID, buildInput, id === undefined ? {} : { id });
    return { id: started.id, created: started.created, status: started.status, state: started.state };
  },
  'builds.get': async (r: z.output<typeof S.SagaIdRequest>, c: Coordinator) => {
    const info = await buildInfo(c, r.id);
    return { saga: info, build: buildSummary(info) };
  },
  'builds.progress': async (r: z.output<typeof S.BuildsProgressRequest>, c: Coordinator) => {
    await buildInfo(c, r.id);
    const limit = Math.min(r.limit ?? PROGRESS_PAGE, PROGRESS_PAGE);
    const records: ProgressRecord[] = [];
    let bytes = 0;
    let more = false;
    let done = false;
    for await (const p of c.builds.progress.read(r.id, { afterSeq: r.afterSeq })) {
      const size = JSON.stringify(p).length;
      if (records.length >= limit || (records.length > 0 && bytes + size > PROGRESS_PAGE_BYTES)) {
        more = true;
        break;
      }
      records.push(p);
      bytes += size;
      if (p.kind === 'result') done = true;
    }
    return { id: r.id, records, next: records.at(-1)?.seq ?? r.afterSeq ?? null, more, done };
  },
  'apps.list': async (_r: z.output<typeof S.EmptyRequest>, c: Coordinator) => ({ apps: await c.builds.entities.apps.list() }),
  'apps.get': async (r: z.output<typeof S.AppRequest>, c: Coordinator) => {
    const app = await appRecord(c, r.app);
    const [versions, sandboxes] = await Promise.all([c.builds.entities.versions.list(r.app), c.builds.entities.sandboxes.list(r.app)]);
    return { app, versions, sandboxes: sandboxes.filter((s) => s.state === SandboxState.Running) };
  },
  'versions.list': async (r: z.output<typeof S.AppRequest>, c: Coordinator) => {
    await appRecord(c, r.app);
    return { app: r.app, versions: await c.builds.entities.versions.list(r.app) };
  },
  ...rollbackHandlers,
  ...addonHandlers,
  'boot.status': async (r: z.output<typeof S.BootStatusRequest>, c: Coordinator) => ({
    records: await readReadiness(c.nats, { namespace: c.config.namespace, coordinator: r.coordinator }),
  }),
} satisfies Record<Endpoint, Handler>;

/** The reply type of an endpoint. */
export type ReplyOf<E extends Endpoint> = Awaited<ReturnType<(typeof handlers)[E]>>;

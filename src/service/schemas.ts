/**
 * What each endpoint of the service API takes and answers, as zod schemas. Requests are strict
 * (an unknown field is a BAD_REQUEST, not silently ignored: a misspelt `waitForLok` must not
 * deploy without waiting); replies are checked loosely by the client, so a newer coordinator may
 * add fields without breaking older clients.
 */
import { z } from 'zod';
import { MAX_ENV_VALUE_CHARS } from '../build/app/names.js';
import { SOURCE_NAME_PATTERN } from '../build/source/source-names.js';
import { APP_NAME_PATTERN } from '../entities/names.js';
import { SAGA_ID_PATTERN } from '../journal/saga-id.js';
import { SagaStatus } from '../journal/index-store.js';
import { VersionsRollbackRequest } from './schemas-rollback.js';
import { AddonsGetRequest, AddonsListRequest } from './schemas-addons.js';
import * as F from './schemas-follow.js';
import { SagasForkRequest } from './schemas-fork.js';
import * as M from './schemas-machines.js';

const sagaId = z.string().regex(SAGA_ID_PATTERN, 'a saga id is 1–128 of [A-Za-z0-9_-]');
const appName = z.string().regex(APP_NAME_PATTERN, 'an app name is [a-z0-9][a-z0-9-]{0,62}');
const status = z.enum(Object.values(SagaStatus) as [SagaStatus, ...SagaStatus[]]);

export const SagasListRequest = z.strictObject({
  status: z.union([status, z.array(status).min(1)]).optional(),
  machine: z.string().min(1).max(128).optional(),
  limit: z.int().min(1).max(1000).optional(),
  after: sagaId.optional(),
});
export const SagaIdRequest = z.strictObject({ id: sagaId });
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an env name is [A-Za-z_][A-Za-z0-9_]*');
export const BuildsStartRequest = z.strictObject({
  app: appName,
  source: z.strictObject({ name: z.string().regex(SOURCE_NAME_PATTERN), digest: z.string().min(1).max(200).optional() }),
  env: z.record(envName, z.string()).optional(),
  /** Secret env vars, plain: the coordinator seals them before it journals the build. Checked here, as they are opaque after. */
  secretEnv: z
    .record(envName, z.string().max(MAX_ENV_VALUE_CHARS, `a secret is at most ${MAX_ENV_VALUE_CHARS} characters`).refine((v) => !v.includes('\0'), 'a secret must not contain a NUL character'))
    .optional(),
  waitForLock: z.boolean().optional(),
  compression: z.enum(['gzip', 'none']).optional(),
  id: sagaId.optional(),
});
export const BuildsProgressRequest = z.strictObject({
  id: sagaId,
  afterSeq: z.int().min(0).optional(),
  limit: z.int().min(1).max(1000).optional(),
});
export const EmptyRequest = z.strictObject({});
export const AppRequest = z.strictObject({ app: appName });
export const BootStatusRequest = z.strictObject({ coordinator: z.string().min(1).max(128).optional() });

/** The request schema of every endpoint, by endpoint (its name is in the endpoint's metadata). */
export const RequestSchemas = {
  'sagas.list': { name: 'SagasListRequest', schema: SagasListRequest },
  'sagas.get': { name: 'SagaIdRequest', schema: SagaIdRequest },
  'sagas.events': { name: 'SagaIdRequest', schema: SagaIdRequest },
  'sagas.cancel': { name: 'SagaIdRequest', schema: SagaIdRequest },
  'sagas.retry': { name: 'SagaIdRequest', schema: SagaIdRequest },
  'sagas.skip': { name: 'SagaIdRequest', schema: SagaIdRequest },
  'sagas.abandon': { name: 'SagaIdRequest', schema: SagaIdRequest },
  'sagas.follow': { name: 'SagasFollowRequest', schema: F.SagasFollowRequest },
  'sagas.fork': { name: 'SagasForkRequest', schema: SagasForkRequest },
  'sagas.check': { name: 'SagaIdRequest', schema: SagaIdRequest },
  'sagas.replay': { name: 'SagasReplayRequest', schema: M.SagasReplayRequest },
  'machines.list': { name: 'MachinesListRequest', schema: M.MachinesListRequest },
  'machines.graph': { name: 'MachinesGraphRequest', schema: M.MachinesGraphRequest },
  'builds.start': { name: 'BuildsStartRequest', schema: BuildsStartRequest },
  'builds.get': { name: 'SagaIdRequest', schema: SagaIdRequest },
  'builds.progress': { name: 'BuildsProgressRequest', schema: BuildsProgressRequest },
  'builds.follow': { name: 'BuildsFollowRequest', schema: F.BuildsFollowRequest },
  'apps.list': { name: 'EmptyRequest', schema: EmptyRequest },
  'apps.get': { name: 'AppRequest', schema: AppRequest },
  'versions.list': { name: 'AppRequest', schema: AppRequest },
  'versions.rollback': { name: 'VersionsRollbackRequest', schema: VersionsRollbackRequest },
  'addons.list': { name: 'AddonsListRequest', schema: AddonsListRequest },
  'addons.get': { name: 'AddonsGetRequest', schema: AddonsGetRequest },
  'boot.status': { name: 'BootStatusRequest', schema: BootStatusRequest },
} as const;
export type RequestOf<E extends keyof typeof RequestSchemas> = z.input<(typeof RequestSchemas)[E]['schema']>;

/** The body of every error reply. */
export const ErrorReply = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    status: z.number(),
    retryable: z.boolean(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});
export type ErrorReply = z.infer<typeof ErrorReply>;

// Replies: checked loosely (required fields only, extra fields kept).
const sagaSummary = z.looseObject({ id: z.string(), machine: z.string(), status: z.string() });
const sagaInfo = z.looseObject({ id: z.string(), machine: z.string(), version: z.number(), status: z.string(), entryNo: z.number() });
export const SagasListReply = z.looseObject({ sagas: z.array(sagaSummary), next: z.string().nullable() });
export const SagaInfoReply = sagaInfo;
export const SagaEventsReply = z.looseObject({ id: z.string(), events: z.array(z.looseObject({ entryNo: z.number(), at: z.number() })) });
export const SagaCancelReply = z.looseObject({ id: z.string(), accepted: z.boolean(), status: z.string() });
export const BuildsStartReply = z.looseObject({ id: z.string(), created: z.boolean(), status: z.string() });
export const BuildSummary = z.looseObject({
  app: z.string(),
  version: z.number().nullable(),
  status: z.string(),
  image: z.string().nullable(),
  url: z.string().nullable(),
});
export const BuildsGetReply = z.looseObject({ saga: sagaInfo, build: BuildSummary });
export const BuildsProgressReply = z.looseObject({
  id: z.string(),
  records: z.array(z.looseObject({ kind: z.string(), seq: z.number() })),
  next: z.number().nullable(),
  done: z.boolean(),
});
export const AppsListReply = z.looseObject({ apps: z.array(z.looseObject({ name: z.string() })) });
export const AppsGetReply = z.looseObject({
  app: z.looseObject({ name: z.string() }),
  versions: z.array(z.looseObject({ version: z.number(), status: z.string() })),
  sandboxes: z.array(z.looseObject({ id: z.string(), version: z.number() })),
});
export const VersionsListReply = z.looseObject({ app: z.string(), versions: z.array(z.looseObject({ version: z.number(), status: z.string() })) });
export const BootStatusReply = z.looseObject({
  records: z.array(z.looseObject({ coordinator: z.string(), name: z.string(), ready: z.boolean() })),
});

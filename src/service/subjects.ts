/**
 * Names of jetsaga's NATS service API. Every endpoint answers on `<namespace>.api.<group>.<verb>`
 * (`jetsaga.api.sagas.list` in the default namespace): the namespace is the first token of every
 * subject a coordinator uses, so coordinators of two namespaces on one NATS never answer each
 * other's requests. The service name (`$SRV.INFO.jetsaga`) and the queue group are `jetsaga` in
 * every namespace; the service's metadata says which namespace an instance serves.
 */

/** The micro-service name every coordinator registers (`$SRV.*.jetsaga`). */
export const SERVICE_NAME = 'jetsaga';
/** Coordinators of a namespace share requests through this queue group. */
export const SERVICE_QUEUE = 'jetsaga';
/** The stable error code on every error reply (the micro headers carry only the status). */
export const ERROR_CODE_HEADER = 'Jetsaga-Error-Code';
/** Request bodies larger than this are refused with BAD_REQUEST. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

/** The endpoints: name (as in `$SRV.INFO`) → subject under the API prefix. */
export const Endpoint = {
  SagasList: 'sagas.list',
  SagasGet: 'sagas.get',
  SagasEvents: 'sagas.events',
  SagasCancel: 'sagas.cancel',
  SagasRetry: 'sagas.retry',
  SagasSkip: 'sagas.skip',
  SagasAbandon: 'sagas.abandon',
  SagasFollow: 'sagas.follow',
  SagasFork: 'sagas.fork',
  SagasCheck: 'sagas.check',
  SagasReplay: 'sagas.replay',
  MachinesList: 'machines.list',
  MachinesGraph: 'machines.graph',
  BuildsStart: 'builds.start',
  BuildsGet: 'builds.get',
  BuildsProgress: 'builds.progress',
  BuildsFollow: 'builds.follow',
  AppsList: 'apps.list',
  AppsGet: 'apps.get',
  VersionsList: 'versions.list',
  VersionsRollback: 'versions.rollback',
  AddonsList: 'addons.list',
  AddonsGet: 'addons.get',
  BootStatus: 'boot.status',
} as const;
export type Endpoint = (typeof Endpoint)[keyof typeof Endpoint];

/** `sagas.list` → `sagas-list`: micro endpoint names take no dots. */
export function endpointName(endpoint: Endpoint): string {
  return endpoint.replace('.', '-');
}

/** `<namespace>.api`: the prefix every endpoint subject hangs off. */
export function apiPrefix(namespace = 'jetsaga'): string {
  return `${namespace}.api`;
}

/** The full subject of an endpoint. */
export function endpointSubject(endpoint: Endpoint, prefix = apiPrefix()): string {
  return `${prefix}.${endpoint}`;
}

/**
 * Creates or reconciles a stream, then checks that the server really applied the settings.
 * nats-server 2.9 drops fields it does not know without an error (e.g. `allow_msg_ttl`), and a
 * journal that silently lacks `allow_direct` would time out on every read: we would rather
 * refuse to start. `num_replicas` is a minimum: a stream with more replicas is left as it is
 * (see replicas.ts), and a cluster that cannot place them is reported as such.
 */
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { ErrorCode, SagaError } from '../errors.js';
import { isTransient } from './nats-errors.js';
import { replicasError } from './replicas.js';

export type EnsureStreamConfig = Partial<StreamConfig> & { readonly name: string };

/** "stream name already in use with a different configuration": a concurrent add raced us. */
const STREAM_NAME_EXIST = 10058;

export async function ensureStream(jsm: JetStreamManager, config: EnsureStreamConfig): Promise<StreamInfo> {
  let info = await streamInfoOrNull(jsm, config.name);
  if (!info) {
    try {
      info = await jsm.streams.add({ ...config });
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === STREAM_NAME_EXIST)) throw wrap(config.name, 'create', err, config.num_replicas);
      info = await streamInfoOrNull(jsm, config.name);
      if (!info) throw wrap(config.name, 'create', err, config.num_replicas);
    }
  }
  if (differingFields(config, info.config).length > 0) {
    const { name, ...update } = config;
    if (update.num_replicas !== undefined) update.num_replicas = Math.max(update.num_replicas, info.config.num_replicas || 1);
    try {
      info = await jsm.streams.update(name, update);
    } catch (err) {
      throw wrap(config.name, 'update', err, config.num_replicas);
    }
  }
  verify(config, info);
  return info;
}

/** The stream's info, or null when there is no such stream. */
export async function streamInfoOrNull(jsm: JetStreamManager, name: string): Promise<StreamInfo | null> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return null;
    throw err;
  }
}

function verify(wanted: EnsureStreamConfig, info: StreamInfo): void {
  const echoed = info.config as unknown as Record<string, unknown>;
  for (const key of differingFields(wanted, info.config)) {
    const want = (wanted as Record<string, unknown>)[key];
    if (echoed[key] === undefined) {
      throw new SagaError(
        ErrorCode.ServerTooOld,
        `stream ${wanted.name}: the server ignored the setting ${key}=${JSON.stringify(want)} ` +
          `(it is missing from the config it echoed back); the server is too old for it`,
        { status: 503, details: { stream: wanted.name, field: key, wanted: want } },
      );
    }
    throw new SagaError(
      ErrorCode.Internal,
      `stream ${wanted.name}: ${key} is ${JSON.stringify(echoed[key])} on the server, ` +
        `not ${JSON.stringify(want)} as configured`,
      { status: 500, details: { stream: wanted.name, field: key, wanted: want, actual: echoed[key] } },
    );
  }
}

/** Fields we set whose value on the server differs; fields we leave out are the server's business. */
function differingFields(wanted: EnsureStreamConfig, actual: StreamConfig): string[] {
  const have = actual as unknown as Record<string, unknown>;
  const out: string[] = [];
  for (const [key, want] of Object.entries(wanted)) {
    if (want === undefined) continue;
    if (key === 'num_replicas') {
      // More replicas than asked for is fine: never lower an operator's replication.
      if (((have[key] as number | undefined) ?? 1) < (want as number)) out.push(key);
      continue;
    }
    if (!sameValue(want, have[key])) out.push(key);
  }
  return out;
}

function sameValue(want: unknown, have: unknown): boolean {
  // The server omits zero values (omitempty), so an absent field equals false/0/"" /[].
  if (have === undefined) return want === false || want === 0 || want === '' || (Array.isArray(want) && want.length === 0);
  if (Array.isArray(want) && Array.isArray(have)) {
    if (want.length !== have.length) return false;
    const a = [...want].map((v) => JSON.stringify(v)).sort();
    const b = [...have].map((v) => JSON.stringify(v)).sort();
    return a.every((v, i) => v === b[i]);
  }
  if (typeof want === 'object' && want !== null) return JSON.stringify(want) === JSON.stringify(have);
  return want === have;
}

function wrap(stream: string, op: string, err: unknown, replicas?: number): SagaError {
  if (err instanceof SagaError) return err;
  const placement = replicasError(err, `could not ${op} stream ${stream}`, replicas ?? 1);
  if (placement instanceof SagaError) return placement;
  const message = err instanceof Error ? err.message : String(err);
  // A timeout or no responders (a meta-leader election in a cluster) passes: the boot graph
  // retries what is retryable and gives up on the rest.
  const transient = isTransient(err);
  return new SagaError(transient ? ErrorCode.JournalUnavailable : ErrorCode.Internal, `could not ${op} stream ${stream}: ${message}`, {
    status: transient ? 503 : 500,
    retryable: transient,
    cause: err,
    details: { stream },
  });
}

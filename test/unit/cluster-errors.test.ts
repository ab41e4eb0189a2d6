/**
 * How the errors of a NATS cluster are classified: what a stream-leader change looks like to
 * an append (retried with the same msgId, never a failed step), and the placement refusals
 * that mean "the servers cannot hold that many replicas" (one clear, final error).
 */
import { JetStreamApiError } from '@nats-io/jetstream';
import { NoRespondersError, RequestError, TimeoutError, type NatsConnection } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { isTransient } from '../../src/nats/nats-errors.js';
import { assertReplicasPossible, REPLICAS_UNAVAILABLE, replicasError, ReplicasUnavailableError } from '../../src/nats/replicas.js';
import { loadConfig } from '../../src/config.js';

/** What @nats-io/jetstream throws when no stream leader answers (its class is not exported). */
function jetStreamNotEnabled(): Error {
  const e = new Error('jetstream is not enabled', { cause: new RequestError("no responders: 'jetsaga.ev.s1'", { cause: new NoRespondersError('jetsaga.ev.s1') }) });
  e.name = 'JetStreamNotEnabled';
  return e;
}

const apiError = (code: number, err_code: number, description: string): JetStreamApiError => new JetStreamApiError({ code, err_code, description });

const nc = (info: Record<string, unknown> | undefined): NatsConnection => ({ info, getServer: () => '127.0.0.1:4222' }) as unknown as NatsConnection;

describe('a stream-leader change as an append sees it', () => {
  it.each([
    ['no stream leader ("jetstream is not enabled")', jetStreamNotEnabled()],
    ['no responders, as the lean publisher reports a 503 status', new RequestError('no responders', { cause: new NoRespondersError('jetsaga.ev.s1') })],
    ['the ack lost with the old leader', new TimeoutError()],
    ['JetStream temporarily unavailable during the election', apiError(503, 10008, 'JetStream system temporarily unavailable')],
  ])('%s is retried', (_, err) => {
    expect(isTransient(err)).toBe(true);
  });

  it.each([
    ['no suitable peers for placement', apiError(400, 10005, 'no suitable peers for placement')],
    ['insufficient resources', apiError(503, 10023, 'insufficient resources')],
    ['replicas > 1 on a single server', apiError(500, 10074, 'replicas > 1 not supported in non-clustered mode')],
  ])('%s is final and becomes REPLICAS_UNAVAILABLE', (_, err) => {
    expect(isTransient(err)).toBe(false);
    const mapped = replicasError(err, 'could not create stream X', 3);
    expect(mapped).toBeInstanceOf(ReplicasUnavailableError);
    expect(mapped).toMatchObject({ code: REPLICAS_UNAVAILABLE, retryable: false, message: `could not create stream X: the NATS servers cannot hold 3 replicas: ${err.message}` });
  });

  it('leaves other errors alone', () => {
    const conflict = apiError(400, 10071, 'wrong last sequence: 4');
    expect(replicasError(conflict, 'x', 3)).toBe(conflict);
  });
});

describe('replicas against the servers', () => {
  it('refuses more than one replica on a single server before touching a stream', () => {
    expect(() => assertReplicasPossible(nc({}), 3)).toThrow(
      '--replicas 3 needs a NATS cluster with JetStream, but 127.0.0.1:4222 is a single server (replicas > 1 not supported in non-clustered mode); use --replicas 1 or point --nats at a cluster',
    );
    expect(() => assertReplicasPossible(nc({}), 1)).not.toThrow();
    expect(() => assertReplicasPossible(nc({ cluster: 'saga-cluster' }), 3)).not.toThrow();
  });

  it('takes --replicas, then JETSAGA_REPLICAS, then 1', () => {
    expect(loadConfig({}, {}).replicas).toBe(1);
    expect(loadConfig({}, { JETSAGA_REPLICAS: '3' }).replicas).toBe(3);
    expect(loadConfig({ replicas: '5' }, { JETSAGA_REPLICAS: '3' }).replicas).toBe(5);
    expect(() => loadConfig({ replicas: '0' }, {})).toThrow('--replicas: replicas "0" must be an integer from 1 to 5');
    expect(() => loadConfig({}, { JETSAGA_REPLICAS: 'three' })).toThrow('JETSAGA_REPLICAS: replicas "three" must be an integer from 1 to 5');
  });
});

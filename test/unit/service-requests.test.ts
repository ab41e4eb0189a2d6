/**
 * The service API's request parsing and error bodies, without a server: every body either
 * parses into the endpoint's schema or is refused with BAD_REQUEST naming the field.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SagaError, UnknownSagaError } from '../../src/errors.js';
import { errorReplyOf } from '../../src/service/errors.js';
import { buildSummary } from '../../src/service/handlers.js';
import { parseRequest } from '../../src/service/service.js';
import { Endpoint } from '../../src/service/subjects.js';
import type { SagaInfo } from '../../src/runtime/types.js';

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

function refusal(endpoint: Endpoint, body: Uint8Array, max?: number): SagaError {
  try {
    parseRequest(endpoint, body, max);
  } catch (e) {
    expect(e).toBeInstanceOf(SagaError);
    return e as SagaError;
  }
  throw new Error('parsed');
}

describe('parseRequest', () => {
  it('takes valid bodies, and an empty body where every field is optional', () => {
    expect(parseRequest(Endpoint.SagasGet, enc({ id: 'a-1' }))).toEqual({ id: 'a-1' });
    expect(parseRequest(Endpoint.AppsList, new Uint8Array())).toEqual({});
    expect(parseRequest(Endpoint.SagasList, enc({ status: ['running'], limit: 5 }))).toEqual({ status: ['running'], limit: 5 });
    expect(parseRequest(Endpoint.BuildsStart, enc({ app: 'shop', source: { name: 'shop-1' }, env: { A: 'b' } }))).toMatchObject({ app: 'shop' });
  });

  it('refuses garbage, unknown fields, wrong types and oversized bodies with BAD_REQUEST and the path', () => {
    const garbage = refusal(Endpoint.SagasGet, new Uint8Array([0xff, 0xfe, 0x00]));
    expect([garbage.code, garbage.status]).toEqual(['BAD_REQUEST', 400]);
    expect(refusal(Endpoint.SagasGet, enc('{not json')).message).toMatch(/not JSON/);
    expect(refusal(Endpoint.SagasGet, enc({ id: 'a', extra: 1 })).message).toMatch(/\(body\).*extra/);
    expect(refusal(Endpoint.BuildsStart, enc({ app: 'shop', source: { name: 7 } })).message).toMatch(/source\.name/);
    expect(refusal(Endpoint.BuildsProgress, enc({ id: 'x', afterSeq: -1 })).message).toMatch(/afterSeq/);
    expect(refusal(Endpoint.SagasGet, new Uint8Array()).code).toBe('BAD_REQUEST');
    expect(refusal(Endpoint.AppsList, enc({ pad: 'x'.repeat(100) }), 50).message).toMatch(/at most 50/);
  });

  it('never throws anything but BAD_REQUEST for arbitrary bodies', () => {
    const body = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.jsonValue().map(enc), fc.dictionary(fc.constantFrom('id', 'app', 'limit', 'source', 'x'), fc.jsonValue()).map(enc));
    fc.assert(
      fc.property(fc.constantFrom(...Object.values(Endpoint)), body, (endpoint, data) => {
        try {
          parseRequest(endpoint, data);
        } catch (e) {
          expect((e as SagaError).code).toBe('BAD_REQUEST');
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('error bodies', () => {
  it('keep a SagaError code and status; anything else is INTERNAL 500', () => {
    expect(errorReplyOf(new UnknownSagaError('x')).error).toMatchObject({ code: 'UNKNOWN_SAGA', status: 404, retryable: false, details: { sagaId: 'x' } });
    expect(errorReplyOf(new TypeError('boom')).error).toMatchObject({ code: 'INTERNAL', status: 500, message: 'boom' });
  });
});

describe('buildSummary', () => {
  it('reads the version, image and url from a completed build', () => {
    const info = {
      id: 'b',
      machine: 'build',
      status: 'completed',
      context: { input: { app: 'shop' }, outputs: { allocate: 3, push: { repo: 'r', digest: 'sha256:1' }, start: { url: 'http://127.0.0.1:1' } } },
    } as unknown as SagaInfo;
    expect(buildSummary(info)).toEqual({ app: 'shop', version: 3, status: 'completed', image: 'sha256:1', url: 'http://127.0.0.1:1' });
    expect(buildSummary({ ...info, status: 'running' } as SagaInfo).url).toBeNull();
  });
});

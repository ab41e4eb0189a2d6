import type { NatsConnection } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { assertServerVersion, serverVersion } from '../../src/nats/connect.js';

const fakeConnection = (version: string | undefined): NatsConnection =>
  ({ info: version === undefined ? undefined : { version }, getServer: () => '127.0.0.1:1' }) as unknown as NatsConnection;

describe('assertServerVersion', () => {
  it('accepts the minimum and anything newer', () => {
    for (const v of ['2.9.0', '2.9.10', '2.10.0', '2.12.1', '3.0.0', '2.11.0-beta.1']) {
      expect(() => assertServerVersion(fakeConnection(v))).not.toThrow();
    }
    expect(() => assertServerVersion(fakeConnection('2.10.4'), '2.10.4')).not.toThrow();
  });

  it('refuses older or unknown versions with SERVER_TOO_OLD', () => {
    for (const v of ['2.8.4', '1.9.99', '', 'garbage', undefined]) {
      expect(() => assertServerVersion(fakeConnection(v))).toThrow(expect.objectContaining({ code: 'SERVER_TOO_OLD' }));
    }
    expect(() => assertServerVersion(fakeConnection('2.10.3'), '2.10.4')).toThrow(/2\.10\.3.*too old.*2\.10\.4/);
  });

  it('reports the version the server announced', () => {
    expect(serverVersion(fakeConnection('2.9.10'))).toBe('2.9.10');
    expect(serverVersion(fakeConnection(undefined))).toBe('');
  });
});

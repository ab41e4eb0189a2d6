/**
 * What jetsaga accepts as a NATS address (`--nats`, JETSAGA_NATS_URL, createRuntime's
 * `servers`): host:port or nats://host:port. Anything else is refused before any lookup or
 * connection, so a typo is a usage error and never a DNS query or an "unreachable".
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { parseNatsServers } from '../../src/nats/server-urls.js';

describe('parseNatsServers', () => {
  it.each([
    ['127.0.0.1:4222', 'nats://127.0.0.1:4222'],
    ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4222'],
    ['NATS://localhost:4222', 'nats://localhost:4222'],
    ['tls://nats.internal:4443', 'tls://nats.internal:4443'],
    ['[::1]:4222', 'nats://[::1]:4222'],
    ['nats://[::1]:4222', 'nats://[::1]:4222'],
    [' nats:4222 ', 'nats://nats:4222'],
  ])('accepts %s as %s', (input, url) => {
    expect(parseNatsServers(input).map((s) => s.url)).toEqual([url]);
  });

  it('splits a comma-separated list and keeps host and port apart', () => {
    expect(parseNatsServers('127.0.0.1:4222,nats://[::1]:4223')).toEqual([
      { url: 'nats://127.0.0.1:4222', host: '127.0.0.1', port: 4222 },
      { url: 'nats://[::1]:4223', host: '::1', port: 4223 },
    ]);
    expect(parseNatsServers(['a:1', 'b:2']).map((s) => s.url)).toEqual(['nats://a:1', 'nats://b:2']);
  });

  it.each([
    ['garbage', 'no port'],
    ['nats://', 'no host'],
    ['nats://:4222', 'no host'],
    [':4222', 'no host'],
    ['127.0.0.1', 'no port'],
    ['nats://127.0.0.1', 'no port'],
    ['nats://127.0.0.1:0', 'port must be in 1–65535'],
    ['nats://127.0.0.1:70000', 'port must be in 1–65535'],
    ['nats://127.0.0.1:abc', 'the port must be a number'],
    ['nats://a[b:4222', 'bad host'],
    ['http://127.0.0.1:4222', 'http:// is not supported'],
    ['ws://127.0.0.1:4222', 'ws:// is not supported'],
    ['nats://user:pw@127.0.0.1:4222', 'no user, path or query'],
    ['nats://127.0.0.1:4222/path', 'no user, path or query'],
    ['999.1.1.1:4222', 'is not a host name or IP address'],
    ['under_score:4222', 'is not a host name or IP address'],
    ['[not-v6]:4222', 'is not a host name or IP address'],
    ['127.0.0.1:4222,', 'no host'],
  ])('refuses %s (%s)', (input, why) => {
    expect(() => parseNatsServers(input)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(why) }));
  });
});

describe('loadConfig --nats', () => {
  it('refuses a value that is not an address as a usage error naming the setting', () => {
    expect(() => loadConfig({ nats: 'garbage' }, {})).toThrow(ConfigError);
    expect(() => loadConfig({ nats: 'garbage' }, {})).toThrow(/^--nats: "garbage" is not a NATS server address \(no port\): use host:port or nats:\/\/host:port/);
    expect(() => loadConfig({}, { JETSAGA_NATS_URL: 'nats://' })).toThrow(/^JETSAGA_NATS_URL: "nats:\/\/" is not a NATS server address \(no host\)/);
  });

  it('keeps a valid value, normalised', () => {
    expect(loadConfig({ nats: '127.0.0.1:4222, nats://127.0.0.1:4223' }, {}).nats.url).toBe('nats://127.0.0.1:4222,nats://127.0.0.1:4223');
    expect(loadConfig({}, {}).nats.url).toBeUndefined();
  });
});

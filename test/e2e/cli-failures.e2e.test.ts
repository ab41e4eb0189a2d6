/**
 * The `jetsaga` command always ends, and says why: NATS that accepts connections but never
 * answers is "unreachable" (exit 3) within the bounded wait, naming the URL; a --nats value
 * that is not an address is a usage error (exit 2) for every command, before any connection
 * or name lookup.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/nats-server.js';
import { startSilentListener, type SilentListener } from '../helpers/silent-listener.js';

let silent: SilentListener;
let tmp: string;
beforeAll(async () => {
  silent = await startSilentListener();
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-cli-failures-'));
});
afterAll(async () => {
  await silent?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('jetsaga boot status against NATS it cannot reach', () => {
  it('exits 3, naming the URL, when the server accepts the connection and never answers', async () => {
    const r = await runCli(['boot', 'status', '--nats', silent.url]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`jetsaga: cannot reach NATS at ${silent.url}: the connection was accepted but no NATS greeting came within`);
    expect(silent.accepted()).toBeGreaterThan(0);
  });

  it('exits 3 saying "connection refused" when nothing listens', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    const r = await runCli(['boot', 'status', '--nats', url]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`jetsaga: cannot reach NATS at ${url}: connection refused`);
  });
});

describe('--nats that is not an address', () => {
  // The loopback cases come first: an old jetsaga tried to connect to them instead of refusing.
  const values = async (): Promise<[string, string][]> => {
    const port = await freePort();
    return [
      [`nats://user@127.0.0.1:${port}`, 'no user, path or query'],
      [`127.0.0.1:${port}/x`, 'no user, path or query'],
      ['garbage', 'no port'],
      ['nats://', 'no host'],
      ['nats://:4222', 'no host'],
      ['ws://127.0.0.1:4222', 'ws:// is not supported'],
    ];
  };

  it('is a usage error (exit 2) for boot status', async () => {
    for (const [value, why] of await values()) {
      const r = await runCli(['boot', 'status', '--nats', value]);
      expect({ value, code: r.code }).toEqual({ value, code: 2 });
      expect(r.stderr).toContain(`jetsaga: --nats: "${value}" is not a NATS server address (`);
      expect(r.stderr).toContain(why);
    }
  });

  it('is a usage error (exit 2) for serve, also from JETSAGA_NATS_URL', async () => {
    for (const [value, why] of await values()) {
      const r = await runCli(['serve', '--nats', value, '--data-dir', join(tmp, 'serve')]);
      expect({ value, code: r.code }).toEqual({ value, code: 2 });
      expect(r.stderr).toContain(`jetsaga: --nats: "${value}" is not a NATS server address (`);
      expect(r.stderr).toContain(why);
    }
    const fromEnv = await runCli(['serve', '--data-dir', join(tmp, 'serve')], { JETSAGA_NATS_URL: 'garbage' });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain('jetsaga: JETSAGA_NATS_URL: "garbage" is not a NATS server address (no port)');
  });
});

describe('bad command-line values need no coordinator', () => {
  it('deploy of a missing directory, a bad app name and an unreadable bundle are one-line usage errors (exit 2), NATS or not', async () => {
    // A port nothing listens on: had the command connected first, it would exit 3.
    const nats = `127.0.0.1:${await freePort()}`;
    const cases: Array<[string[], RegExp]> = [
      [['deploy', join(tmp, 'no-such-dir'), '--app', 'x', '--nats', nats], /^jetsaga: cannot deploy .*no-such-dir: not a directory$/],
      [['deploy', tmp, '--app', 'Bad_Name', '--nats', nats], /argument 'Bad_Name' is invalid\. "Bad_Name" is not an app name/],
      [['rollback', '--app', 'UPPER', '--to', '1', '--nats', nats], /"UPPER" is not an app name/],
      [['sagas', 'replay', '--file', join(tmp, 'missing.json')], /^jetsaga: cannot read the bundle .*missing\.json: ENOENT$/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(message);
    }
  });
});

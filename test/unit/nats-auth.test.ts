/**
 * The credential settings: files read at once and checked, settings that do not go together
 * refused naming one of them, and the config layer naming where a bad value came from.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { authFailure, clientTls } from '../../src/nats/auth-failure.js';
import { loadNatsAuth, NatsAuthSettingError } from '../../src/nats/nats-auth.js';
import { parseNatsServers } from '../../src/nats/server-urls.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-nats-auth-unit-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function file(name: string, content: string): Promise<string> {
  const path = join(tmp, name);
  await writeFile(path, content);
  return path;
}

function settingError(f: () => unknown): NatsAuthSettingError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(NatsAuthSettingError);
    return e as NatsAuthSettingError;
  }
  throw new Error('no error');
}

describe('loadNatsAuth', () => {
  it('nothing given: no authenticator, no TLS', () => {
    expect(loadNatsAuth({})).toEqual({});
  });

  it('signs the nonce with the seed from the file (its newline dropped)', async () => {
    const kp = nkeys.createUser();
    const auth = loadNatsAuth({ nkeyFile: await file('u.nk', `${new TextDecoder().decode(kp.getSeed())}\n`) });
    const answer = auth.authenticator!('nonce-1') as { nkey: string; sig: string };
    expect(answer.nkey).toBe(kp.getPublicKey());
    expect(kp.verify(new TextEncoder().encode('nonce-1'), Buffer.from(answer.sig, 'base64url'))).toBe(true);
  });

  it('takes the first line of a password or token file', async () => {
    expect(loadNatsAuth({ user: 'a', passwordFile: await file('pw', 'p4ss\nignored\n') }).authenticator!()).toEqual({ user: 'a', pass: 'p4ss' });
    expect(loadNatsAuth({ tokenFile: await file('tok', 't0k\n') }).authenticator!()).toEqual({ auth_token: 't0k' });
  });

  it('refuses unreadable or malformed files and settings that do not go together, naming the setting', async () => {
    const missing = join(tmp, 'missing.creds');
    expect(settingError(() => loadNatsAuth({ credsFile: missing }))).toMatchObject({ setting: 'credsFile', message: `cannot read ${missing}: no such file` });
    expect(settingError(() => loadNatsAuth({ caFile: tmp }))).toMatchObject({ setting: 'caFile', message: `cannot read ${tmp}: it is a directory` });
    const junk = await file('junk.nk', 'SUNOTASEED');
    expect(settingError(() => loadNatsAuth({ nkeyFile: junk }))).toMatchObject({ setting: 'nkeyFile', message: expect.stringContaining(`${junk} holds no valid nkey seed`) });
    expect(settingError(() => loadNatsAuth({ user: 'a' }))).toMatchObject({ setting: 'user' });
    expect(settingError(() => loadNatsAuth({ password: 'x' }))).toMatchObject({ setting: 'password', message: 'a password needs a user name too' });
    expect(settingError(() => loadNatsAuth({ user: 'a', password: 'x', token: 't' }))).toMatchObject({ setting: 'token' });
    expect(settingError(() => loadNatsAuth({ keyFile: junk }))).toMatchObject({ setting: 'keyFile' });
  });

  it('a token file and the token variable are one way, the file winning', async () => {
    expect(loadNatsAuth({ token: 'env', tokenFile: await file('t2', 'file') }).authenticator!()).toEqual({ auth_token: 'file' });
  });
});

describe('loadConfig', () => {
  it('takes the flag over the variable and names the source of a bad value', async () => {
    const seed = await file('ok.nk', new TextDecoder().decode(nkeys.createUser().getSeed()));
    const fromEnv = loadConfig({}, { JETSAGA_NATS_NKEY: seed });
    expect(fromEnv.nats.auth?.hint).toBe('check JETSAGA_NATS_NKEY');
    expect(loadConfig({ natsNkey: seed }, { JETSAGA_NATS_NKEY: join(tmp, 'nope') }).nats.auth?.hint).toBe('check --nats-nkey');
    expect(() => loadConfig({}, { JETSAGA_NATS_USER: 'a', JETSAGA_NATS_PASSWORD_FILE: join(tmp, 'nope') })).toThrow(ConfigError);
    expect(() => loadConfig({}, { JETSAGA_NATS_USER: 'a', JETSAGA_NATS_PASSWORD_FILE: join(tmp, 'nope') })).toThrow(`JETSAGA_NATS_PASSWORD_FILE: cannot read ${join(tmp, 'nope')}: no such file`);
    expect(loadConfig({}, {}).nats.auth).toBeUndefined();
  });
});

describe('clientTls and authFailure', () => {
  it('tls:// asks for TLS even without options; nats:// without options does not', () => {
    expect(clientTls(parseNatsServers('nats://example.org:4222'), undefined)).toBeUndefined();
    expect(clientTls(parseNatsServers('tls://example.org:4222'), undefined)).toEqual({});
    expect(clientTls(parseNatsServers('tls://127.0.0.1:4222'), undefined)).toHaveProperty('checkServerIdentity');
  });

  it('tells refusals from other failures', () => {
    const named = (name: string, message: string, code?: string): Error => Object.assign(new Error(message), { name, ...(code ? { code } : {}) });
    expect(authFailure(named('AuthorizationError', 'Authorization Violation'))).toBe('refused the credentials (Authorization Violation)');
    expect(authFailure(named('Error', 'unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'))).toBe('failed the TLS handshake (unable to verify the first certificate)');
    expect(authFailure(named('ConnectionError', "server does not support 'tls'"))).toBe("failed the TLS handshake (server does not support 'tls')");
    expect(authFailure(named('Error', 'connect ECONNREFUSED', 'ECONNREFUSED'))).toBeUndefined();
    expect(authFailure(named('TimeoutError', 'timeout'))).toBeUndefined();
  });
});

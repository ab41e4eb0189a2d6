/**
 * Authenticated and encrypted NATS: a user and password, an nkey, a token, a JWT `.creds` file
 * (operator mode) and TLS with a client certificate, each against a real nats-server that
 * requires it. The CLI gets in with the credentials, and without them, or with wrong ones, says
 * in one line which NATS refused what (exit 3). `serve` boots against such a server, and the
 * embedded default never runs open: a client without the data dir's nkey is refused.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credsAuthenticator, nkeys, tokenAuthenticator, usernamePasswordAuthenticator } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMBEDDED_SEED_FILE } from '../../src/boot/embedded-auth.js';
import { loadConfig, type ConfigInput } from '../../src/config.js';
import { Coordinator } from '../../src/coordinator.js';
import { clientTls } from '../../src/nats/auth-failure.js';
import { loadNatsAuth } from '../../src/nats/nats-auth.js';
import { parseNatsServers } from '../../src/nats/server-urls.js';
import { JetsagaClient } from '../../src/service/client.js';
import { orderBinding } from '../fixtures/order-saga.js';
import { runCli, startCli, type CliResult } from '../helpers/cli.js';
import { freePort, startNatsServer, type NatsServerHandle, type StartNatsServerOptions } from '../helpers/nats-server.js';
import { natsJwtSetup } from '../helpers/nats-jwt.js';
import { makeTestCa, type TestCa } from '../helpers/test-ca.js';

/** Each test runs `jetsaga` several times (a process each) and starts servers: on a loaded machine that takes a while. */
const SLOW = 120_000;

let tmp: string;
const servers: NatsServerHandle[] = [];
const coordinators: Coordinator[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-nats-auth-'));
});
afterAll(async () => {
  for (const c of coordinators) await c.stop().catch(() => undefined);
  for (const s of servers) await s.stop();
  await rm(tmp, { recursive: true, force: true });
}, SLOW);

async function secretFile(name: string, content: string): Promise<string> {
  const path = join(tmp, name);
  await writeFile(path, `${content}\n`, { mode: 0o600 });
  return path;
}

async function server(config: string, probe: StartNatsServerOptions['probe']): Promise<NatsServerHandle> {
  const s = await startNatsServer({ config, probe });
  servers.push(s);
  return s;
}

/** An in-process coordinator answering the service API, connected with `auth` (ConfigInput settings). */
async function coordinator(url: string, namespace: string, auth: ConfigInput): Promise<Coordinator> {
  const config = loadConfig({ nats: url, namespace, owner: namespace, dataDir: join(tmp, namespace), registry: `127.0.0.1:${await freePort()}`, ...auth }, {});
  const c = new Coordinator({ config, machines: [orderBinding()], service: true, healthIntervalMs: 300, recoverIntervalMs: 0 });
  coordinators.push(c);
  await c.start();
  return c;
}

/** One line on stderr naming the URL and what was refused; exit 3. */
function refused(r: CliResult, url: string, what: RegExp): void {
  expect(r.code).toBe(3);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(`jetsaga: NATS at ${url} `);
  expect(lines[0]).toMatch(what);
}

const list = (url: string, namespace: string, ...args: string[]): Promise<CliResult> => runCli(['sagas', 'list', '--json', '--nats', url, '--namespace', namespace, ...args]);

describe('user and password, and nkey, on one server', () => {
  const password = randomBytes(18).toString('base64url');
  const user = nkeys.createUser();
  let url: string;

  beforeAll(async () => {
    const s = await server(`authorization { users: [ { user: alice, password: ${JSON.stringify(password)} }, { nkey: ${user.getPublicKey()} } ] }`, {
      authenticator: usernamePasswordAuthenticator('alice', password),
    });
    url = s.url;
  }, SLOW);

  it('serve boots with the password from the environment, and the CLI lists its sagas with either credential', async () => {
    const dataDir = join(tmp, 'serve-up');
    const child = startCli(['serve', '--nats', url, '--nats-user', 'alice', '--owner', 'up', '--namespace', 'up', '--data-dir', dataDir, '--registry', `127.0.0.1:${await freePort()}`], {
      JETSAGA_NATS_PASSWORD: password,
      JETSAGA_LOG: 'warn',
    });
    await child.waitForLine(/^jetsaga coordinator ".*" ready$/, 60_000);

    const passwordFile = await secretFile('alice.password', password);
    const byPassword = await list(url, 'up', '--nats-user', 'alice', '--nats-password-file', passwordFile);
    expect(byPassword.code).toBe(0);
    expect(JSON.parse(byPassword.stdout)).toEqual([]);
    const seedFile = await secretFile('user.nk', new TextDecoder().decode(user.getSeed()));
    expect((await list(url, 'up', '--nats-nkey', seedFile)).code).toBe(0);
    expect((await runCli(['sagas', 'list', '--nats', url, '--namespace', 'up'], { JETSAGA_NATS_NKEY: seedFile })).code).toBe(0);

    refused(await list(url, 'up'), url, /refused the credentials \(Authorization Violation\): none of --nats-creds, .* was given \(nor JETSAGA_NATS_\*\)$/);
    const wrong = await list(url, 'up', '--nats-user', 'alice', '--nats-password-file', await secretFile('wrong.password', 'not-it'));
    refused(wrong, url, /refused the credentials \(Authorization Violation\): check --nats-user, --nats-password-file$/);
    const otherSeed = await secretFile('other.nk', new TextDecoder().decode(nkeys.createUser().getSeed()));
    refused(await list(url, 'up', '--nats-nkey', otherSeed), url, /refused the credentials .*: check --nats-nkey$/);
  }, SLOW);

  it('serve with wrong credentials fails its boot, saying so', async () => {
    const child = startCli(['serve', '--nats', url, '--nats-user', 'alice', '--owner', 'up-wrong', '--data-dir', join(tmp, 'serve-wrong'), '--registry', `127.0.0.1:${await freePort()}`], {
      JETSAGA_NATS_PASSWORD: 'not-it',
      JETSAGA_LOG: 'warn',
    });
    const { code } = await child.exited;
    expect(code).toBe(1);
    expect(child.stderr()).toContain(`jetsaga serve: boot failed: NATS at ${url} refused the credentials (Authorization Violation): check --nats-user, JETSAGA_NATS_PASSWORD`);
  }, SLOW);
});

describe('token', () => {
  it('the CLI and the typed client get in with the token; a saga started on the coordinator is listed', async () => {
    const token = randomBytes(24).toString('base64url');
    const s = await server(`authorization { token: ${JSON.stringify(token)} }`, { authenticator: tokenAuthenticator(token) });
    const tokenFile = await secretFile('nats.token', token);
    const c = await coordinator(s.url, 'tok', { natsTokenFile: tokenFile });
    await c.runtime.start('order', { order: 'o-1' }, { id: 'tok-1' });

    const listed = await list(s.url, 'tok', '--nats-token-file', tokenFile);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as Array<{ id: string }>).map((x) => x.id)).toEqual(['tok-1']);
    expect((await runCli(['sagas', 'list', '--nats', s.url, '--namespace', 'tok'], { JETSAGA_NATS_TOKEN: token })).code).toBe(0);

    const client = await JetsagaClient.open({ servers: s.url, auth: loadNatsAuth({ token }) }, { namespace: 'tok' });
    try {
      expect((await client.listSagas()).sagas.map((x) => x.id)).toEqual(['tok-1']);
    } finally {
      await client.close();
    }

    refused(await list(s.url, 'tok'), s.url, /refused the credentials/);
    refused(await list(s.url, 'tok', '--nats-token-file', await secretFile('wrong.token', 'nope')), s.url, /refused the credentials .*: check --nats-token-file$/);
  }, SLOW);
});

describe('JWT credentials (operator mode)', () => {
  it('the CLI gets in with the .creds file; another user of an unknown account is refused', async () => {
    const jwt = natsJwtSetup();
    const s = await server(jwt.serverConfig, { authenticator: credsAuthenticator(new TextEncoder().encode(jwt.creds)) });
    const credsFile = await secretFile('user.creds', jwt.creds);
    await coordinator(s.url, 'jwt', { natsCreds: credsFile });

    expect((await list(s.url, 'jwt', '--nats-creds', credsFile)).code).toBe(0);
    refused(await list(s.url, 'jwt'), s.url, /refused the credentials/);
    const stranger = await secretFile('stranger.creds', natsJwtSetup().creds);
    refused(await list(s.url, 'jwt', '--nats-creds', stranger), s.url, /refused the credentials .*: check --nats-creds$/);
  }, SLOW);

  it('a missing or malformed credentials file is a usage error naming it (exit 2)', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    const missing = join(tmp, 'no-such.creds');
    const r = await list(url, 'jwt', '--nats-creds', missing);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd()).toBe(`jetsaga: --nats-creds: cannot read ${missing}: no such file`);
    const junk = await secretFile('junk.creds', 'not a creds file');
    const fromEnv = await runCli(['sagas', 'list', '--nats', url], { JETSAGA_NATS_CREDS: junk });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr.trimEnd()).toBe(`jetsaga: JETSAGA_NATS_CREDS: ${junk} is not a NATS user credentials file (no user JWT and nkey seed in it)`);
  }, SLOW);
});

describe('TLS with client certificates', () => {
  let ca: TestCa;
  let url: string;

  beforeAll(async () => {
    const dir = join(tmp, 'ca');
    await mkdir(dir);
    ca = await makeTestCa(dir);
    const config = `tls { cert_file: ${JSON.stringify(ca.serverCert)}, key_file: ${JSON.stringify(ca.serverKey)}, ca_file: ${JSON.stringify(ca.ca)}, verify: true }`;
    const probe = loadNatsAuth({ caFile: ca.ca, certFile: ca.clientCert, keyFile: ca.clientKey });
    const s = await server(config, { tls: clientTls(parseNatsServers(`tls://127.0.0.1:1`), probe.tls) });
    url = `tls://127.0.0.1:${s.port}`;
  }, SLOW);

  it('the CLI gets in over tls:// with the CA and a client certificate; without either the handshake fails', async () => {
    const tlsFlags = ['--nats-ca', ca.ca, '--nats-cert', ca.clientCert, '--nats-key', ca.clientKey];
    await coordinator(url, 'tls', { natsCa: ca.ca, natsCert: ca.clientCert, natsKey: ca.clientKey });
    expect((await list(url, 'tls', ...tlsFlags)).code).toBe(0);

    // The server's certificate is signed by a CA nobody was told to trust.
    refused(await list(url, 'tls'), url, /failed the TLS handshake \(.*certificate.*\)/);
    // No client certificate: the server drops the handshake, the client sees only silence.
    const noCert = await list(url, 'tls', '--nats-ca', ca.ca);
    expect(noCert.code).toBe(3);
    expect(noCert.stderr.trimEnd()).toMatch(
      new RegExp(`^jetsaga: cannot reach NATS at ${url}: the TLS handshake did not complete within \\d+ ms \\(does the server require a client certificate\\?\\): check --nats-ca$`),
    );
    // A certificate without its key is refused before any connection.
    const half = await list(url, 'tls', '--nats-ca', ca.ca, '--nats-cert', ca.clientCert);
    expect(half.code).toBe(2);
    expect(half.stderr.trimEnd()).toBe('jetsaga: --nats-cert: a client certificate needs its key, and the key its certificate');
  }, SLOW);
});

describe('the embedded default', () => {
  it('runs with an nkey of its own: a plain client is refused, the CLI given the data dir gets in', async () => {
    const dataDir = join(tmp, 'embedded');
    const natsPort = await freePort();
    const child = startCli(['serve', '--owner', 'emb', '--data-dir', dataDir, '--nats-port', String(natsPort), '--registry-port', String(await freePort())], { JETSAGA_LOG: 'warn' });
    await child.waitForLine(/^jetsaga coordinator ".*" ready$/, 60_000);

    expect((await stat(join(dataDir, EMBEDDED_SEED_FILE))).mode & 0o777).toBe(0o600);
    await expect(connect({ servers: `127.0.0.1:${natsPort}`, reconnect: false })).rejects.toThrow(/Authorization Violation/);
    const r = await runCli(['sagas', 'list', '--data-dir', dataDir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('no sagas');
    // The port given skips the coordinator's record, not the data dir's credentials.
    expect((await runCli(['sagas', 'list', '--json', '--data-dir', dataDir, '--nats-port', String(natsPort)])).code).toBe(0);
    // Without the data dir there are no credentials.
    refused(await runCli(['sagas', 'list', '--nats', `nats://127.0.0.1:${natsPort}`]), `nats://127.0.0.1:${natsPort}`, /refused the credentials/);
  }, SLOW);
});

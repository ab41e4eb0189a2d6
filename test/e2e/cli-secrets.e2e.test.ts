/**
 * Secrets end to end, as a user deploys them: `jetsaga deploy --secret API_KEY` (from the CLI's
 * environment) and `--secret DB_PASSWORD=@file` against a live coordinator started with
 * `--secrets-key-file`. The app proves it received the real values (it answers their SHA-256);
 * afterwards neither the nats-server's whole JetStream store, nor the coordinator's data dir,
 * nor any output (coordinator logs at debug, CLI output) holds a secret's bytes in any form —
 * raw, JSON-escaped, base64 at every alignment, hex — while the store does hold the sealed
 * values; `sagas show/events` show `[redacted]`. A value on the command line is refused.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { exitsOnItsOwn, spawnTs, type TsChild } from '../helpers/ts-child.js';
import { until } from '../helpers/until.js';

const NS = 'clisecrets';
/** Unique per run, with characters JSON escapes (`"`, `\`) and a non-ASCII one. */
const API_KEY = `api "${randomBytes(16).toString('hex')}" \\ é`;
const DB_PASSWORD = `db-${randomBytes(16).toString('hex')}`;

let nats: NatsServerHandle;
let registry: RegistryHandle;
let tmp: string;
let dataDir: string;
let coordinator: TsChild;

const SERVER = `const http = require('node:http');
const crypto = require('node:crypto');
const sha = (v) => (v === undefined ? null : crypto.createHash('sha256').update(v, 'utf8').digest('hex'));
http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ apiKey: sha(process.env.API_KEY), apiKeyLength: (process.env.API_KEY || '').length, db: sha(process.env.DB_PASSWORD), mode: process.env.MODE }));
}).listen(Number(process.env.PORT), process.env.HOST);
`;

beforeAll(async () => {
  [nats, registry] = await Promise.all([startNatsServer(), startRegistry()]);
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-cli-secrets-'));
  dataDir = join(tmp, 'data');
  const app = join(tmp, 'app');
  await mkdir(app);
  await writeFile(join(app, 'app.toml'), 'name = "secret-echo"\n\n[require]\nenv = ["API_KEY"]\n\n[env]\nMODE = "plain"\n');
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'secret-echo', version: '1.0.0', private: true, scripts: { start: 'node server.js' } }));
  await writeFile(join(app, 'server.js'), SERVER);
  const keyFile = join(tmp, 'secrets.key');
  await writeFile(keyFile, `# test key\nk1:${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  coordinator = spawnTs(
    CLI,
    ['serve', '--owner', 'sec-c1', '--namespace', NS, '--data-dir', dataDir, '--nats', nats.url, '--registry', `127.0.0.1:${registry.port}`, '--secrets-key-file', keyFile],
    { JETSAGA_LOG: 'debug', JETSAGA_NATS_URL: '', JETSAGA_REGISTRY: '', JETSAGA_SECRETS_KEY: '', JETSAGA_SECRETS_KEY_FILE: '' },
    { ownGroup: true },
  );
  await coordinator.waitForLine(/^jetsaga coordinator "sec-c1" ready$/, 60_000);
}, 120_000);
afterAll(async () => {
  if (coordinator) {
    coordinator.signal('SIGTERM');
    await exitsOnItsOwn(coordinator).catch(() => coordinator.kill());
  }
  await Promise.all([nats?.stop(), registry?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli([...args, '--nats', nats.url, '--namespace', NS], env, 180_000);

/** Every form a secret's bytes could be stored in. */
function forms(secret: string): Buffer[] {
  const raw = Buffer.from(secret, 'utf8');
  const out = [secret, JSON.stringify(secret).slice(1, -1), JSON.stringify(JSON.stringify(secret)).slice(1, -1), raw.toString('hex')];
  // Inside a longer base64 text the secret starts at any of 3 alignments; whole groups are verbatim.
  for (let shift = 0; shift < 3; shift++) {
    const groups = Math.floor((raw.length - shift) / 3);
    for (const enc of ['base64', 'base64url'] as const) out.push(raw.subarray(shift).toString(enc).slice(0, groups * 4));
  }
  return [...new Set(out)].map((s) => Buffer.from(s, 'utf8'));
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(join(e.parentPath, e.name));
  return out;
}

/** `file: form` for every form of every secret found in a file under `dir`. */
async function found(dir: string, secrets: readonly string[]): Promise<string[]> {
  const needles = secrets.flatMap(forms);
  const hits: string[] = [];
  for (const file of await filesUnder(dir)) {
    const bytes = await readFile(file).catch(() => Buffer.alloc(0));
    for (const n of needles) if (bytes.includes(n)) hits.push(`${file}: ${n.toString('utf8')}`);
  }
  return hits;
}

async function storeHolds(text: string): Promise<boolean> {
  for (const file of await filesUnder(nats.storeDir)) if ((await readFile(file).catch(() => Buffer.alloc(0))).includes(text)) return true;
  return false;
}

const sha = (v: string): string => createHash('sha256').update(v, 'utf8').digest('hex');

describe('jetsaga deploy --secret', () => {
  it('the app gets the real values; the journal, store, data dir, logs and outputs never hold them', async () => {
    const passwordFile = join(tmp, 'db-password.txt');
    await writeFile(passwordFile, `${DB_PASSWORD}\n`, { mode: 0o600 });
    const deployed = await cli(['deploy', join(tmp, 'app'), '--secret', 'API_KEY', '--secret', `DB_PASSWORD=@${passwordFile}`, '--json'], { API_KEY });
    expect(deployed.code, deployed.stderr).toBe(0);
    const outcome = JSON.parse(deployed.stdout.trim().split('\n').at(-1)!) as { sagaId: string; status: string; url: string };
    expect(outcome.status).toBe('completed');
    const answer = (await (await fetch(outcome.url)).json()) as Record<string, unknown>;
    expect(answer).toEqual({ apiKey: sha(API_KEY), apiKeyLength: API_KEY.length, db: sha(DB_PASSWORD), mode: 'plain' });

    const id = outcome.sagaId;
    const shown = await cli(['sagas', 'show', id, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    const saga = JSON.parse(shown.stdout) as { context: { input: { secretEnv: Record<string, string> }; outputs: { settings: { secrets: Record<string, string>; env: Record<string, string> } } } };
    expect(saga.context.input.secretEnv).toEqual({ API_KEY: '[redacted]', DB_PASSWORD: '[redacted]' });
    expect(saga.context.outputs.settings.secrets).toEqual({ API_KEY: '[redacted]', DB_PASSWORD: '[redacted]' });
    expect(saga.context.outputs.settings.env).toEqual({ MODE: 'plain' });
    const events = await cli(['sagas', 'events', id, '--json']);
    expect(events.code, events.stderr).toBe(0);
    expect(events.stdout).toContain('[redacted]');
    const human = await cli(['sagas', 'show', id]);
    const replayed = await cli(['sagas', 'replay', id, '--json']);
    expect(replayed.code, replayed.stderr).toBe(0);
    const outputs = [deployed, shown, events, human, replayed].map((r) => `${r.stdout}\n${r.stderr}`).join('\n');
    expect(outputs).not.toContain('$secret');

    // The store holds the build, its secrets sealed under k1 (written through, not only cached).
    await until(() => storeHolds('v1:k1:'), 30_000, 'sealed secrets in the JetStream store');
    expect(await found(nats.storeDir, [API_KEY, DB_PASSWORD])).toEqual([]);
    expect(await found(dataDir, [API_KEY, DB_PASSWORD])).toEqual([]);
    const logs = coordinator.stderr();
    // The whole log was kept (the capture holds its last 256 000 characters), so all of it was searched.
    expect(logs.length).toBeLessThan(256_000);
    expect(logs).toContain('"level":20');
    const text = Buffer.from(`${logs}\n${outputs}`, 'utf8');
    for (const f of forms(API_KEY).concat(forms(DB_PASSWORD))) expect(text.includes(f), f.toString()).toBe(false);
  }, 240_000);

  it('a value on the command line, or an unset variable, is a usage error (exit 2) that uploads nothing', async () => {
    const inline = await cli(['deploy', join(tmp, 'app'), '--secret', 'API_KEY=visible']);
    expect(inline.code).toBe(2);
    expect(inline.stderr).toContain('never the value itself');
    const unset = await cli(['deploy', join(tmp, 'app'), '--secret', 'NOT_SET_ANYWHERE_X'], { NOT_SET_ANYWHERE_X: undefined });
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain('the environment variable NOT_SET_ANYWHERE_X is not set');
  }, 60_000);
});

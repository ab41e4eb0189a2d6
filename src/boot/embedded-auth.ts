/**
 * The embedded nats-server never runs open: on first start it gets a user nkey of its own,
 * made here and kept under the data dir, and refuses every client without it. The seed
 * (`<dataDir>/nats/client.nk`, mode 0600) is the credential; the server's config holds only
 * its public key. Whoever reads the data dir — the coordinator, and CLI commands given the
 * same data dir — connects with it without any set-up (`--nats-nkey <that file>` works too).
 */
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nkeys } from '@nats-io/nats-core';
import type { CoordinatorConfig } from '../config.js';
import { loadNatsAuth, type NatsAuth } from '../nats/nats-auth.js';

/** The seed file, relative to the data dir. */
export const EMBEDDED_SEED_FILE = join('nats', 'client.nk');
/** The server's config file, relative to the data dir. */
export const EMBEDDED_CONFIG_FILE = join('nats', 'nats-server.conf');

/** The seed file's path for a data dir. */
export function embeddedSeedPath(dataDir: string): string {
  return join(dataDir, EMBEDDED_SEED_FILE);
}

/**
 * The public key of the data dir's nkey, creating the seed once (later starts reuse it, so a
 * client that read it stays valid across restarts).
 */
export async function ensureEmbeddedNkey(dataDir: string): Promise<string> {
  const path = embeddedSeedPath(dataDir);
  await mkdir(join(dataDir, 'nats'), { recursive: true, mode: 0o700 });
  const fresh = new TextDecoder().decode(nkeys.createUser().getSeed());
  try {
    // Exclusive create: two coordinators starting on one data dir keep the first one's seed.
    const handle = await open(path, 'wx', 0o600);
    try {
      await handle.writeFile(`${fresh}\n`);
    } finally {
      await handle.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const seed = (await readFile(path, 'utf8')).trim();
  return nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey();
}

/** Writes the embedded server's config (mode 0600): loopback only, JetStream, the one nkey user. */
export async function writeEmbeddedNatsConfig(dataDir: string, options: { host: string; port: number; storeDir: string; publicKey: string }): Promise<string> {
  const path = join(dataDir, EMBEDDED_CONFIG_FILE);
  const text = [
    '# Written by jetsaga serve on every start of its embedded nats-server; edits are lost.',
    `listen: ${JSON.stringify(`${options.host}:${options.port}`)}`,
    `jetstream { store_dir: ${JSON.stringify(options.storeDir)} }`,
    `authorization { users: [ { nkey: ${JSON.stringify(options.publicKey)} } ] }`,
    '',
  ].join('\n');
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, path);
  return path;
}

/** The credentials of the data dir's embedded server, if it ever had one. */
export function embeddedNatsAuth(dataDir: string): NatsAuth | undefined {
  const path = embeddedSeedPath(dataDir);
  // Never embedded here: connect without. One we may not read is reported, naming the file.
  if (!existsSync(path)) return undefined;
  return loadNatsAuth({ nkeyFile: path }, `check ${path} (the embedded server's nkey seed)`);
}

/** Said when a server refuses a client that was given nothing. */
const NONE_GIVEN: NatsAuth = { hint: 'none of --nats-creds, --nats-nkey, --nats-user, --nats-token-file, --nats-ca was given (nor JETSAGA_NATS_*)' };

/**
 * The credentials to use with `config`'s NATS: the ones given, else — for the default or
 * embedded server (no `--nats` given) — the data dir's.
 */
export function natsAuthFor(config: CoordinatorConfig): NatsAuth {
  if (config.nats.auth) return config.nats.auth;
  return (config.nats.url === undefined ? embeddedNatsAuth(config.dataDir) : undefined) ?? NONE_GIVEN;
}

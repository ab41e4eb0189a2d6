/**
 * Where a coordinator's secrets keys come from, first found wins:
 *   1. a key file (`--secrets-key-file`, else JETSAGA_SECRETS_KEY_FILE; see key-text.ts);
 *   2. JETSAGA_SECRETS_KEY (the same text inline);
 *   3. `<dataDir>/secrets.key`, generated on first use (mode 0600) and reused after: enough for
 *      one coordinator on its own; coordinators that take over each other's builds must share
 *      a key file instead.
 */
import { randomBytes } from 'node:crypto';
import { chmod, link, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../config.js';
import { InvalidArgumentError } from '../errors.js';
import type { Logger } from '../log.js';
import { SecretKeyRing } from './key-ring.js';
import { newKeyLine, parseKeyText } from './key-text.js';

export const SECRETS_KEY_ENV = 'JETSAGA_SECRETS_KEY';
/** The generated key's file name in the data dir. */
export const GENERATED_KEY_FILE = 'secrets.key';

export interface KeySourceOptions {
  /** A key file given by flag or environment (config `secretsKeyFile`). */
  readonly keyFile?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly dataDir: string;
  readonly logger?: Logger;
}

export interface LoadedKeys {
  readonly ring: SecretKeyRing;
  /** Where they came from (a path or the variable's name), for logs. */
  readonly from: string;
}

export async function loadSecretKeys(options: KeySourceOptions): Promise<LoadedKeys> {
  const env = options.env ?? process.env;
  if (options.keyFile !== undefined) return { ring: await ringOfFile(options.keyFile, options.logger), from: options.keyFile };
  const inline = env[SECRETS_KEY_ENV];
  if (inline !== undefined && inline !== '') return { ring: ringOf(inline, SECRETS_KEY_ENV, true), from: SECRETS_KEY_ENV };
  const file = join(options.dataDir, GENERATED_KEY_FILE);
  if (await ensureGeneratedKey(file)) options.logger?.info({ file }, 'generated a secrets key (back it up: secrets sealed with it cannot be read without it)');
  return { ring: await ringOfFile(file, options.logger), from: file };
}

async function ringOfFile(file: string, logger: Logger | undefined): Promise<SecretKeyRing> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
    // A key others may read is a key others may have: said, not refused (the operator decides).
    if (((await stat(file)).mode & 0o077) !== 0) logger?.warn({ file }, 'the secrets key file is readable by others than its owner; chmod 600 it');
  } catch (e) {
    throw new ConfigError(`secrets key file ${file}: ${(e as Error).message}`, { file });
  }
  return ringOf(text, `secrets key file ${file}`);
}

function ringOf(text: string, from: string, commas = false): SecretKeyRing {
  try {
    return new SecretKeyRing(parseKeyText(text, from, { commas }));
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw new ConfigError(e.message);
    throw e;
  }
}

/**
 * Writes a new key to `file` unless it exists; answers whether it did. Written aside, then
 * linked into place: link fails if the file exists, so two coordinators on one data dir never
 * both generate, and nobody ever reads a half-written key.
 */
async function ensureGeneratedKey(file: string): Promise<boolean> {
  try {
    await stat(file);
    return false;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`secrets key file ${file}: ${(e as Error).message}`, { file });
  }
  await mkdir(join(file, '..'), { recursive: true });
  const aside = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(aside, `# jetsaga secrets key, generated; the first key seals, every key opens (see README, "Secrets")\n${newKeyLine()}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(aside, 0o600);
    await link(aside, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new ConfigError(`secrets key file ${file}: ${(e as Error).message}`, { file });
  } finally {
    await rm(aside, { force: true });
  }
}

/**
 * The coordinator's default image registry: Debian's `docker-registry` (distribution 2.8),
 * on loopback only, without auth, storing blobs under the coordinator's data dir. The config
 * is rewritten on every start, so it always matches the port and dir asked for.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import type { EmbeddedServerOptions } from './embedded-options.js';
import { probeRegistry } from './registry-probe.js';
import { spawnManaged, type ManagedProcess } from './managed-process.js';
import { isListening, PortInUseError, waitReady } from './port-probe.js';

export const REGISTRY_INSTALL_HINT = 'install it (Debian: apt-get install docker-registry) or set JETSAGA_REGISTRY_BIN';
const DEFAULT_BIN = '/usr/bin/docker-registry';
const HOST = '127.0.0.1';

/** See EmbeddedServerOptions; `bin` defaults as documented on the launcher. */
export type EmbeddedRegistryOptions = EmbeddedServerOptions;

export interface EmbeddedRegistry {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly configPath: string;
  /** The filesystem driver's root directory. */
  readonly storageDir: string;
  readonly process: ManagedProcess;
  /** Stops the registry; idempotent. */
  stop(): Promise<void>;
}

export async function startEmbeddedRegistry(options: EmbeddedRegistryOptions): Promise<EmbeddedRegistry> {
  const { port, logger } = options;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new InvalidArgumentError(`invalid registry port ${port}`, { port });
  const bin = options.bin ?? process.env.JETSAGA_REGISTRY_BIN ?? DEFAULT_BIN;
  const url = `http://${HOST}:${port}`;
  const dir = join(options.dataDir, 'registry');
  const storageDir = join(dir, 'data');
  const configPath = join(dir, 'config.yml');
  await mkdir(storageDir, { recursive: true, mode: 0o700 });
  // Single instance, so a fresh secret per start is fine; mode 0600 since it signs upload state.
  await writeFile(configPath, registryConfig({ port, storageDir, secret: randomBytes(24).toString('hex') }), { mode: 0o600 });
  if (await isListening(HOST, port, 500)) throw new PortInUseError(HOST, port, 'the embedded docker-registry');

  const proc = await spawnManaged({
    name: 'docker-registry',
    bin,
    args: ['serve', configPath],
    env: registryEnv(),
    logger,
    installHint: REGISTRY_INSTALL_HINT,
  });
  try {
    await waitReady(`docker-registry on ${url}`, (ms) => probeRegistry(url, { timeoutMs: ms }).then(() => true, () => false), {
      timeoutMs: options.readyTimeoutMs ?? 30_000,
      signal: options.signal,
      process: proc,
    });
  } catch (err) {
    await proc.stop({ timeoutMs: 2_000 });
    throw err;
  }
  logger.info({ url, storageDir, childPid: proc.pid }, 'embedded docker-registry started');
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  return { url, port, configPath, storageDir, process: proc, stop: () => proc.stop({ timeoutMs: stopTimeoutMs }) };
}

/** The distribution config (cf. notes/oci.md §1). JSON strings are valid YAML scalars, so paths need no escaping of their own. */
export function registryConfig(c: { port: number; storageDir: string; secret: string }): string {
  return [
    'version: 0.1',
    'log:',
    '  level: info',
    '  accesslog:',
    '    disabled: true',
    '  fields:',
    '    service: registry',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(c.storageDir)}`,
    '  delete:',
    '    enabled: true',
    '  cache:',
    '    blobdescriptor: inmemory',
    'http:',
    `  addr: ${JSON.stringify(`${HOST}:${c.port}`)}`,
    `  secret: ${JSON.stringify(c.secret)}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
    'health:',
    '  storagedriver:',
    '    enabled: true',
    '    interval: 10s',
    '    threshold: 3',
    '',
  ].join('\n');
}

/** distribution lets REGISTRY_* variables override the file (even http.addr); ours must win. */
function registryEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));
}

/** 200 plus the API version header: the port answering HTTP is not enough. */

/**
 * A real docker-registry for a test file, on a free loopback port with its storage in a temp
 * dir. Built on the coordinator's own embedded launcher, so it shares its orphan safety (exit
 * hook plus watchdog); the temp dir is removed on stop() or when the process exits.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedRegistry, type EmbeddedRegistry } from '../../src/boot/embedded-registry.js';
import { createLogger } from '../../src/log.js';
import { freePort } from './nats-server.js';

export interface RegistryHandle {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The pid of the current registry process (changes on restart). */
  readonly pid: number;
  /** SIGTERM, wait for exit, remove the temp dir unless the caller supplied it. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit; storage stays so that `restart` can reuse it. */
  kill(): Promise<void>;
  /** Starts again on the same port and storage (stopping the running one first, gently). */
  restart(): Promise<void>;
}

const ownedDirs = new Set<string>();
let exitHookInstalled = false;

export async function startRegistry(opts: { dataDir?: string } = {}): Promise<RegistryHandle> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const d of ownedDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  const ownsDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'jetsaga-registry-')));
  if (ownsDir) ownedDirs.add(dataDir);
  const removeOwned = async (): Promise<void> => {
    if (!ownsDir) return;
    await rm(dataDir, { recursive: true, force: true });
    ownedDirs.delete(dataDir);
  };
  const logger = createLogger({ name: 'test-registry' });
  const port = await freePort();
  const launch = (): Promise<EmbeddedRegistry> => startEmbeddedRegistry({ dataDir, port, logger, stopTimeoutMs: 5_000 });
  let reg: EmbeddedRegistry;
  try {
    reg = await launch();
  } catch (err) {
    await removeOwned();
    throw err;
  }
  let stopped = false;
  return {
    url: reg.url,
    port,
    dataDir,
    get pid() {
      return reg.process.pid;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await reg.stop();
      await removeOwned();
    },
    async kill() {
      reg.process.kill('SIGKILL');
      await reg.process.exited;
    },
    async restart() {
      if (stopped) throw new Error('registry handle was stopped');
      await reg.stop();
      reg = await launch();
    },
  };
}

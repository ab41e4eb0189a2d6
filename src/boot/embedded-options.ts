/** Options every embedded server launcher takes (embedded-nats.ts, embedded-registry.ts). */
import type { Logger } from '../log.js';

export interface EmbeddedServerOptions {
  /** The coordinator's data dir; each server keeps its data in a subdirectory of its own. */
  dataDir: string;
  /** Loopback port to listen on. */
  port: number;
  /** The binary (each launcher has its own default and environment variable). */
  bin?: string;
  logger: Logger;
  /** How long start-up may take, store recovery included (default 30 s). */
  readyTimeoutMs?: number;
  signal?: AbortSignal;
  /** Grace between SIGTERM and SIGKILL on stop (default 10 s). */
  stopTimeoutMs?: number;
}

/**
 * Structured logging (pino). The level comes from `JETSAGA_LOG` (default `info`; tests set
 * `silent` unless asked). Saga-scoped children carry `sagaId`, `machine` and `seq`.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

const defaultLevel = (): string => process.env.JETSAGA_LOG ?? (process.env.VITEST ? 'silent' : 'info');

/** Creates the root logger; pass `destination` to redirect (the CLI writes logs to stderr). */
export function createLogger(options: { name?: string; level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const opts = { name: options.name ?? 'jetsaga', level: options.level ?? defaultLevel() };
  return options.destination ? pino(opts, options.destination as pino.DestinationStream) : pino(opts);
}

/** A logger that writes nothing; the default for library use without a logger. */
export const silentLogger: Logger = pino({ level: 'silent' });

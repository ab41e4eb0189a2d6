/**
 * Structured logging (pino). The level comes from `JETSAGA_LOG` (default `info`; tests set
 * `silent` unless asked). Saga-scoped children carry `sagaId`, `machine` and `seq`.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

const defaultLevel = (): string => process.env.JETSAGA_LOG ?? (process.env.VITEST ? 'silent' : 'info');

/**
 * Env and secrets are never logged, whatever a log call passes: an app's env may hold
 * credentials (plain `--env` values), and secrets are only ever plain in a sandbox's process.
 * Paths cover a field at the top of a log object and one or two levels down.
 */
const SECRET_FIELDS = ['env', 'secretEnv', 'secrets', 'specEnv'];
export const LOG_REDACT_PATHS = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);
const redact: LoggerOptions['redact'] = { paths: LOG_REDACT_PATHS, censor: '[redacted]' };

/** Creates the root logger; pass `destination` to redirect (the CLI writes logs to stderr). */
export function createLogger(options: { name?: string; level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const opts: LoggerOptions = { name: options.name ?? 'jetsaga', level: options.level ?? defaultLevel(), redact };
  return options.destination ? pino(opts, options.destination as pino.DestinationStream) : pino(opts);
}

/** A logger that writes nothing; the default for library use without a logger. */
export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * Checks a SandboxSpec before anything is spawned, so that bad input fails with a message that
 * names the field and nothing is left half-started. Checks that need the file system (does the
 * working dir exist?) are in `resolve-in-root.ts`.
 */
import { isAbsolute } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { SANDBOX_ID, STATIC_SERVER_COMMAND, type SandboxSpec } from './controller.js';

/** Portable environment variable names (POSIX "Portable Character Set" minus what shells reject). */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Anything printable but spaces, so the probe's request line stays well formed. */
const HEALTH_PATH = /^\/[\x21-\x7e]*$/;
const MAX_HEALTH_PATH = 2_048;
/** One hour: longer is a typo, not a slow start. */
const MAX_TIMEOUT_MS = 3_600_000;
const KEYS = new Set(['id', 'rootDir', 'workingDir', 'command', 'env', 'port', 'health']);

/** Throws INVALID_ARGUMENT unless `id` is a valid sandbox id. */
export function checkSandboxId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !SANDBOX_ID.test(id)) {
    throw new InvalidArgumentError(`sandbox id ${JSON.stringify(id)} must match ${SANDBOX_ID}`, { id: String(id) });
  }
}

/**
 * Validates `value` as a SandboxSpec and returns a copy of it (so a caller mutating its object
 * later does not change a running sandbox's spec). Unknown fields are refused: a misspelt
 * `workdir` must not silently run in the wrong place.
 */
export function parseSandboxSpec(value: unknown): SandboxSpec {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('the spec must be an object');
  const v = value as Record<string, unknown>;
  const unknown = Object.keys(v).filter((k) => !KEYS.has(k));
  if (unknown.length) throw invalid(`unknown field(s) ${unknown.join(', ')}`);
  checkSandboxId(v.id);
  const id = v.id;

  const rootDir = v.rootDir;
  if (typeof rootDir !== 'string' || !isAbsolute(rootDir) || rootDir.includes('\0')) throw invalid('rootDir must be an absolute path', id);
  const workingDir = checkWorkingDir(v.workingDir, id);
  const command = checkCommand(v.command, id);
  const port = checkPort(v.port, id);
  const env = checkEnv(v.env, port, id);
  const health = checkHealth(v.health, id);

  const spec: SandboxSpec = { id, rootDir, workingDir, command, env };
  if (port !== undefined) spec.port = port;
  if (health) spec.health = health;
  return spec;
}

function checkWorkingDir(value: unknown, id: string): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.includes('\0')) {
    throw invalid('workingDir must be an absolute path inside the image, e.g. /app', id);
  }
  // Counted by hand: path.normalize('/../etc') quietly gives '/etc', hiding the attempt.
  let depth = 0;
  for (const part of value.split('/')) {
    if (part === '..') depth -= 1;
    else if (part !== '' && part !== '.') depth += 1;
    if (depth < 0) throw invalid(`workingDir ${JSON.stringify(value)} escapes rootDir`, id);
  }
  return value;
}

function checkCommand(value: unknown, id: string): string[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid('command must be a non-empty array of strings (argv)', id);
  for (const arg of value) {
    if (typeof arg !== 'string' || arg.includes('\0')) throw invalid('command must hold strings without NUL characters', id);
  }
  const argv = value as string[];
  if (argv[0] === '') throw invalid('command[0] must name a program', id);
  if (argv[0] === STATIC_SERVER_COMMAND && argv.length > 1) throw invalid(`${STATIC_SERVER_COMMAND} takes no arguments (it serves workingDir)`, id);
  return [...argv];
}

function checkPort(value: unknown, id: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65_535) throw invalid('port must be an integer from 1 to 65535', id);
  return value;
}

function checkEnv(value: unknown, port: number | undefined, id: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('env must be an object of strings', id);
  const env: Record<string, string> = {};
  for (const [name, val] of Object.entries(value)) {
    if (!ENV_NAME.test(name)) throw invalid(`env name ${JSON.stringify(name)} must match ${ENV_NAME}`, id);
    if (typeof val !== 'string' || val.includes('\0')) throw invalid(`env ${name} must be a string without NUL characters`, id);
    env[name] = val;
  }
  // The controller health-checks PORT on loopback; an app told otherwise would never be found.
  if (env.HOST !== undefined && env.HOST !== '127.0.0.1') throw invalid('env HOST is set by the controller (127.0.0.1, loopback only)', id);
  if (env.PORT !== undefined && (port === undefined || env.PORT !== String(port))) {
    throw invalid('env PORT is set by the controller; give the port as spec.port instead', id);
  }
  return env;
}

function checkHealth(value: unknown, id: string): SandboxSpec['health'] {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('health must be an object { path, timeoutMs? }', id);
  const h = value as Record<string, unknown>;
  const extra = Object.keys(h).filter((k) => k !== 'path' && k !== 'timeoutMs');
  if (extra.length) throw invalid(`unknown health field(s) ${extra.join(', ')}`, id);
  if (typeof h.path !== 'string' || h.path.length > MAX_HEALTH_PATH || !HEALTH_PATH.test(h.path)) {
    throw invalid('health.path must start with / and hold no spaces or control characters', id);
  }
  const health: { path: string; timeoutMs?: number } = { path: h.path };
  if (h.timeoutMs !== undefined) {
    const t = h.timeoutMs;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_TIMEOUT_MS) throw invalid(`health.timeoutMs must be an integer from 1 to ${MAX_TIMEOUT_MS}`, id);
    health.timeoutMs = t;
  }
  return health;
}

function invalid(message: string, id?: string): InvalidArgumentError {
  return new InvalidArgumentError(`invalid sandbox spec${id ? ` "${id}"` : ''}: ${message}`, id ? { sandboxId: id } : undefined);
}

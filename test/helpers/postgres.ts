/**
 * A real PostgreSQL for a test file: the one on 127.0.0.1:5432 when it answers as a superuser
 * `postgres` without a password (a developer's or CI's server), else one of our own — Debian's
 * `initdb` into a temp dir and `postgres` on a free loopback port, run as the `postgres` system
 * user when we are root (both refuse to run as root). Ours requires passwords (SCRAM) of every
 * role but `postgres`, so a test sees a wrong password refused; it is stopped and its dir
 * removed on `stop()`, on exit, and by a watchdog if the test process is killed.
 * `JETSAGA_TEST_POSTGRES=own` starts our own even when 5432 answers.
 *
 * Test files share the server: each names its apps with `uniqueApp`, and `forget` drops what a
 * failed test may have left behind (only the names it is given).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort, startWatchdog } from './nats-server.js';

const HOST = '127.0.0.1';
const SHARED_URL = `postgres://postgres@${HOST}:5432/postgres`;
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;

export interface PostgresHandle {
  /** A superuser's URL (`postgres`, no password needed from loopback). */
  readonly adminUrl: string;
  readonly port: number;
  /** True when this helper started the server (then passwords are checked); false: the shared one on 5432. */
  readonly own: boolean;
  /** Runs one statement as the admin and answers its rows. */
  query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Drops the databases and roles named exactly as given, if they exist (a failed test's leftovers). */
  forget(names: readonly string[]): Promise<void>;
  /** Stops and removes our own server; leaves the shared one running. Idempotent. */
  stop(): Promise<void>;
}

let apps = 0;

/** An app name no other test (file, process) uses: `<prefix>-<pid>-<n>-<random>`. */
export function uniqueApp(prefix: string): string {
  return `${prefix}-${process.pid.toString(36)}-${(apps++).toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

/** Runs `sql` on a fresh connection to `url`. */
export async function queryAt<T extends Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function startPostgres(): Promise<PostgresHandle> {
  if (process.env.JETSAGA_TEST_POSTGRES !== 'own' && (await sharedAnswers())) return handleOf(SHARED_URL, 5432, false, async () => undefined);
  return startOwn();
}

async function sharedAnswers(): Promise<boolean> {
  try {
    const [row] = await queryAt<{ su: boolean }>(SHARED_URL, "SELECT rolsuper AS su FROM pg_roles WHERE rolname = current_user");
    return row?.su === true;
  } catch {
    return false;
  }
}

function handleOf(adminUrl: string, port: number, own: boolean, stop: () => Promise<void>): PostgresHandle {
  const query = <T extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]> => queryAt<T>(adminUrl, sql, params);
  return {
    adminUrl,
    port,
    own,
    query,
    async forget(names) {
      for (const name of names) {
        await query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
        await query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(name)}`);
      }
    },
    stop,
  };
}

/** The bin dir of the newest PostgreSQL Debian installed (`/usr/lib/postgresql/<major>/bin`). */
function binDir(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  const newest = majors.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run scripts/setup.sh, or apt-get install postgresql');
  return join(root, newest, 'bin');
}

/** initdb and postgres refuse root: as root, run them as the `postgres` system user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

const live = new Set<ChildProcess>();
const ownedDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
    for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
  });
}

async function startOwn(): Promise<PostgresHandle> {
  installExitHook();
  const bin = binDir();
  const user = runAs();
  const dir = await mkdtemp(join(tmpdir(), 'jetsaga-pg-'));
  ownedDirs.add(dir);
  const data = join(dir, 'data');
  const removeDir = async (): Promise<void> => {
    await rm(dir, { recursive: true, force: true });
    ownedDirs.delete(dir);
  };
  let child: ChildProcess | undefined;
  try {
    await mkdir(data, { mode: 0o700 });
    if (user) {
      await chown(dir, user.uid, user.gid);
      await chown(data, user.uid, user.gid);
    }
    await run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], user);
    // The superuser gets in from loopback as the tests' admin; every other role needs its password.
    const hba = join(data, 'pg_hba.conf');
    await writeFile(hba, ['local all all trust', `host all postgres ${HOST}/32 trust`, `host all all ${HOST}/32 scram-sha-256`, ''].join('\n'));
    if (user) await chown(hba, user.uid, user.gid);
    const port = await freePort();
    const args = ['-D', data, '-k', dir, '-p', String(port), '-h', HOST, '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];
    child = spawn(join(bin, 'postgres'), args, { stdio: ['ignore', 'ignore', 'pipe'], ...user });
    const started = child;
    live.add(started);
    let stderr = '';
    started.stderr?.setEncoding('utf8');
    started.stderr?.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-8_000)));
    const exited = new Promise<void>((resolve) => started.once('exit', () => resolve()));
    void exited.then(() => live.delete(started));
    const watchdog = started.pid === undefined ? undefined : startWatchdog(started.pid, [dir]);
    void exited.then(() => watchdog?.kill('SIGKILL'));
    const url = `postgres://postgres@${HOST}:${port}/postgres`;
    await waitReady(url, () => started.exitCode !== null || started.signalCode !== null).catch((err: unknown) => {
      throw new Error(`postgres did not start (${(err as Error).message}); stderr tail:\n${stderr}`);
    });
    let stopping: Promise<void> | undefined;
    return handleOf(url, port, true, () => {
      stopping ??= (async () => {
        if (started.exitCode === null && started.signalCode === null) {
          // SIGINT: "fast" shutdown, which does not wait for clients to leave.
          started.kill('SIGINT');
          const timer = setTimeout(() => started.kill('SIGKILL'), STOP_GRACE_MS);
          await exited;
          clearTimeout(timer);
        }
        await removeDir();
      })();
      return stopping;
    });
  } catch (err) {
    child?.kill('SIGKILL');
    await removeDir();
    throw err;
  }
}

function run(cmd: string, args: string[], user: { uid: number; gid: number } | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...user });
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4_000)));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}: ${stderr}`))));
  });
}

async function waitReady(url: string, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exited()) throw new Error('process exited');
    try {
      await queryAt(url, 'SELECT 1');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await sleep(50);
  }
}

/**
 * `<data dir>/coordinator.json`: where a running `jetsaga serve` says which NATS it uses, so
 * that CLI commands on the same machine find it without `--nats` (an embedded server may run on
 * a port other than the default). Written once the coordinator admits work, removed when it
 * stops; a record left by a process that no longer runs is ignored.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CoordinatorRecord {
  readonly natsUrl: string;
  readonly namespace: string;
  readonly owner: string;
  readonly pid: number;
  readonly startedAt: number;
}

export const RECORD_FILE = 'coordinator.json';

export async function writeCoordinatorRecord(dataDir: string, record: CoordinatorRecord): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, RECORD_FILE);
  // Written aside and renamed: a reader never sees half a record.
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

/** Removes the record if it is this process's (another coordinator may have replaced it). */
export async function removeCoordinatorRecord(dataDir: string, pid = process.pid): Promise<void> {
  if (readRecordFile(dataDir)?.pid === pid) await rm(join(dataDir, RECORD_FILE), { force: true });
}

/** The record of a coordinator that is still running, if any. */
export function liveCoordinatorRecord(dataDir: string): CoordinatorRecord | undefined {
  const record = readRecordFile(dataDir);
  return record && isRunning(record.pid) ? record : undefined;
}

function readRecordFile(dataDir: string): CoordinatorRecord | undefined {
  try {
    const value = JSON.parse(readFileSync(join(dataDir, RECORD_FILE), 'utf8')) as Partial<CoordinatorRecord>;
    if (typeof value.natsUrl !== 'string' || !Number.isInteger(value.pid)) return undefined;
    return value as CoordinatorRecord;
  } catch {
    // missing or unreadable: no coordinator recorded
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, as another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

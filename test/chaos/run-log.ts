/**
 * The run log: every step run, appended as one JSON line when it starts and one when it ends,
 * by the process that runs it. Lines are written synchronously, so a SIGKILL loses at most the
 * line being written, and the runs of killed processes stay countable.
 */
import { appendFileSync } from 'node:fs';
import { readJsonLines } from '../helpers/json-lines.js';

export interface RunRecord {
  readonly sagaId: string;
  /** The idempotency key of the run. */
  readonly key: string;
  readonly step: string;
  readonly attempt: number;
  readonly phase: 'start' | 'end';
  readonly outcome?: 'ok' | 'error' | 'aborted';
  /** How the effect went: applied now, or found applied by an earlier run. */
  readonly effect?: 'applied' | 'already';
  readonly code?: string;
  readonly owner: string;
  readonly pid: number;
  /** Epoch ms. */
  readonly t: number;
}

export class RunLog {
  constructor(
    readonly file: string,
    readonly owner: string,
  ) {}

  write(r: Omit<RunRecord, 'owner' | 'pid' | 't'>): void {
    appendFileSync(this.file, `${JSON.stringify({ ...r, owner: this.owner, pid: process.pid, t: Date.now() })}\n`);
  }
}

export function readRuns(file: string): RunRecord[] {
  return readJsonLines<RunRecord>(file);
}

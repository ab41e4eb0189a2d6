/**
 * Which status changes a version may go through. Refusing the rest catches a saga that marks
 * the wrong version (say, `failed` on the one that is live) before it corrupts the history.
 */
import { VersionStatus } from './records.js';

const { Building, Ready, Active, Retired, Failed, Abandoned } = VersionStatus;

const NEXT: Readonly<Record<VersionStatus, readonly VersionStatus[]>> = {
  [Building]: [Ready, Failed, Abandoned],
  // `active → ready`: an activation undone before anything else replaced it.
  [Ready]: [Active, Retired, Failed, Abandoned],
  [Active]: [Retired, Ready],
  // A retired version may be made active again (a rollback to it), or found bad later.
  [Retired]: [Active, Failed],
  [Failed]: [Abandoned],
  [Abandoned]: [],
};

/** Whether `from → to` is allowed; staying put always is (a repeated mark). */
export function canMark(from: VersionStatus, to: VersionStatus): boolean {
  return from === to || NEXT[from].includes(to);
}

/** Statuses a version can be activated from: it was built and never given up. */
export const ACTIVATABLE: readonly VersionStatus[] = [Ready, Active, Retired];

/** Statuses `abandonVersion` changes; a version that was ever live keeps its history. */
export const ABANDONABLE: readonly VersionStatus[] = [Building, Ready, Failed];

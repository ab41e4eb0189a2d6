/** The one stderr line a follower prints when its coordinator is lost, and when it is back. */
import type { FollowStatus } from '../service/follow-client.js';

export function followStatusLine(status: FollowStatus, what: string): string {
  if (status.state === 'waiting') return `lost the coordinator: ${status.reason}; waiting for one to answer (${what} goes on)`;
  return `resumed following ${what} (coordinator "${status.coordinator}")`;
}

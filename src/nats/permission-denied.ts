/**
 * A NATS user whose permissions do not cover a subject jetsaga uses gets "Permissions
 * Violation for Publish to …" from the server. The client raises it in several wrappings (on
 * its own, as the cause of a request's error, or under jetsaga's own errors), and a stack
 * trace of any of them hides the one fact the operator needs: which subject, and that it is a
 * matter of the user's permissions, not of jetsaga or of the network.
 */
import { PermissionViolationError } from '@nats-io/transport-node';

/** How deep a chain of `cause`s is searched (a cycle must not hang the CLI). */
const MAX_CAUSES = 8;

/** The permissions refusal in `e` or its causes, if any. */
export function permissionViolation(e: unknown): PermissionViolationError | undefined {
  let at: unknown = e;
  for (let i = 0; i < MAX_CAUSES && at instanceof Error; i++) {
    if (at instanceof PermissionViolationError || at.name === 'PermissionViolationError') return at as PermissionViolationError;
    at = at.cause;
  }
  return undefined;
}

/** One line naming the subject and what the user may not do with it. */
export function describePermissionViolation(e: PermissionViolationError): string {
  const what = e.operation === 'subscription' ? 'subscribe to' : 'publish to';
  const queue = e.queue ? ` (queue group "${e.queue}")` : '';
  return `the NATS user lacks permission to ${what} "${e.subject}"${queue}: grant it in the server's permissions for this user (see examples/nats-permissions)`;
}

/**
 * A permissions refusal is found however the client or jetsaga wrapped it, and worded as one
 * line naming the subject; anything else is left to the other error paths.
 */
import { PermissionViolationError, RequestError } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { SagaError } from '../../src/errors.js';
import { describePermissionViolation, permissionViolation } from '../../src/nats/permission-denied.js';

const denied = (s: string): PermissionViolationError => PermissionViolationError.parse(s)!;

describe('permissionViolation', () => {
  it('finds the refusal on its own, as a request error\'s cause, or under a cause of jetsaga\'s', () => {
    const e = denied('Permissions Violation for Publish to "jetsaga.ev.x"');
    expect(permissionViolation(e)).toBe(e);
    expect(permissionViolation(new RequestError('request failed', { cause: e }))).toBe(e);
    const wrapped = new SagaError('NATS_UNREACHABLE', 'cannot open the source store', { cause: new RequestError('x', { cause: e }) });
    expect(permissionViolation(wrapped)).toBe(e);
  });

  it('leaves other errors alone, and does not loop on a cycle of causes', () => {
    expect(permissionViolation(new Error('timeout'))).toBeUndefined();
    expect(permissionViolation('text')).toBeUndefined();
    const a = new Error('a');
    a.cause = a;
    expect(permissionViolation(a)).toBeUndefined();
  });
});

describe('describePermissionViolation', () => {
  it('names the subject and the operation', () => {
    expect(describePermissionViolation(denied('Permissions Violation for Publish to "$KV.jetsaga_entities.x"'))).toBe(
      'the NATS user lacks permission to publish to "$KV.jetsaga_entities.x": grant it in the server\'s permissions for this user (see examples/nats-permissions)',
    );
    expect(describePermissionViolation(denied('Permissions Violation for Subscription to "jetsaga.>" using queue "q"'))).toBe(
      'the NATS user lacks permission to subscribe to "jetsaga.>" (queue group "q"): grant it in the server\'s permissions for this user (see examples/nats-permissions)',
    );
  });
});

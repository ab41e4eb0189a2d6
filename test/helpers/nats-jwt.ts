/**
 * A NATS operator, account and user as signed JWTs, made with nkeys alone (no JWT library):
 * enough for a test nats-server in operator mode (`operator`, `resolver: MEMORY`) and a
 * `.creds` file for its user. The account gets unlimited JetStream.
 */
import { randomUUID } from 'node:crypto';
import { nkeys } from '@nats-io/nats-core';

type KeyPair = ReturnType<typeof nkeys.createOperator>;

export interface NatsJwtSetup {
  /** Lines for the server's config (operator, resolver, preloaded account). */
  readonly serverConfig: string;
  /** The contents of the user's `.creds` file. */
  readonly creds: string;
}

const b64url = (data: Uint8Array | string): string => Buffer.from(data).toString('base64url');

function sign(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }));
  const claims = { jti: randomUUID(), iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub: subject, nats: { ...nats, version: 2 } };
  const body = `${header}.${b64url(JSON.stringify(claims))}`;
  return `${body}.${b64url(issuer.sign(new TextEncoder().encode(body)))}`;
}

export function natsJwtSetup(): NatsJwtSetup {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  // JetStream needs a system account, and may not be enabled on it.
  const system = nkeys.createAccount();
  const user = nkeys.createUser();
  const unlimited = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };
  const operatorJwt = sign(operator, operator.getPublicKey(), 'test-operator', { type: 'operator' });
  const systemJwt = sign(operator, system.getPublicKey(), 'SYS', { type: 'account', limits: { ...unlimited, mem_storage: 0, disk_storage: 0, streams: 0, consumer: 0 } });
  const accountJwt = sign(operator, account.getPublicKey(), 'test-account', { type: 'account', limits: unlimited });
  const userJwt = sign(account, user.getPublicKey(), 'test-user', { type: 'user', pub: {}, sub: {}, subs: -1, data: -1, payload: -1 });
  const seed = new TextDecoder().decode(user.getSeed());
  return {
    serverConfig: [
      `operator: ${JSON.stringify(operatorJwt)}`,
      `system_account: ${system.getPublicKey()}`,
      'resolver: MEMORY',
      `resolver_preload: { ${account.getPublicKey()}: ${JSON.stringify(accountJwt)}, ${system.getPublicKey()}: ${JSON.stringify(systemJwt)} }`,
    ].join('\n'),
    creds: `-----BEGIN NATS USER JWT-----\n${userJwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`,
  };
}

/**
 * createRuntime's failure paths: each fails with a stable code, and a program that catches the
 * error exits on its own (nothing createRuntime opened stays open). NATS that refuses fails at
 * once; NATS that accepts and stays silent fails after the bounded wait, naming the URL.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ErrorCode, NatsUnreachableError } from '../../src/errors.js';
import { NATS_CONNECT_TIMEOUT_MS } from '../../src/nats/connect.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { orderBinding } from '../fixtures/order-saga.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startSilentListener, type SilentListener } from '../helpers/silent-listener.js';
import { exitsOnItsOwn, spawnTs } from '../helpers/ts-child.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/create-runtime-failure.ts', import.meta.url));

let server: NatsServerHandle;
let silent: SilentListener;
beforeAll(async () => {
  server = await startNatsServer();
  silent = await startSilentListener();
});
afterAll(async () => {
  await silent?.close();
  await server?.stop();
});

async function runFixture(which: string, url: string): Promise<{ code: unknown; message?: string }> {
  const child = spawnTs(FIXTURE, [which, url], { JETSAGA_LOG: 'silent' });
  onTestFinished(() => child.kill());
  const exit = await exitsOnItsOwn(child, 20_000);
  expect(exit, child.stderr()).toEqual({ code: 0, signal: null });
  expect(child.lines).toHaveLength(1);
  const out = JSON.parse(child.lines[0]!) as { case: string; code: unknown; message?: string };
  expect(out.case).toBe(which);
  return out;
}

describe('a program that catches a createRuntime error exits on its own', () => {
  it('after a bad owner name', async () => {
    expect(await runFixture('bad-owner', server.url)).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringContaining('owner "not a name!"') });
  });

  it('after a machine that invokes a step nobody implements', async () => {
    expect(await runFixture('missing-step', server.url)).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringContaining('no step implementation named "shipOrder"') });
  });

  it('after a bad namespace', async () => {
    expect(await runFixture('bad-namespace', server.url)).toMatchObject({ code: ErrorCode.InvalidArgument });
  });

  it('after NATS refused the connection', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    expect(await runFixture('unreachable', url)).toMatchObject({ code: ErrorCode.NatsUnreachable, message: `cannot reach NATS at ${url}: connection refused` });
  });

  it('after NATS accepted the connection and never answered', async () => {
    expect(await runFixture('unreachable', silent.url)).toMatchObject({ code: ErrorCode.NatsUnreachable, message: expect.stringContaining(`cannot reach NATS at ${silent.url}:`) });
  });
});

describe('createRuntime on an unreachable NATS', () => {
  const options = { owner: 'unreachable-test', machines: [orderBinding()], recoverIntervalMs: 0 };

  it('fails at once with NATS_UNREACHABLE naming the URL when the connection is refused', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    // A wait far beyond this test's timeout: only failing fast lets it pass.
    const err = await createRuntime({ ...options, servers: url, connectTimeoutMs: 10 * 60_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatsUnreachableError);
    expect(err).toMatchObject({ code: 'NATS_UNREACHABLE', status: 503, retryable: true, message: `cannot reach NATS at ${url}: connection refused`, details: { servers: [url] } });
    expect((err as Error).cause).toMatchObject({ cause: { code: 'ECONNREFUSED' } });
  });

  it('fails after the shared bounded wait when the server never answers, or after the wait given', async () => {
    const byDefault = await createRuntime({ ...options, servers: silent.url }).catch((e: unknown) => e);
    expect(byDefault).toMatchObject({ code: 'NATS_UNREACHABLE', message: `cannot reach NATS at ${silent.url}: the connection was accepted but no NATS greeting came within ${NATS_CONNECT_TIMEOUT_MS} ms (is it a NATS server?)` });
    expect((byDefault as Error).cause).toBeInstanceOf(Error);

    const overridden = await createRuntime({ ...options, servers: `127.0.0.1:${silent.port}`, connectTimeoutMs: 300 }).catch((e: unknown) => e);
    expect(overridden).toMatchObject({ code: 'NATS_UNREACHABLE', message: expect.stringContaining('no NATS greeting came within 300 ms') });
  });

  it('names every URL and its reason when none answers', async () => {
    const refused = `nats://127.0.0.1:${await freePort()}`;
    const err = await createRuntime({ ...options, servers: [refused, silent.url], connectTimeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NATS_UNREACHABLE', details: { servers: [refused, silent.url] } });
    expect((err as Error).message).toContain(`${refused}: connection refused`);
    expect((err as Error).message).toContain(`${silent.url}: the connection was accepted but no NATS greeting`);
  });

  it('connects when one of several servers answers', async () => {
    const refused = `nats://127.0.0.1:${await freePort()}`;
    const rt = await createRuntime({ ...options, owner: 'one-of-several', servers: [refused, server.url], namespace: 'several', recoverOnStart: false });
    await rt.close();
  });

  it('refuses an address that is not one before connecting anywhere', async () => {
    await expect(createRuntime({ ...options, servers: 'nats://127.0.0.1' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('no port') });
  });
});

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryClient, sha256 } from '../../src/build/image/index.js';

/** A loopback HTTP server answering with `handler`; counts requests and open sockets. */
async function fakeRegistry(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; requests: string[]; sockets: Set<Socket>; server: Server }> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, sockets, server };
}

const servers: Server[] = [];
const clients: RegistryClient[] = [];
const digest = sha256(Buffer.from('x'));

function client(url: string, extra: { requestTimeoutMs?: number } = {}): RegistryClient {
  const c = new RegistryClient({ url, retryDelayMs: 5, ...extra });
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe('RegistryClient', () => {
  it('retries a 5xx three times, then fails with REGISTRY_UNAVAILABLE naming the registry, method, path and status', async () => {
    const fake = await fakeRegistry((_req, res) => {
      res.statusCode = 503;
      res.end('{"errors":[{"code":"UNAVAILABLE"}]}');
    });
    const err = await client(fake.url).blobExists('apps/x', digest).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_UNAVAILABLE', retryable: true, status: 503 });
    expect((err as Error).message).toContain(`HEAD ${fake.url}/v2/apps/x/blobs/${digest}`);
    expect((err as Error).message).toContain('HTTP 503');
    expect(fake.requests).toHaveLength(3);
  });

  it('does not retry an unexpected 4xx: REGISTRY_REJECTED with the status and the error document', async () => {
    const fake = await fakeRegistry((_req, res) => {
      res.statusCode = 403;
      res.end('{"errors":[{"code":"DENIED","message":"no"}]}');
    });
    const err = await client(fake.url).putManifest('apps/x', 'v1', Buffer.from('{}'), 'application/vnd.oci.image.manifest.v1+json').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_REJECTED', retryable: false, status: 403 });
    expect((err as Error).message).toContain(`PUT ${fake.url}/v2/apps/x/manifests/v1 with HTTP 403`);
    expect((err as Error).message).toContain('DENIED');
    expect(fake.requests).toHaveLength(1);
  });

  it('a registry that never answers times out as REGISTRY_UNAVAILABLE', async () => {
    const fake = await fakeRegistry(() => undefined);
    await expect(client(fake.url, { requestTimeoutMs: 100 }).ping()).rejects.toMatchObject({ code: 'REGISTRY_UNAVAILABLE' });
    expect(fake.requests).toHaveLength(3);
  });

  it('an abort while waiting rejects with the reason at once, without retrying', async () => {
    const fake = await fakeRegistry(() => undefined);
    const ac = new AbortController();
    const pinging = client(fake.url).ping(ac.signal);
    setTimeout(() => ac.abort(new Error('cancelled')), 20);
    await expect(pinging).rejects.toThrow('cancelled');
    expect(fake.requests).toHaveLength(1);
  });

  it('uploads with POST then PUT to the Location with the digest, and refuses a digest the registry tells otherwise', async () => {
    const fake = await fakeRegistry((req, res) => {
      if (req.method === 'POST') {
        res.writeHead(202, { location: '/v2/apps/x/blobs/uploads/abc?_state=s' }).end();
      } else if (req.method === 'PUT' && req.url?.startsWith('/v2/apps/x/blobs/uploads/abc?')) {
        req.resume();
        req.on('end', () => res.writeHead(201).end());
      } else if (req.method === 'PUT') {
        req.resume();
        req.on('end', () => res.writeHead(201, { 'docker-content-digest': digest }).end());
      } else res.writeHead(404).end();
    });
    const c = client(fake.url);
    await c.uploadBlob('apps/x', digest, Buffer.from('x'));
    expect(fake.requests).toEqual(['POST /v2/apps/x/blobs/uploads/', `PUT /v2/apps/x/blobs/uploads/abc?_state=s&digest=${encodeURIComponent(digest)}`]);
    await expect(c.putManifest('apps/x', 'v1', Buffer.from('{"a":1}'), 'application/vnd.oci.image.manifest.v1+json')).rejects.toMatchObject({ code: 'IMAGE_CORRUPT' });
  });

  it('refuses invalid repository names, digests and tags before any request', async () => {
    const fake = await fakeRegistry((_req, res) => res.end());
    const c = client(fake.url);
    await expect(c.blobExists('Apps/X', digest)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(c.blobExists('apps/x', 'sha256:nothex')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(c.headManifest('apps/x', '../v1')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(fake.requests).toEqual([]);
  });

  it('close() leaves no socket open', async () => {
    const fake = await fakeRegistry((_req, res) => res.writeHead(200).end('{}'));
    const c = new RegistryClient({ url: fake.url });
    await c.ping();
    await c.ping();
    expect(fake.sockets.size).toBeGreaterThan(0);
    await c.close();
    await expect.poll(() => fake.sockets.size).toBe(0);
  });

  it('knows its host for image references', () => {
    const c = new RegistryClient({ url: 'http://cluster.local:5000/' });
    clients.push(c);
    expect(c.url).toBe('http://cluster.local:5000');
    expect(c.host).toBe('cluster.local:5000');
  });
});

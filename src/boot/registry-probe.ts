/**
 * Is an OCI registry answering? `GET /v2/` is the distribution spec's "API version check":
 * 200 when open, 401 when it wants credentials — either way the registry is up. Requests go
 * through jetsaga's name mapping, so `http://cluster.local:5000` works without system DNS.
 */
import { request } from 'node:http';
import type { NameMap } from './name-map.js';

export async function probeRegistry(baseUrl: string, options: { names?: NameMap; signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
  const url = new URL('/v2/', baseUrl);
  const timeoutMs = options.timeoutMs ?? 3_000;
  const signal = options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(url, { method: 'GET', signal, ...(options.names ? { lookup: options.names.lookup as never } : {}) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (e) => reject(new Error(`registry ${url.origin} does not answer: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
    req.end();
  });
  if (status !== 200 && status !== 401) throw new Error(`registry ${url.origin} answered GET /v2/ with HTTP ${status}`);
}

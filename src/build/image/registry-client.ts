/**
 * A small OCI Distribution client on undici: just what pushing and pulling jetsaga's own
 * images needs (notes/oci.md §3). Blobs are uploaded monolithically (POST an upload, then one
 * PUT with Content-Length and `digest=`), from a file or from bytes, so an upload can be replayed
 * from the start. Host names go through the NameMap (undici `connect.lookup`), so
 * `http://cluster.local:5000` works without system DNS and the registry's `Location` answers,
 * which carry that name, resolve too.
 *
 * Failures: network errors and 5xx are retried a few times with backoff, then surface as
 * REGISTRY_UNAVAILABLE (retryable) so the saga step's own retry logic takes over; a 4xx the
 * call does not expect is REGISTRY_REJECTED (terminal). An abort rejects with the signal's
 * reason and is never retried.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import type { NameMap } from '../../boot/name-map.js';
import { InvalidArgumentError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { sleep } from '../../nats/retry.js';
import { sha256 } from './digest.js';
import { MANIFEST_ACCEPT } from './media-types.js';
import { ImageCorruptError, RegistryRejectedError, RegistryUnavailableError, type RegistryExchange } from './registry-errors.js';

export interface RegistryClientOptions {
  /** Base URL, e.g. 'http://127.0.0.1:5000' or 'http://cluster.local:5000'. */
  url: string;
  /** Names jetsaga resolves itself (used as the Agent's `connect.lookup`). */
  nameMap?: NameMap;
  /** Connect, headers and body timeouts of each request (default 30 s). */
  requestTimeoutMs?: number;
  logger?: Logger;
  /** Tries of a request that fails on the network or with a 5xx (default 3). */
  attempts?: number;
  /** Backoff before the second try (default 200 ms); doubles, capped at 2 s. */
  retryDelayMs?: number;
}

type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';

interface Exchange {
  method: Method;
  path: string;
  headers?: Record<string, string>;
  /** A fresh body per try (a file is reopened), so every exchange may be replayed. */
  body?: () => Uint8Array | Readable | undefined;
  signal?: AbortSignal | undefined;
}

type Response = Dispatcher.ResponseData;

const DIGEST = /^sha256:[a-f0-9]{64}$/;
// A repository name as distribution accepts it: lower-case path components.
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const REFERENCE = /^(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[a-f0-9]{64})$/;

/** Errors that mean the network (or the registry process) failed, not the request. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_ABORTED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
]);

/**
 * Talks to one registry. Holds one undici Agent (keep-alive sockets); `close()` releases them.
 *
 * @example
 * const client = new RegistryClient({ url: 'http://cluster.local:5000', nameMap });
 * await client.ping();
 */
export class RegistryClient {
  /** The base URL without a trailing slash. */
  readonly url: string;
  /** `host[:port]` as image references name it, e.g. 'cluster.local:5000'. */
  readonly host: string;
  readonly #agent: Agent;
  readonly #logger: Logger;
  readonly #attempts: number;
  readonly #retryDelayMs: number;

  constructor(opts: RegistryClientOptions) {
    const base = new URL(opts.url);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new InvalidArgumentError(`registry URL must be http(s): ${opts.url}`);
    this.url = base.origin;
    this.host = base.host;
    const timeout = opts.requestTimeoutMs ?? 30_000;
    this.#agent = new Agent({
      headersTimeout: timeout,
      bodyTimeout: timeout,
      connect: { timeout, ...(opts.nameMap ? { lookup: opts.nameMap.lookup as never } : {}) },
    });
    this.#logger = opts.logger ?? silentLogger;
    this.#attempts = Math.max(1, opts.attempts ?? 3);
    this.#retryDelayMs = opts.retryDelayMs ?? 200;
  }

  /** `GET /v2/`: resolves when the registry answers 200 (open) or 401 (wants credentials). */
  async ping(signal?: AbortSignal): Promise<void> {
    await this.#call({ method: 'GET', path: '/v2/', signal }, [200, 401]);
  }

  /** Whether the repository holds the blob (HEAD: 200 yes, 404 no). */
  async blobExists(repo: string, digest: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.#call({ method: 'HEAD', path: `/v2/${checkRepo(repo)}/blobs/${checkDigest(digest)}`, signal }, [200, 404]);
    return res.statusCode === 200;
  }

  /** Uploads the file at `path` (which must hold exactly `size` bytes hashing to `digest`). */
  async uploadBlobFile(repo: string, digest: string, path: string, size: number, signal?: AbortSignal): Promise<void> {
    const st = await stat(path);
    if (st.size !== size) throw new InvalidArgumentError(`blob file ${path} has ${st.size} bytes, expected ${size}`, { path, size });
    await this.#upload(repo, digest, size, () => createReadStream(path, { highWaterMark: 1 << 20 }), signal);
  }

  /**
   * Cross-repository mount: makes `fromRepo`'s blob `digest` part of `repo` without sending its
   * bytes (`POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<fromRepo>`). True when the
   * registry mounted it (201). False when the registry does not have it in `fromRepo` and
   * started an ordinary upload instead (202): that upload is cancelled (DELETE on its Location,
   * best effort: an abandoned upload session also expires on its own).
   */
  async mountBlob(repo: string, digest: string, fromRepo: string, signal?: AbortSignal): Promise<boolean> {
    const query = `mount=${encodeURIComponent(checkDigest(digest))}&from=${encodeURIComponent(checkRepo(fromRepo))}`;
    const post: Exchange = { method: 'POST', path: `/v2/${checkRepo(repo)}/blobs/uploads/?${query}`, headers: { 'content-length': '0' }, signal };
    const res = await this.#call(post, [201, 202]);
    if (res.statusCode === 201) {
      this.#logger.debug({ registry: this.url, repo, digest, from: fromRepo }, 'blob mounted');
      return true;
    }
    const location = header(res, 'location');
    if (location) {
      const target = new URL(location, `${this.url}/`);
      try {
        await this.#call({ method: 'DELETE', path: target.pathname + target.search, signal }, [204, 404], { origin: target.origin });
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        this.#logger.debug({ registry: this.url, repo, digest, err: (err as Error).message }, 'could not cancel the upload a failed mount started');
      }
    }
    return false;
  }

  /** Uploads `bytes` as the blob `digest` (small blobs: configs). */
  async uploadBlob(repo: string, digest: string, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    await this.#upload(repo, digest, bytes.byteLength, () => bytes, signal);
  }

  /** The manifest's digest, or undefined when the registry has no manifest under `ref`. */
  async headManifest(repo: string, ref: string, signal?: AbortSignal): Promise<string | undefined> {
    const path = `/v2/${checkRepo(repo)}/manifests/${checkRef(ref)}`;
    const res = await this.#call({ method: 'HEAD', path, headers: { accept: MANIFEST_ACCEPT }, signal }, [200, 404]);
    if (res.statusCode === 404) return undefined;
    const digest = header(res, 'docker-content-digest');
    if (digest) return digest;
    // Without the header, only a GET tells the digest.
    return (await this.getManifest(repo, ref, signal)).digest;
  }

  /**
   * The manifest under `ref` as stored (bytes untouched). When `ref` is a digest, the bytes are
   * checked against it (IMAGE_CORRUPT otherwise). A missing manifest is REGISTRY_REJECTED (404).
   */
  async getManifest(repo: string, ref: string, signal?: AbortSignal): Promise<{ digest: string; mediaType: string; bytes: Uint8Array }> {
    const path = `/v2/${checkRepo(repo)}/manifests/${checkRef(ref)}`;
    const { res, bytes } = await this.#withRetry({ method: 'GET', path, headers: { accept: MANIFEST_ACCEPT }, signal }, async (attempt) => {
      const r = await this.#send(attempt);
      await this.#expect(attempt, r, [200]);
      return { res: r, bytes: new Uint8Array(await this.#readBody(attempt, r)) };
    });
    const digest = sha256(bytes);
    if (DIGEST.test(ref) && digest !== ref) throw new ImageCorruptError(`manifest ${repo}@${ref} from ${this.url}`, ref, digest);
    // By tag, the registry's word on the digest is all there is to check the bytes against.
    const told = header(res, 'docker-content-digest');
    if (told && DIGEST.test(told) && told !== digest) throw new ImageCorruptError(`manifest ${repo}:${ref} from ${this.url}`, told, digest);
    const mediaType = header(res, 'content-type')?.split(';')[0]?.trim() || mediaTypeOf(bytes);
    return { digest, mediaType, bytes };
  }

  /** Stores a manifest under `ref` (a tag or its digest); returns its digest. */
  async putManifest(repo: string, ref: string, bytes: Uint8Array, mediaType: string, signal?: AbortSignal): Promise<string> {
    const path = `/v2/${checkRepo(repo)}/manifests/${checkRef(ref)}`;
    const res = await this.#call(
      { method: 'PUT', path, headers: { 'content-type': mediaType, 'content-length': String(bytes.byteLength) }, body: () => bytes, signal },
      [201],
    );
    const digest = sha256(bytes);
    const told = header(res, 'docker-content-digest');
    if (told && told !== digest) throw new ImageCorruptError(`manifest stored at ${this.url}/v2/${repo}/manifests/${ref}`, digest, told);
    return digest;
  }

  /** Deletes the manifest `digest`; false when there was none (so a repeated delete is fine). */
  async deleteManifest(repo: string, digest: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.#call({ method: 'DELETE', path: `/v2/${checkRepo(repo)}/manifests/${checkDigest(digest)}`, signal }, [202, 404]);
    return res.statusCode === 202;
  }

  /**
   * The blob's bytes as a stream (not verified here: the reader hashes them). Opening is retried;
   * a failure mid-stream arrives as the stream's error.
   */
  async openBlob(repo: string, digest: string, signal?: AbortSignal): Promise<Readable> {
    const x: Exchange = { method: 'GET', path: `/v2/${checkRepo(repo)}/blobs/${checkDigest(digest)}`, signal };
    const res = await this.#call(x, [200], { keepBody: true });
    // A connection lost mid-blob is the registry's failure too: the stream fails with
    // REGISTRY_UNAVAILABLE (or the abort's reason), not with undici's socket error.
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    res.body.on('error', (err) => out.destroy(this.#networkError(x, err) as Error));
    out.on('close', () => {
      if (!res.body.readableEnded) res.body.destroy();
    });
    // The error is delivered to whoever reads (iteration and pipeline see a stream's errored
    // state); without this listener a reader that gave up first would leave it uncaught.
    out.on('error', () => undefined);
    res.body.pipe(out);
    return out;
  }

  /** Closes the Agent: no socket stays open. Requests after this fail. */
  async close(): Promise<void> {
    await this.#agent.close();
  }

  async #upload(repo: string, digest: string, size: number, body: () => Uint8Array | Readable, signal: AbortSignal | undefined): Promise<void> {
    checkRepo(repo);
    checkDigest(digest);
    // The whole POST + PUT is the unit that is retried: an upload session is cheap, and a
    // half-sent PUT cannot be resumed.
    const post: Exchange = { method: 'POST', path: `/v2/${repo}/blobs/uploads/`, headers: { 'content-length': '0' }, signal };
    await this.#withRetry(post, async () => {
      const started = await this.#send(post);
      await this.#expect(post, started, [202]);
      await started.body.dump();
      const location = header(started, 'location');
      if (!location) throw new RegistryRejectedError({ ...this.#describe(post), status: started.statusCode }, 'no Location header in the answer');
      const target = new URL(location, `${this.url}/`);
      target.searchParams.set('digest', digest);
      const put: Exchange = {
        method: 'PUT',
        path: target.pathname + target.search,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
        body,
        signal,
      };
      const done = await this.#send(put, target.origin);
      await this.#expect(put, done, [201]);
      await done.body.dump();
    });
    this.#logger.debug({ registry: this.url, repo, digest, size }, 'blob uploaded');
  }

  /** One exchange, retried; the response's body is consumed unless `keepBody`. */
  async #call(x: Exchange, ok: readonly number[], opts: { keepBody?: boolean; origin?: string } = {}): Promise<Response> {
    return this.#withRetry(x, async () => {
      const res = await this.#send(x, opts.origin);
      await this.#expect(x, res, ok);
      if (!opts.keepBody) await res.body.dump();
      return res;
    });
  }

  /** Runs `fn` up to `attempts` times while it fails with REGISTRY_UNAVAILABLE. */
  async #withRetry<T>(x: Exchange, fn: (x: Exchange) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      x.signal?.throwIfAborted();
      try {
        return await fn(x);
      } catch (err) {
        if (!(err instanceof RegistryUnavailableError) || attempt >= this.#attempts) throw err;
        const delay = Math.min(2_000, this.#retryDelayMs * 2 ** (attempt - 1));
        this.#logger.debug({ registry: this.url, method: x.method, path: x.path, attempt, delayMs: delay, err: err.message }, 'registry request failed; retrying');
        await sleep(delay, [x.signal]);
      }
    }
  }

  /** Sends one request; network failures become REGISTRY_UNAVAILABLE, an abort its reason. */
  async #send(x: Exchange, origin: string = this.url): Promise<Response> {
    try {
      return await request(`${origin}${x.path}`, {
        dispatcher: this.#agent,
        method: x.method,
        headers: x.headers,
        body: x.body?.(),
        signal: x.signal,
      });
    } catch (err) {
      throw this.#networkError(x, err);
    }
  }

  /** Reads a whole (small) body; network failures become REGISTRY_UNAVAILABLE. */
  async #readBody(x: Exchange, res: Response): Promise<Buffer> {
    try {
      return Buffer.from(await res.body.arrayBuffer());
    } catch (err) {
      throw this.#networkError(x, err);
    }
  }

  #networkError(x: Exchange, err: unknown): unknown {
    if (x.signal?.aborted) return x.signal.reason;
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) {
      return new RegistryUnavailableError(this.#describe(x), `failed: ${code}`, err);
    }
    const causeCode = (err as { cause?: { code?: unknown } }).cause?.code;
    if (typeof causeCode === 'string' && NETWORK_CODES.has(causeCode)) {
      return new RegistryUnavailableError(this.#describe(x), `failed: ${causeCode}`, err);
    }
    return err;
  }

  /** Checks the status: a 5xx is REGISTRY_UNAVAILABLE, any other unexpected one REGISTRY_REJECTED. */
  async #expect(x: Exchange, res: Response, ok: readonly number[]): Promise<void> {
    if (ok.includes(res.statusCode)) return;
    const text = await res.body.text().catch(() => '');
    const exchange = { ...this.#describe(x), status: res.statusCode };
    if (res.statusCode >= 500 || res.statusCode === 429) {
      throw new RegistryUnavailableError(exchange, `answered HTTP ${res.statusCode}${text ? `: ${text.slice(0, 300).trim()}` : ''}`);
    }
    throw new RegistryRejectedError(exchange, text.slice(0, 500).trim());
  }

  #describe(x: Exchange): RegistryExchange {
    // Upload locations carry a signed state parameter: keep only the path in messages.
    return { registry: this.url, method: x.method, path: x.path.split('?')[0]! };
  }
}

function header(res: Response, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function mediaTypeOf(bytes: Uint8Array): string {
  try {
    const m = (JSON.parse(Buffer.from(bytes).toString('utf8')) as { mediaType?: unknown }).mediaType;
    return typeof m === 'string' ? m : '';
  } catch {
    return '';
  }
}

function checkRepo(repo: string): string {
  if (!REPOSITORY.test(repo)) throw new InvalidArgumentError(`invalid repository name ${JSON.stringify(repo)}`, { repo });
  return repo;
}

function checkDigest(digest: string): string {
  if (!DIGEST.test(digest)) throw new InvalidArgumentError(`invalid digest ${JSON.stringify(digest)} (want sha256:<64 hex>)`, { digest });
  return digest;
}

function checkRef(ref: string): string {
  if (!REFERENCE.test(ref)) throw new InvalidArgumentError(`invalid tag or digest ${JSON.stringify(ref)}`, { ref });
  return ref;
}

/**
 * What every response of the visualizer's server carries, and how requests are read: strict
 * security headers (the page runs no inline script and loads nothing from elsewhere), JSON
 * bodies and JSON errors `{ error: { code, message, status } }`, and bounded request bodies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ensureError, ErrorCode, SagaError } from '../../errors.js';

/**
 * `default-src 'self'`: scripts, styles, fetches and the event stream from this server only, no
 * inline script. Inline style is allowed: the chart SVG carries its own `<style>` element.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  // The page's URL holds the token, and every answer is live data: nothing is worth caching.
  'Cache-Control': 'no-store',
};

export const UiErrorCode = {
  Unauthorized: 'UNAUTHORIZED',
  NotFound: 'NOT_FOUND',
  MethodNotAllowed: 'METHOD_NOT_ALLOWED',
  BadRequest: 'BAD_REQUEST',
  BodyTooLarge: 'BODY_TOO_LARGE',
  UnknownBundle: 'UNKNOWN_BUNDLE',
  NoCoordinator: 'NO_COORDINATOR',
} as const;

export function httpError(code: string, status: number, message: string, details?: Record<string, unknown>): SagaError {
  return new SagaError(code, message, { status, ...(details ? { details } : {}) });
}

export function badRequest(message: string, details?: Record<string, unknown>): SagaError {
  return httpError(UiErrorCode.BadRequest, 400, message, details);
}

export function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(body)), ...extra });
  res.end(body);
}

export function sendJson(res: ServerResponse, value: unknown, status = 200): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

/** The error body of the contract; anything that is not a SagaError is INTERNAL (500). */
export function errorBody(e: unknown): { error: { code: string; message: string; status: number; details?: Record<string, unknown> } } {
  const err = ensureError(e);
  if (err instanceof SagaError) {
    const status = err.status >= 400 && err.status <= 599 ? err.status : 500;
    return { error: { code: err.code, message: err.message, status, ...(err.details ? { details: err.details } : {}) } };
  }
  return { error: { code: ErrorCode.Internal, message: err.message, status: 500 } };
}

export function sendError(res: ServerResponse, e: unknown): void {
  const body = errorBody(e);
  sendJson(res, body, body.error.status);
}

/**
 * The request body as text, at most `maxBytes` (413 BODY_TOO_LARGE beyond: the rest is read and
 * dropped so the client sees the answer rather than a reset, unless it goes on far past the limit).
 */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const tooLarge = (bytes: number): SagaError =>
    httpError(UiErrorCode.BodyTooLarge, 413, `request body is ${bytes > maxBytes ? `over ${maxBytes}` : bytes} bytes; at most ${maxBytes} bytes (${Math.round(maxBytes / 1024 / 1024)} MiB) are taken`, {
      maxBytes,
    });
  const declared = Number(req.headers['content-length']);
  const chunks: Buffer[] = [];
  let bytes = 0;
  let over = Number.isFinite(declared) && declared > maxBytes;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > maxBytes) over = true;
    if (over) {
      chunks.length = 0;
      // Reading a little more lets the client finish sending and read the 413; not gigabytes.
      if (bytes > 4 * maxBytes) {
        req.destroy();
        break;
      }
      continue;
    }
    chunks.push(chunk);
  }
  if (over) throw tooLarge(Number.isFinite(declared) ? Math.max(declared, bytes) : bytes);
  return Buffer.concat(chunks).toString('utf8');
}

/** A JSON request body (400 BAD_REQUEST when it is not JSON). */
export async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const text = await readBody(req, maxBytes);
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw badRequest(`request body is not JSON: ${(e as Error).message}`);
  }
}

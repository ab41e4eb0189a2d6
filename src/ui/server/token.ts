/**
 * The visualizer's access token: random per server start, printed once in the URL, required on
 * every request so that other users of the machine (any local process can reach 127.0.0.1)
 * cannot read sagas or drive them through it.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const TOKEN_HEADER = 'x-jetsaga-token';

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** The token a request carries: the header, else `?token=` (the page URL and the event stream). */
export function tokenOf(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers[TOKEN_HEADER];
  if (typeof header === 'string' && header !== '') return header;
  return url.searchParams.get('token') ?? undefined;
}

/** Compared in constant time (over digests, so that the length of a guess tells nothing either). */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

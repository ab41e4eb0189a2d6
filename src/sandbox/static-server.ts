/**
 * jetsaga's built-in static file server, for sites whose command is `['jetsaga-static']`: GET
 * and HEAD of files under one directory, `index.html` for directories, content types by
 * extension, 404 for what is not there. It runs as the sandbox's own child process
 * (`static-server-main.ts`), so it is stopped, logged and health-checked like any app.
 *
 * Paths never leave the directory: a request path is split into segments and each is decoded
 * on its own, so `..`, `%2e%2e`, encoded slashes (`%2f`, `%5c`) and NUL are refused (400)
 * before any file is touched; symlinks are followed only inside the directory.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import type { Logger } from '../log.js';
import { contentTypeOf } from './content-types.js';
import { resolveInRoot } from './resolve-in-root.js';

const HOST = '127.0.0.1';
const INDEX = 'index.html';

/** A request target split into decoded path segments, or why it is refused. */
export type RequestPath = { ok: true; segments: string[]; trailingSlash: boolean; query: string } | { ok: false; reason: string };

/**
 * Parses a request target (`/a/b%20c/?q`). Empty and `.` segments are dropped; `..` (however
 * encoded), a decoded `/` or `\`, NUL and malformed escapes refuse the whole path: resolving
 * them could only ever point somewhere the site did not link to.
 */
export function parseRequestPath(target: string): RequestPath {
  if (!target.startsWith('/')) return { ok: false, reason: 'the request target must be a path' };
  const q = target.search(/[?#]/);
  const pathname = q < 0 ? target : target.slice(0, q);
  const query = q < 0 || target[q] === '#' ? '' : target.slice(q).replace(/#.*$/, '');
  const segments: string[] = [];
  for (const raw of pathname.split('/')) {
    let part: string;
    try {
      part = decodeURIComponent(raw);
    } catch {
      return { ok: false, reason: 'malformed percent-encoding' };
    }
    if (part.includes('/') || part.includes('\\')) return { ok: false, reason: 'encoded slashes are not allowed' };
    if (part.includes('\0')) return { ok: false, reason: 'NUL is not allowed' };
    if (part === '..') return { ok: false, reason: '".." is not allowed' };
    if (part !== '' && part !== '.') segments.push(part);
  }
  return { ok: true, segments, trailingSlash: pathname.endsWith('/'), query };
}

/** A request handler serving the directory `root` (a real path: resolve symlinks first). */
export function createStaticHandler(root: string, logger?: Logger): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void serve(root, req, res).catch((err: unknown) => {
      logger?.error({ err, url: req.url }, 'static request failed');
      if (!res.headersSent) plain(res, req, 500, 'Internal Server Error');
      else res.destroy();
    });
  };
}

async function serve(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return plain(res, req, 405, 'Method Not Allowed');
  }
  const parsed = parseRequestPath(req.url ?? '');
  if (!parsed.ok) return plain(res, req, 400, `Bad Request: ${parsed.reason}`);
  const rel = parsed.segments.join('/');

  let file = await resolveInRoot(root, rel);
  let st = await stat(file).catch(() => undefined);
  if (st?.isDirectory()) {
    if (!parsed.trailingSlash) {
      // Relative links in the index resolve against the directory only with the slash. The
      // location is rebuilt from the checked segments, so `//host` cannot become a redirect
      // to another site.
      const dir = parsed.segments.map(encodeURIComponent).join('/');
      res.setHeader('Location', `${dir ? `/${dir}` : ''}/${parsed.query}`);
      return plain(res, req, 301, 'Moved Permanently');
    }
    file = await resolveInRoot(root, rel ? `${rel}/${INDEX}` : INDEX);
    st = await stat(file).catch(() => undefined);
  } else if (parsed.trailingSlash && st) {
    st = undefined; // a file asked for as a directory
  }
  if (!st?.isFile()) return plain(res, req, 404, 'Not Found');

  res.writeHead(200, {
    'Content-Type': contentTypeOf(file),
    'Content-Length': st.size,
    'Last-Modified': st.mtime.toUTCString(),
    'X-Content-Type-Options': 'nosniff',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  pipeline(createReadStream(file), res, () => undefined);
}

function plain(res: ServerResponse, req: IncomingMessage, status: number, text: string): void {
  const body = `${status} ${text}\n`;
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export interface StaticServer {
  readonly server: Server;
  readonly port: number;
  /** The directory served (its real path). */
  readonly root: string;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

/** Serves `root` on 127.0.0.1:`port` (0 picks a free port). Loopback only, always. */
export async function startStaticServer(options: { root: string; port: number; logger?: Logger }): Promise<StaticServer> {
  const root = await realpath(options.root);
  if (!(await stat(root)).isDirectory()) throw new Error(`${options.root} is not a directory`);
  const server = createServer(createStaticHandler(root, options.logger));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : options.port;
  return {
    server,
    port,
    root,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * The built-in static server, in process, over real HTTP on loopback. Requests are sent with
 * node:http, which sends the path exactly as given (fetch would normalise `/../` away before
 * the server ever saw it).
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentTypeOf } from '../../src/sandbox/content-types.js';
import { parseRequestPath, startStaticServer, type StaticServer } from '../../src/sandbox/static-server.js';
import { http } from '../fixtures/sandbox/http-get.js';

const SECRET = 'SECRET OUTSIDE THE SITE';
let base: string;
let server: StaticServer;
const get = (path: string, method = 'GET') => http(server.port, path, method);

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'jetsaga-static-test-'));
  const site = join(base, 'site');
  await writeFile(join(base, 'secret.txt'), SECRET);
  await mkdir(join(site, 'css'), { recursive: true });
  await mkdir(join(site, 'docs/guide'), { recursive: true });
  await mkdir(join(site, 'empty'), { recursive: true });
  await writeFile(join(site, 'index.html'), '<h1>home</h1>');
  await writeFile(join(site, 'css/site.css'), 'body{}');
  await writeFile(join(site, 'docs/guide/index.html'), '<h1>guide</h1>');
  await writeFile(join(site, 'logo.svg'), '<svg/>');
  await writeFile(join(site, 'data.json'), '{"a":1}');
  await writeFile(join(site, 'space name.txt'), 'spaced');
  await writeFile(join(site, 'blob.xyz'), 'raw');
  await symlink('css/site.css', join(site, 'style-link.css'));
  await symlink('../secret.txt', join(site, 'up-link.txt'));
  await symlink(join(base, 'secret.txt'), join(site, 'abs-link.txt'));
  server = await startStaticServer({ root: site, port: 0 });
});

afterAll(async () => {
  await server?.close();
  await rm(base, { recursive: true, force: true });
});

describe('static server: what it serves', () => {
  it('serves index.html for the root and for nested directories', async () => {
    const root = await get('/');
    expect(root).toMatchObject({ status: 200, body: '<h1>home</h1>' });
    expect(root.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(root.headers['x-content-type-options']).toBe('nosniff');
    expect(await get('/docs/guide/')).toMatchObject({ status: 200, body: '<h1>guide</h1>' });
    expect(await get('/index.html?v=3')).toMatchObject({ status: 200, body: '<h1>home</h1>' });
  });

  it('redirects a directory without its slash, keeping the query', async () => {
    const res = await get('/docs/guide?x=1');
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/docs/guide/?x=1');
    // "//" cannot turn the redirect into one to another host.
    const sneaky = await get('//docs');
    expect(sneaky.status).toBe(301);
    expect(sneaky.headers.location).toBe('/docs/');
  });

  it('serves nested files with their content type and length', async () => {
    const css = await get('/css/site.css');
    expect(css).toMatchObject({ status: 200, body: 'body{}' });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['content-length']).toBe('6');
    expect(css.headers['last-modified']).toMatch(/GMT$/);
    expect((await get('/logo.svg')).headers['content-type']).toBe('image/svg+xml');
    expect((await get('/data.json')).headers['content-type']).toBe('application/json');
    expect((await get('/blob.xyz')).headers['content-type']).toBe('application/octet-stream');
    expect(await get('/space%20name.txt')).toMatchObject({ status: 200, body: 'spaced' });
    expect(await get('/style-link.css')).toMatchObject({ status: 200, body: 'body{}' });
  });

  it('answers HEAD with the GET headers and no body', async () => {
    const head = await get('/css/site.css', 'HEAD');
    expect(head).toMatchObject({ status: 200, body: '' });
    expect(head.headers['content-length']).toBe('6');
    expect(head.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(await get('/missing', 'HEAD')).toMatchObject({ status: 404, body: '' });
  });

  it('404s what is not there, a directory without index, and a file asked for as a directory', async () => {
    expect(await get('/missing.html')).toMatchObject({ status: 404, body: '404 Not Found\n' });
    expect((await get('/empty/')).status).toBe(404);
    expect((await get('/css/site.css/')).status).toBe(404);
    expect((await get('/docs/guide/missing/deeper')).status).toBe(404);
  });

  it('refuses other methods with 405 and Allow', async () => {
    const res = await get('/', 'POST');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
  });
});

describe('static server: no path traversal', () => {
  const attempts = [
    '/../secret.txt',
    '/css/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E/secret.txt',
    '/.%2e/secret.txt',
    '/css/%2e%2e/%2e%2e/secret.txt',
    '/..%2fsecret.txt',
    '/css%2f..%2f..%2fsecret.txt',
    '/%2e%2e%2fsecret.txt',
    '/..%5csecret.txt',
    '/css/..\\..\\secret.txt',
    '/%252e%252e/secret.txt',
    '/secret.txt%00.html',
    '/%zz',
  ];
  for (const path of attempts) {
    it(`does not serve ${path}`, async () => {
      const res = await get(path);
      expect(res.body).not.toContain(SECRET);
      expect([400, 404]).toContain(res.status);
    });
  }

  it('answers 400 for what decodes to "..", a slash, a backslash or NUL, and for bad escapes', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/..%5csecret.txt', '/a%00', '/%zz']) {
      expect((await get(path)).status, path).toBe(400);
    }
  });

  it('follows no symlink out of the site', async () => {
    // Both links exist; resolved inside the site they point at nothing.
    expect(await get('/up-link.txt')).toMatchObject({ status: 404 });
    expect(await get('/abs-link.txt')).toMatchObject({ status: 404 });
  });
});

describe('parseRequestPath', () => {
  it('splits and decodes segments, drops empty and "." ones, keeps the query', () => {
    expect(parseRequestPath('/a//b/./c%20d/?q=1#frag')).toEqual({ ok: true, segments: ['a', 'b', 'c d'], trailingSlash: true, query: '?q=1' });
    expect(parseRequestPath('/x#only-fragment')).toEqual({ ok: true, segments: ['x'], trailingSlash: false, query: '' });
    expect(parseRequestPath('http://other/x')).toMatchObject({ ok: false });
    expect(parseRequestPath('/%2e%2e')).toEqual({ ok: false, reason: '".." is not allowed' });
  });

  it('knows the common content types', () => {
    expect(contentTypeOf('A.HTML')).toBe('text/html; charset=utf-8');
    expect(contentTypeOf('app.mjs')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeOf('font.woff2')).toBe('font/woff2');
    expect(contentTypeOf('Makefile')).toBe('application/octet-stream');
  });
});

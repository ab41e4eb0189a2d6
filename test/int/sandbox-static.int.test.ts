/**
 * `['jetsaga-static']` sandboxes: the built-in static server as a child process of the
 * controller, run from TypeScript under tsx (as in these tests) and from compiled JavaScript
 * (as after `npm run build`), serving the fixture site in rootfs/site.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readFile, realpath, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import type { ProgramArgv } from '../../src/sandbox/static-command.js';
import { ROOTFS, staticSite } from '../fixtures/sandbox/apps.js';
import { http } from '../fixtures/sandbox/http-get.js';
import { gone, tempDir, useController } from '../fixtures/sandbox/sandbox-harness.js';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const NODE_MODULES = fileURLToPath(new URL('../../node_modules', import.meta.url));

function cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

describe('jetsaga-static', () => {
  it('serves the site of a sandbox: index, nested files, redirects, 404, HEAD, and no way out', async (ctx) => {
    const { controller, logDir } = await useController(ctx);
    const handle = await controller.start(staticSite('site'));
    const index = await http(handle.port, '/');
    expect(index.status).toBe(200);
    expect(index.body).toBe(await readFile(join(ROOTFS, 'site/index.html'), 'utf8'));
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');

    const css = await http(handle.port, '/css/site.css');
    expect(css).toMatchObject({ status: 200, body: 'body { font-family: sans-serif; }\n' });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await http(handle.port, '/img/logo.svg')).headers['content-type']).toBe('image/svg+xml');
    expect(await http(handle.port, '/info.json')).toMatchObject({ status: 200, body: '{"name":"fixture","version":1}\n' });
    expect(await http(handle.port, '/docs/guide')).toMatchObject({ status: 301, headers: { location: '/docs/guide/' } });
    expect((await http(handle.port, '/docs/guide/')).body).toContain('<h1>The guide</h1>');
    expect((await http(handle.port, '/nope.html')).status).toBe(404);
    const head = await http(handle.port, '/css/site.css', 'HEAD');
    expect(head).toMatchObject({ status: 200, body: '' });
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(css.body)));

    // rootfs/secret.txt sits right next to the site.
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/css%2f..%2f..%2fsecret.txt', '/.%2E/secret.txt']) {
      const res = await http(handle.port, path);
      expect(res.status, path).toBe(400);
      expect(res.body).not.toContain('SECRET');
    }

    // Run from sources, it is the TypeScript entry under tsx.
    expect(cmdline(handle.pid).some((a) => a.endsWith('/static-server-main.ts'))).toBe(true);
    expect(await readFile(join(logDir, 'site.log'), 'utf8')).toContain('"msg":"serving static files"');
    await controller.stop('site');
    expect(gone(handle.pid)).toBe(true);
    // SIGTERM is a clean stop for it.
    expect(await readFile(join(logDir, 'site.log'), 'utf8')).toContain('"signal":"SIGTERM","msg":"stopping"');
  });

  it('runs as compiled JavaScript without tsx', async (ctx) => {
    // The modules the static server is made of, transpiled as `npm run build` would, into a
    // tree of their own that finds the dependencies (pino) through a node_modules link.
    const out = await tempDir('jetsaga-static-build-');
    await writeFile(join(out, 'package.json'), '{"type":"module"}');
    await symlink(NODE_MODULES, join(out, 'node_modules'));
    const modules = ['log', 'errors', 'sandbox/static-command', 'sandbox/static-server-main', 'sandbox/static-server', 'sandbox/content-types', 'sandbox/resolve-in-root'];
    for (const m of modules) {
      const source = await readFile(join(SRC, `${m}.ts`), 'utf8');
      const { outputText } = ts.transpileModule(source, {
        fileName: `${m}.ts`,
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
      });
      await mkdir(dirname(join(out, 'src', `${m}.js`)), { recursive: true });
      await writeFile(join(out, 'src', `${m}.js`), outputText);
    }
    const compiled = (await import(pathToFileURL(join(out, 'src/sandbox/static-command.js')).href)) as {
      staticServerCommand(dir: string): ProgramArgv;
    };
    const site = await realpath(join(ROOTFS, 'site'));
    const argv = compiled.staticServerCommand(site);
    expect(argv).toEqual({ bin: process.execPath, args: [join(await realpath(out), 'src/sandbox/static-server-main.js'), site] });

    const { controller } = await useController(ctx);
    const handle = await controller.start({ ...staticSite('compiled'), command: [argv.bin, ...argv.args] });
    expect(await http(handle.port, '/')).toMatchObject({ status: 200 });
    expect((await http(handle.port, '/css/site.css')).headers['content-type']).toBe('text/css; charset=utf-8');
    expect(cmdline(handle.pid).join(' ')).not.toContain('tsx');
  });
});

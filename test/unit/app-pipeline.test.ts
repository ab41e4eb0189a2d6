/**
 * The pieces together, in the order the build saga runs them, on a small Node app as a user
 * would write it: app.toml and the Procfile read, the stack detected, the build commands run,
 * the config prepared, and the web process they decide started for real (on a loopback port)
 * until its health path answers with what the build and the config gave it.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { loadAppConfig } from '../../src/build/app/app-config.js';
import { planOnbuild } from '../../src/build/app/onbuild-plan.js';
import { runOnbuild } from '../../src/build/app/onbuild.js';
import { prepareConfig } from '../../src/build/app/prepare-config.js';
import { signalGroup } from '../../src/build/app/process-group.js';
import { readProcfile } from '../../src/build/app/procfile.js';
import { detectStack } from '../../src/build/app/stack.js';
import { decideWebProcess } from '../../src/build/app/web-process.js';
import { makeTree, removeTrees } from '../fixtures/apps/temp-tree.js';

const shop = {
  'app.toml': [
    'name = "shop"',
    '',
    '[build]',
    'onbuild = [',
    '  "mkdir -p dist",',
    '  "cp server.js dist/server.js",',
    '  "echo built > dist/BUILD",',
    ']',
    'timeout = 60',
    '',
    '[run]',
    'health = "/healthz"',
    '',
    '[env]',
    'GREETING = "hello"',
    '',
    '[require]',
    'env = ["DATABASE_URL"]',
  ].join('\n'),
  Procfile: '# the built server, not the source one\nweb: node dist/server.js\nworker: node worker.js\n',
  'package.json': JSON.stringify({ name: 'shop', private: true, scripts: { start: 'node server.js' } }),
  'server.js': [
    "const http = require('node:http');",
    "const build = require('node:fs').readFileSync(require('node:path').join(__dirname, 'BUILD'), 'utf8').trim();",
    'http.createServer((req, res) => {',
    "  const ok = req.url === '/healthz';",
    '  res.writeHead(ok ? 200 : 404);',
    "  res.end(ok ? `${process.env.GREETING} ${build} ${process.env.DATABASE_URL}` : 'not found');",
    "}).listen(Number(process.env.PORT), '127.0.0.1');",
  ].join('\n'),
};

const groups: number[] = [];
afterEach(async () => {
  for (const g of groups.splice(0)) signalGroup(g, 'SIGKILL');
  await removeTrees();
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function get(port: number, path: string): Promise<{ status: number; body: string } | null> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve(null));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

describe('from staged source to a running web process', () => {
  it('builds and runs the shop app the way its files say', async () => {
    const dir = await makeTree(shop);
    const config = await loadAppConfig(dir);
    const procfile = await readProcfile(dir);
    const stack = await detectStack(dir, config, { procfile });
    expect(stack).toMatchObject({ name: 'node', reason: 'package.json', defaultWeb: ['npm', 'start'] });

    const plan = planOnbuild(config, stack);
    expect(plan).toEqual({ commands: ['mkdir -p dist', 'cp server.js dist/server.js', 'echo built > dist/BUILD'], source: 'app.toml', timeoutSec: 60 });
    const built = await runOnbuild({ dir, commands: plan.commands, timeoutSec: plan.timeoutSec, env: config.env });
    expect(built.ran).toHaveLength(3);

    const web = decideWebProcess({ config, procfile, stack });
    expect(web).toEqual({ argv: ['sh', '-c', 'node dist/server.js'], source: 'Procfile', from: 'Procfile line 2' });

    await expect(prepareConfig({ config, appName: 'shop', services: [] })).rejects.toMatchObject({
      message: 'app.toml:18: require.env[0] names DATABASE_URL, which has no value: set it in [env] or in the deploy request (as env or as a secret)',
    });
    const prepared = await prepareConfig({ config, appName: 'shop', services: [], requestEnv: { DATABASE_URL: 'postgres://127.0.0.1/shop' } });

    // What the sandbox will do with it: run argv in the dir with the env and a PORT.
    const port = await freePort();
    const [file, ...args] = web.argv;
    const child = spawn(file!, args, { cwd: dir, env: { PATH: process.env.PATH, ...prepared.env, PORT: String(port) }, stdio: 'ignore', detached: true });
    groups.push(child.pid!);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let answer: Awaited<ReturnType<typeof get>> = null;
    for (let i = 0; i < 400 && answer === null && child.exitCode === null; i++) {
      answer = await get(port, prepared.health);
      if (answer === null) await sleep(25);
    }
    expect(answer).toEqual({ status: 200, body: 'hello built postgres://127.0.0.1/shop' });
    signalGroup(child.pid!, 'SIGKILL');
    await exited;
  }, 30_000);
});

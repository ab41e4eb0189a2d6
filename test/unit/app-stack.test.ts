/**
 * detectStack: which stack each kind of source tree is, with what default build commands
 * and web process; app.toml's `stack` and `[run] web` winning over detection; and the error
 * for a tree nothing recognises.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AppConfigError } from '../../src/build/app/app-config-error.js';
import { parseAppConfig, DEFAULT_APP_CONFIG } from '../../src/build/app/app-config.js';
import { parseProcfile } from '../../src/build/app/procfile.js';
import { detectStack } from '../../src/build/app/stack.js';
import { makeTree, removeTrees, type TreeEntry } from '../fixtures/apps/temp-tree.js';

afterEach(removeTrees);

const pkg = (fields: Record<string, unknown>): string => JSON.stringify(fields, null, 2);
const detect = async (files: Record<string, TreeEntry>, appToml?: string) =>
  detectStack(await makeTree(files), appToml === undefined ? DEFAULT_APP_CONFIG : parseAppConfig(appToml));

describe('detectStack: the matrix', () => {
  it.each<{ what: string; files: Record<string, TreeEntry>; stack: Record<string, unknown> }>([
    {
      what: 'node with a start script and a lockfile: npm ci without dev deps, npm start',
      files: { 'package.json': pkg({ scripts: { start: 'node s.js' }, dependencies: { a: '1' } }), 'package-lock.json': '{}' },
      stack: { name: 'node', reason: 'package.json', defaultWeb: ['npm', 'start'], defaultWebFrom: 'scripts.start in package.json', defaultOnbuild: ['npm ci --omit=dev'] },
    },
    {
      what: 'node with a build script and dev deps: install all, build, prune',
      files: { 'package.json': pkg({ scripts: { build: 'tsc' }, main: './dist/main.js', dependencies: { a: '1' }, devDependencies: { tsc: '1' } }), 'dist/main.js': '' },
      stack: { name: 'node', defaultWeb: ['node', 'dist/main.js'], defaultWebFrom: 'main in package.json', defaultOnbuild: ['npm install', 'npm run build', 'npm prune --omit=dev'] },
    },
    {
      what: 'node with a committed node_modules: nothing installed; server.js',
      files: { 'package.json': pkg({ dependencies: { a: '1' } }), 'node_modules/a/index.js': '', 'server.js': '', 'index.js': '' },
      stack: { name: 'node', defaultWeb: ['node', 'server.js'], defaultOnbuild: [] },
    },
    {
      what: 'node whose main is missing or leaves the tree: index.js',
      files: { 'package.json': pkg({ main: '../../etc/passwd' }), 'index.js': '' },
      stack: { name: 'node', defaultWeb: ['node', 'index.js'], defaultOnbuild: [] },
    },
    {
      what: 'node without anything to run',
      files: { 'package.json': '{}', 'lib.js': '' },
      stack: { name: 'node', defaultOnbuild: [] },
    },
    {
      what: 'python with requirements.txt and app.py: pip into the app, PYTHONPATH',
      files: { 'requirements.txt': 'flask\n', 'app.py': '' },
      stack: {
        name: 'python',
        reason: 'requirements.txt, app.py',
        defaultWeb: ['env', 'PYTHONPATH=.python-packages', 'python3', 'app.py'],
        defaultOnbuild: ['python3 -m pip install --no-cache-dir --target .python-packages -r requirements.txt'],
      },
    },
    {
      what: 'python with only app.py: no install',
      files: { 'app.py': 'print(1)' },
      stack: { name: 'python', reason: 'app.py', defaultWeb: ['python3', 'app.py'], defaultOnbuild: [] },
    },
    {
      what: 'python with a [project] pyproject.toml and main.py',
      files: { 'pyproject.toml': '[project]\nname = "x"\ndependencies = []\n', 'main.py': '' },
      stack: { name: 'python', reason: 'pyproject.toml', defaultWeb: ['env', 'PYTHONPATH=.python-packages', 'python3', 'main.py'] },
    },
    {
      what: 'python with a tool-only pyproject.toml: nothing to install, no web',
      files: { 'pyproject.toml': '[tool.ruff]\nline-length = 100\n' },
      stack: { name: 'python', defaultOnbuild: [] },
    },
    {
      what: 'go',
      files: { 'go.mod': 'module x\n', 'main.go': 'package main' },
      stack: { name: 'go', reason: 'go.mod', defaultWeb: ['./app'], defaultOnbuild: ['go build -o app .'] },
    },
    {
      what: 'ruby with Gemfile and config.ru: bundler into vendor/bundle, rackup on loopback',
      files: { Gemfile: "source 'x'", 'config.ru': 'run X' },
      stack: {
        name: 'ruby',
        reason: 'Gemfile, config.ru',
        defaultWeb: ['sh', '-c', 'exec bundle exec rackup --host 127.0.0.1 --port "$PORT"'],
        defaultOnbuild: ['bundle config set --local path vendor/bundle', 'bundle install'],
      },
    },
    {
      what: 'ruby with config.ru only',
      files: { 'config.ru': 'run X' },
      stack: { name: 'ruby', defaultWeb: ['sh', '-c', 'exec rackup --host 127.0.0.1 --port "$PORT"'], defaultOnbuild: [] },
    },
    {
      what: 'ruby with a Gemfile and app.rb',
      files: { Gemfile: '', 'app.rb': '' },
      stack: { name: 'ruby', defaultWeb: ['bundle', 'exec', 'ruby', 'app.rb'] },
    },
    {
      what: 'static: index.html and nothing else recognised',
      files: { 'index.html': '<h1>hi</h1>', 'style.css': '' },
      stack: { name: 'static', reason: 'index.html', defaultWeb: ['jetsaga-static'], defaultOnbuild: [] },
    },
  ])('$what', async ({ files, stack }) => {
    expect(await detect(files)).toMatchObject(stack);
  });

  it('prefers node to the others and says what else it found', async () => {
    const stack = await detect({ 'package.json': '{}', 'requirements.txt': '', 'index.html': '', 'server.js': '' });
    expect(stack.name).toBe('node');
    expect(stack.reason).toBe('package.json (also found requirements.txt (python); index.html (static); set stack in app.toml to choose another)');
  });

  it('does not take a marker that is a directory for a file', async () => {
    expect((await detect({ 'package.json': { dir: true }, 'go.mod': '' })).name).toBe('go');
  });
});

describe('detectStack: app.toml wins', () => {
  it('an explicit stack skips detection and gets that stack’s defaults', async () => {
    const stack = await detect({ 'package.json': '{}', 'index.html': '' }, 'stack = "static"\n');
    expect(stack).toEqual({ name: 'static', reason: 'app.toml stack = "static"', defaultWeb: ['jetsaga-static'], defaultWebFrom: 'the static stack (index.html)', defaultOnbuild: [] });
  });

  it('a tree no stack recognises is a custom app when app.toml or the Procfile names its web process', async () => {
    expect(await detect({ 'run.sh': '' }, '[run]\nweb = "./run.sh"\n')).toEqual({ name: 'custom', reason: 'app.toml [run] web', defaultOnbuild: [] });
    expect(await detect({ 'run.sh': '', Procfile: 'web: ./run.sh\n' })).toEqual({ name: 'custom', reason: 'Procfile web', defaultOnbuild: [] });
    const dir = await makeTree({ 'run.sh': '' });
    const given = await detectStack(dir, DEFAULT_APP_CONFIG, { procfile: parseProcfile('web: ./run.sh') });
    expect(given.name).toBe('custom');
  });

  it('a tree nothing recognises and nothing runs is an error saying what was looked for', async () => {
    const e = await detect({ 'README.md': '', Procfile: 'worker: ./w\n' }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(AppConfigError);
    expect((e as AppConfigError).message).toBe(
      'app.toml: stack is not set and no stack was recognised: found none of package.json (node); requirements.txt, pyproject.toml, app.py (python); ' +
        'go.mod (go); Gemfile, config.ru (ruby); index.html (static) at the top of the source; ' +
        'set stack or [run] web in app.toml, or add a Procfile with a "web:" line',
    );
  });

  it('a broken package.json is an error naming it and its line', async () => {
    const e = await detect({ 'package.json': '{\n  "name": "x"\n  "main": "a.js"\n}\n' }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(AppConfigError);
    expect((e as AppConfigError).details).toMatchObject({ file: 'package.json', line: 3 });
    expect((e as AppConfigError).message).toMatch(/^package\.json:3: is not valid JSON: /);
    await expect(detect({ 'package.json': '[1, 2]' })).rejects.toMatchObject({ message: 'package.json: must hold a JSON object' });
  });
});

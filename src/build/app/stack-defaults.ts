/**
 * What each stack does when the app does not say: its default build commands and web
 * process. The defaults only use tools the stack's runtime ships with (npm, pip, go, bundler)
 * and install dependencies *inside* the app dir, because the image is the app dir: anything
 * written to $HOME during the build is scratch and gone afterwards (see onbuild.ts).
 */
import { parse } from 'smol-toml';
import type { StackName } from './app-config-schema.js';
import { insidePath, type AppRoot } from './app-root.js';
import { readPackageJson } from './package-json.js';
import { readAppFile } from './read-app-file.js';

/** A stack's defaults for one app. */
export interface StackDefaults {
  /** The web process as argv, when the stack knows one for this app. */
  readonly defaultWeb?: readonly string[];
  /** Where `defaultWeb` came from, for messages: `scripts.start in package.json`. */
  readonly defaultWebFrom?: string;
  /** Shell commands to build the app; empty when there is nothing to do. */
  readonly defaultOnbuild: readonly string[];
}

/** The argv of the sandbox's built-in static file server (the sandbox runtime knows it). */
export const STATIC_SERVER_ARGV: readonly string[] = ['jetsaga-static'];

/** Where the python stack installs dependencies: inside the app, relocatable (no venv paths). */
export const PYTHON_PACKAGES_DIR = '.python-packages';

/** The defaults of `stack` for the app at `root`. */
export async function stackDefaults(stack: StackName, root: AppRoot): Promise<StackDefaults> {
  switch (stack) {
    case 'node':
      return nodeDefaults(root);
    case 'python':
      return pythonDefaults(root);
    case 'go':
      return { defaultWeb: ['./app'], defaultWebFrom: 'the go stack (the binary built by onbuild)', defaultOnbuild: ['go build -o app .'] };
    case 'ruby':
      return rubyDefaults(root);
    case 'static':
      return { defaultWeb: STATIC_SERVER_ARGV, defaultWebFrom: 'the static stack (index.html)', defaultOnbuild: [] };
  }
}

/**
 * node: dependencies with npm (`ci` when a lockfile pins them, else `install`), then
 * `npm run build` if there is a build script, then dev dependencies pruned — the build
 * script usually needs them, the running app does not. A committed node_modules is used as
 * is. Web: `npm start` if there is a start script, else `node <main>`, `node server.js` or
 * `node index.js`, the first that exists.
 */
async function nodeDefaults(root: AppRoot): Promise<StackDefaults> {
  const pkg = await readPackageJson(root.dir);
  const onbuild: string[] = [];
  const install = (pkg?.hasDependencies || pkg?.hasDevDependencies) && !root.hasDir('node_modules');
  const locked = root.hasFile('package-lock.json') || root.hasFile('npm-shrinkwrap.json');
  if (install) onbuild.push(`${locked ? 'npm ci' : 'npm install'}${pkg?.buildScript ? '' : ' --omit=dev'}`);
  if (pkg?.buildScript) {
    onbuild.push('npm run build');
    if (pkg.hasDevDependencies && install) onbuild.push('npm prune --omit=dev');
  }
  if (pkg?.startScript) return { defaultWeb: ['npm', 'start'], defaultWebFrom: 'scripts.start in package.json', defaultOnbuild: onbuild };
  const main = pkg?.main === undefined ? null : insidePath(pkg.main);
  if (main !== null && (await root.exists(main))) return { defaultWeb: ['node', main], defaultWebFrom: 'main in package.json', defaultOnbuild: onbuild };
  for (const file of ['server.js', 'index.js']) {
    if (root.hasFile(file)) return { defaultWeb: ['node', file], defaultWebFrom: `the node stack (${file})`, defaultOnbuild: onbuild };
  }
  return { defaultOnbuild: onbuild };
}

/**
 * python: requirements.txt (or a pyproject.toml with a [project] table) installed with pip
 * into `.python-packages` inside the app — `--target` is relocatable where a venv's absolute
 * paths are not — and put on PYTHONPATH by the web command. Web: `python3 app.py` (or
 * `main.py`); a WSGI/ASGI server would be a dependency, so it is the app's to name.
 */
async function pythonDefaults(root: AppRoot): Promise<StackDefaults> {
  const pip = `python3 -m pip install --no-cache-dir --target ${PYTHON_PACKAGES_DIR}`;
  let onbuild: string[] = [];
  if (root.hasFile('requirements.txt')) onbuild = [`${pip} -r requirements.txt`];
  else if (await declaresPythonProject(root)) onbuild = [`${pip} .`];
  const script = ['app.py', 'main.py'].find((f) => root.hasFile(f));
  if (script === undefined) return { defaultOnbuild: onbuild };
  const argv = onbuild.length > 0 ? ['env', `PYTHONPATH=${PYTHON_PACKAGES_DIR}`, 'python3', script] : ['python3', script];
  return { defaultWeb: argv, defaultWebFrom: `the python stack (${script})`, defaultOnbuild: onbuild };
}

/** A pyproject.toml that only configures tools (ruff, black) is not a package pip can install. */
async function declaresPythonProject(root: AppRoot): Promise<boolean> {
  if (!root.hasFile('pyproject.toml')) return false;
  const text = await readAppFile(root.dir, 'pyproject.toml', 1024 * 1024);
  try {
    const doc = parse(text ?? '');
    return typeof doc.project === 'object' && doc.project !== null;
  } catch {
    // Not ours to judge: pip would report it. Without a [project] we install nothing.
    return false;
  }
}

/**
 * ruby: gems with bundler into vendor/bundle (recorded in .bundle/config, relative, so the
 * tree stays relocatable). Web: `rackup` on loopback and $PORT for a config.ru, else
 * `ruby app.rb`; through `bundle exec` when there is a Gemfile.
 */
function rubyDefaults(root: AppRoot): StackDefaults {
  const bundled = root.hasFile('Gemfile');
  const onbuild = bundled ? ['bundle config set --local path vendor/bundle', 'bundle install'] : [];
  const exec = bundled ? 'bundle exec ' : '';
  if (root.hasFile('config.ru')) {
    return {
      defaultWeb: ['sh', '-c', `exec ${exec}rackup --host 127.0.0.1 --port "$PORT"`],
      defaultWebFrom: 'the ruby stack (config.ru)',
      defaultOnbuild: onbuild,
    };
  }
  if (root.hasFile('app.rb')) {
    return { defaultWeb: [...(bundled ? ['bundle', 'exec'] : []), 'ruby', 'app.rb'], defaultWebFrom: 'the ruby stack (app.rb)', defaultOnbuild: onbuild };
  }
  return { defaultOnbuild: onbuild };
}

/**
 * loadAppConfig / parseAppConfig: valid files give the config with its defaults; every kind
 * of invalid file gives an AppConfigError whose message and details name the key and the
 * line the user has to fix.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AppConfigError, APP_CONFIG_INVALID } from '../../src/build/app/app-config-error.js';
import { DEFAULT_APP_CONFIG, loadAppConfig, parseAppConfig } from '../../src/build/app/app-config.js';
import { APP_DIR_MISSING } from '../../src/build/app/read-app-file.js';
import { SagaError, serializeError } from '../../src/errors.js';
import { makeTree, removeTrees } from '../fixtures/apps/temp-tree.js';

afterEach(removeTrees);

/** The AppConfigError `fn` throws. */
function configError(fn: () => unknown): AppConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AppConfigError) return e;
    throw e;
  }
  throw new Error('expected an AppConfigError');
}

const toml = (lines: string[]): string => lines.join('\n') + '\n';

describe('valid app.toml', () => {
  it('reads every key and fills the defaults of the ones left out', () => {
    const config = parseAppConfig(
      toml([
        'name = "shop"',
        'stack = "node"',
        '[build]',
        'onbuild = ["npm ci --omit=dev", "npm run build"]',
        '[run]',
        'web = "node server.js"',
        'health = "/healthz"',
        'port = 8080',
        '[env]',
        'NODE_ENV = "production"',
        '_PRIVATE = ""',
        '[require]',
        'env = ["DATABASE_URL"]',
        'services = ["postgres"]',
      ]),
    );
    expect(config).toEqual({
      name: 'shop',
      stack: 'node',
      build: { onbuild: ['npm ci --omit=dev', 'npm run build'], timeout: 600 },
      run: { web: 'node server.js', health: '/healthz', port: 8080 },
      env: { NODE_ENV: 'production', _PRIVATE: '' },
      require: { env: ['DATABASE_URL'], services: ['postgres'] },
      source: 'app.toml',
      lines: { name: 1, stack: 2, 'run.web': 6, 'run.port': 8, 'require.env[0]': 13, 'require.services[0]': 14 },
    });
    // It is journaled: JSON round-trips it unchanged.
    expect(JSON.parse(JSON.stringify(config))).toEqual(config);
  });

  it('gives the defaults for an empty file, and tells an empty onbuild from an absent one', () => {
    expect(parseAppConfig('')).toEqual({ ...DEFAULT_APP_CONFIG, source: 'app.toml' });
    expect(parseAppConfig('# only a comment\n').build).toEqual({ timeout: 600 });
    expect(parseAppConfig('[build]\nonbuild = []\ntimeout = 3600\n').build).toEqual({ onbuild: [], timeout: 3600 });
  });

  it('accepts dotted keys, inline tables, multi-line arrays and an argv web process', () => {
    const config = parseAppConfig(
      toml([
        'build.timeout = 1',
        'run = { web = ["node", "server.js"], health = "/" }',
        'env = { A = "1", B_2 = "two" }',
        '[require]',
        'env = [',
        '  "A",  # the first',
        '  "B_2",',
        ']',
      ]),
    );
    expect(config.build).toEqual({ timeout: 1 });
    expect(config.run).toEqual({ web: ['node', 'server.js'], health: '/' });
    expect(config.env).toEqual({ A: '1', B_2: 'two' });
    expect(config.require.env).toEqual(['A', 'B_2']);
    expect(config.lines).toMatchObject({ 'run.web': 2, 'require.env[0]': 6, 'require.env[1]': 7 });
  });

  it('reads dir/app.toml, and gives the defaults when there is none', async () => {
    const withFile = await makeTree({ 'app.toml': '\uFEFFname = "shop"\r\n[build]\r\ntimeout = 30\r\n' });
    expect(await loadAppConfig(withFile)).toMatchObject({ name: 'shop', build: { timeout: 30 }, source: 'app.toml' });
    const without = await makeTree({ 'package.json': '{}' });
    expect(await loadAppConfig(without)).toEqual(DEFAULT_APP_CONFIG);
    expect((await loadAppConfig(without)).source).toBe('defaults');
  });
});

describe('invalid app.toml: the message names the line and the key', () => {
  const cases: Array<{ what: string; lines: string[]; message: string; key?: string; line: number }> = [
    {
      what: 'a wrong type in a multi-line array of mixed types',
      lines: ['[build]', 'onbuild = [', '  "npm ci",', '', '  7,', ']'],
      message: 'app.toml:5: build.onbuild[1] must be a string, found the integer 7',
      key: 'build.onbuild[1]',
      line: 5,
    },
    {
      what: 'a string where an array is expected',
      lines: ['[build]', 'timeout = 60', 'onbuild = "npm ci"'],
      message: 'app.toml:3: build.onbuild must be an array of strings (shell commands), found "npm ci"',
      key: 'build.onbuild',
      line: 3,
    },
    {
      what: 'a quoted number where an integer is expected',
      lines: ['[build]', 'timeout = "600"'],
      message: 'app.toml:2: build.timeout must be an integer number of seconds, found "600"',
      key: 'build.timeout',
      line: 2,
    },
    {
      what: 'a float timeout',
      lines: ['build.timeout = 1.5'],
      message: 'app.toml:1: build.timeout must be an integer number of seconds, found the float 1.5',
      key: 'build.timeout',
      line: 1,
    },
    {
      what: 'a timeout above the maximum',
      lines: ['name = "a"', '', '[build]', 'timeout = 7200 # two hours'],
      message: 'app.toml:4: build.timeout must be at most 3600 (seconds), found the integer 7200',
      key: 'build.timeout',
      line: 4,
    },
    {
      what: 'a zero timeout',
      lines: ['[build]', 'timeout = 0'],
      message: 'app.toml:2: build.timeout must be at least 1 (seconds), found the integer 0',
      key: 'build.timeout',
      line: 2,
    },
    {
      what: 'an unknown top-level key close to a known one',
      lines: ['name = "shop"', 'stak = "node"'],
      message: 'app.toml:2: stak is not a known key at the top level; did you mean "stack"?',
      key: 'stak',
      line: 2,
    },
    {
      what: 'an unknown key in [build]',
      lines: ['[build]', 'onbuild = []', 'commands = ["make"]'],
      message: 'app.toml:3: build.commands is not a known key in [build] (known: onbuild, base, timeout)',
      key: 'build.commands',
      line: 3,
    },
    {
      what: 'an unknown key in an inline [run] table',
      lines: ['', 'run = { web = "x", healthcheck = "/" }'],
      message: 'app.toml:2: run.healthcheck is not a known key in [run] (known: web, health, port)',
      key: 'run.healthcheck',
      line: 2,
    },
    {
      what: 'an unknown key in [require] given as a dotted key',
      lines: ['name = "shop"', 'require.services = []', 'require.volumes = ["data"]'],
      message: 'app.toml:3: require.volumes is not a known key in [require] (known: env, services)',
      key: 'require.volumes',
      line: 3,
    },
    {
      what: 'a lower-case env name',
      lines: ['[env]', 'NODE_ENV = "production"', 'node_env = "production"'],
      message: 'app.toml:3: env.node_env is not a valid environment variable name (A–Z, 0–9 and _, not starting with a digit)',
      key: 'env.node_env',
      line: 3,
    },
    {
      what: 'an env name starting with a digit',
      lines: ['[env]', '1ST = "x"'],
      message: 'app.toml:2: env.1ST is not a valid environment variable name (A–Z, 0–9 and _, not starting with a digit)',
      key: 'env.1ST',
      line: 2,
    },
    {
      what: 'an env name with a space (a quoted key, quoted back in the message)',
      lines: ['env."MY VAR" = "x"'],
      message: 'app.toml:1: env."MY VAR" is not a valid environment variable name (A–Z, 0–9 and _, not starting with a digit)',
      key: 'env."MY VAR"',
      line: 1,
    },
    {
      what: 'an env value that is not a string',
      lines: ['[env]', 'WORKERS = 4'],
      message: 'app.toml:2: env.WORKERS must be a string (quote numbers and booleans: "1", "true"), found the integer 4',
      key: 'env.WORKERS',
      line: 2,
    },
    {
      what: 'PORT in [env]',
      lines: ['[env]', 'PORT = "3000"'],
      message: 'app.toml:2: env.PORT is set by the sandbox to the port the web process must listen on; use [run] port to pin one',
      key: 'env.PORT',
      line: 2,
    },
    {
      what: 'an unknown stack',
      lines: ['stack = "java"'],
      message: 'app.toml:1: stack must be one of node, python, go, ruby, static, found "java"',
      key: 'stack',
      line: 1,
    },
    {
      what: 'an app name that is not a DNS label',
      lines: ['name = "My Shop"'],
      message: 'app.toml:1: name must be 1–63 lower-case letters, digits or "-", starting and ending with a letter or digit, found "My Shop"',
      key: 'name',
      line: 1,
    },
    {
      what: 'a date-time where a string is expected',
      lines: ['name = 1979-05-27 07:32:00'],
      message: 'app.toml:1: name must be a string, found a date-time',
      key: 'name',
      line: 1,
    },
    {
      what: 'a health path without its slash',
      lines: ['[run]', 'health = "healthz"'],
      message: 'app.toml:2: run.health must be an HTTP path starting with "/" (printable ASCII, no spaces), found "healthz"',
      key: 'run.health',
      line: 2,
    },
    {
      what: 'an argv web process with a number in it',
      lines: ['[run]', 'web = [', '  "node",', '  3000,', ']'],
      message: 'app.toml:4: run.web[1] must be a string, found the integer 3000',
      key: 'run.web[1]',
      line: 4,
    },
    {
      what: 'a web process that is neither a string nor an array',
      lines: ['[run]', 'web = true'],
      message: 'app.toml:2: run.web must be a string (a shell command) or an array of strings (argv), found the boolean true',
      key: 'run.web',
      line: 2,
    },
    {
      what: 'an empty argv',
      lines: ['[run]', 'web = []'],
      message: 'app.toml:2: run.web must not be empty',
      key: 'run.web',
      line: 2,
    },
    {
      what: 'a blank build command',
      lines: ['[build]', 'onbuild = ["make", "   "]'],
      message: 'app.toml:2: build.onbuild[1] must not be empty, found "   "',
      key: 'build.onbuild[1]',
      line: 2,
    },
    {
      what: 'a port out of range',
      lines: ['[run]', 'port = 70000'],
      message: 'app.toml:2: run.port must be a port number from 1 to 65535, found the integer 70000',
      key: 'run.port',
      line: 2,
    },
    {
      what: 'a table where a value is expected',
      lines: ['[build.timeout]', 'seconds = 5'],
      message: 'app.toml:1: build.timeout must be an integer number of seconds, found a table',
      key: 'build.timeout',
      line: 1,
    },
    {
      what: 'a value where a table is expected',
      lines: ['name = "x"', 'build = "npm run build"'],
      message: 'app.toml:2: build must be a table, found "npm run build"',
      key: 'build',
      line: 2,
    },
    {
      what: 'an array of tables where a table is expected',
      lines: ['[[run]]', 'web = "a"', '[[run]]', 'web = "b"'],
      message: 'app.toml:1: run must be a table, found an array of tables',
      key: 'run',
      line: 1,
    },
    {
      what: 'a required env name that is not one',
      lines: ['[require]', 'env = ["DATABASE_URL", "database-url"]'],
      message: 'app.toml:2: require.env[1] is not a valid environment variable name (A–Z, 0–9 and _, not starting with a digit), found "database-url"',
      key: 'require.env[1]',
      line: 2,
    },
    {
      what: 'a service list given as a string',
      lines: ['[require]', 'services = "postgres"'],
      message: 'app.toml:2: require.services must be an array of service names, found "postgres"',
      key: 'require.services',
      line: 2,
    },
  ];

  it.each(cases)('$what', ({ lines, message, key, line }) => {
    const e = configError(() => parseAppConfig(toml(lines)));
    expect(e.message).toBe(message);
    expect(e.details).toMatchObject({ file: 'app.toml', key, line });
  });

  it.each([
    { what: 'an unclosed array', text: toml(['[build]', 'onbuild = ["a",', '"b"', 'timeout = 5']), line: 4, column: 1, reason: 'expected comma or end of structure' },
    { what: 'a key defined twice', text: toml(['name = "a"', 'stack = "go"', 'name = "b"']), line: 3, column: 1 },
    { what: 'an unterminated string', text: toml(['[run]', 'web = "node server.js']), line: 2, column: 22 },
    { what: 'a missing "="', text: toml(['', '', 'name "shop"']), line: 3, column: 6 },
    { what: 'a table header defined twice', text: toml(['[build]', 'timeout = 5', '[build]']), line: 3, column: 2 },
    { what: 'a __proto__ key', text: toml(['[env]', '__proto__ = "x"']), line: 2, column: 1 },
  ])('a TOML syntax error names line and column: $what', ({ text, line, column, reason }) => {
    const e = configError(() => parseAppConfig(text));
    expect(e.details).toMatchObject({ file: 'app.toml', line, column });
    expect(e.details?.key).toBeUndefined();
    expect(e.message).toMatch(new RegExp(`^app\\.toml:${line}:${column}: invalid TOML: ${reason ?? '\\S'}`));
  });

  it('reports every problem, ordered by line, and the first in the message', () => {
    const e = configError(() =>
      parseAppConfig(toml(['[env]', 'lower = "x"', '[build]', 'timeout = -1', 'extra = 1', '[run]', 'web = 5'])),
    );
    expect(e.problems.map((p) => `${p.line} ${p.key}`)).toEqual(['2 env.lower', '4 build.timeout', '5 build.extra', '7 run.web']);
    expect(e.message).toMatch(/^app\.toml:2: env\.lower is not a valid environment variable name .* \(and 3 more: app\.toml:4: build\.timeout /);
    expect(e.details?.problems).toHaveLength(4);
  });

  it('is a terminal SagaError with a stable code that survives serialisation', () => {
    const e = configError(() => parseAppConfig('[build]\ntimeout = "x"\n'));
    expect(e).toBeInstanceOf(SagaError);
    expect(e).toMatchObject({ code: APP_CONFIG_INVALID, status: 400, retryable: false, name: 'AppConfigError' });
    expect(serializeError(e)).toEqual({
      name: 'AppConfigError',
      code: 'APP_CONFIG_INVALID',
      status: 400,
      retryable: false,
      message: 'app.toml:2: build.timeout must be an integer number of seconds, found "x"',
      details: { file: 'app.toml', key: 'build.timeout', line: 2, reason: 'must be an integer number of seconds, found "x"' },
    });
  });
});

describe('app.toml that cannot be read as a config file', () => {
  it.each([
    { what: 'a directory', files: { 'app.toml': { dir: true } as const }, reason: 'must be a regular file, found a directory' },
    { what: 'a symbolic link', files: { 'app.toml': { link: '/etc/hostname' } }, reason: 'must be a regular file, found a symbolic link' },
    { what: 'too large', files: { 'app.toml': '# x\n'.repeat(20_000) }, reason: 'is 80000 bytes; at most 65536 are read' },
  ])('refuses app.toml that is $what', async ({ files, reason }) => {
    const dir = await makeTree(files);
    const e = await loadAppConfig(dir).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(AppConfigError);
    expect((e as AppConfigError).details).toMatchObject({ file: 'app.toml', reason });
  });

  it('refuses app.toml that is not UTF-8, naming the line', async () => {
    const bytes = Buffer.concat([Buffer.from('name = "a"\n[env]\nX = "'), Buffer.from([0xff, 0xfe]), Buffer.from('"\n')]);
    const dir = await makeTree({ 'app.toml': bytes });
    await expect(loadAppConfig(dir)).rejects.toMatchObject({ message: 'app.toml:3: is not valid UTF-8 text' });
  });

  it('says the staged dir is missing rather than reading it as an app without config', async () => {
    const dir = await makeTree();
    await expect(loadAppConfig(`${dir}/gone`)).rejects.toMatchObject({ code: APP_DIR_MISSING, retryable: false });
  });
});

describe('[build] base', () => {
  it('takes an image of the registry by tag or digest', () => {
    expect(parseAppConfig('[build]\nbase = "library/node:20"\n').build.base).toBe('library/node:20');
    expect(parseAppConfig(`[build]\nbase = "library/base@sha256:${'a'.repeat(64)}"\n`).build.base).toBe(`library/base@sha256:${'a'.repeat(64)}`);
    expect(parseAppConfig('[build]\nbase = "alpine"\n').build.base).toBe('alpine');
  });
  it('refuses anything else, naming the key and line', () => {
    expect(() => parseAppConfig('[build]\ntimeout = 10\nbase = "Not An Image!"\n')).toThrow(/app\.toml:3.*build\.base.*repository/);
    expect(() => parseAppConfig('[build]\nbase = "docker.io/library/node:20"\n')).not.toThrow();
  });
});

/**
 * prepareConfig / checkConfig: the env merged (request over app.toml), the requirements
 * checked against what the deploy brings and the coordinator offers, and every problem
 * reported at once, pointing into app.toml where it can.
 */
import { describe, expect, it } from 'vitest';
import { AppConfigError } from '../../src/build/app/app-config-error.js';
import { DEFAULT_APP_CONFIG, parseAppConfig } from '../../src/build/app/app-config.js';
import { checkConfig, prepareConfig } from '../../src/build/app/prepare-config.js';
import { RetryableError } from '../../src/errors.js';

const config = parseAppConfig(
  [
    'name = "shop"',
    '[env]',
    'NODE_ENV = "production"',
    'LOG_LEVEL = "info"',
    '[require]',
    'env = ["DATABASE_URL", "NODE_ENV"]',
    'services = ["postgres"]',
    '[run]',
    'port = 8080',
    'health = "/healthz"',
  ].join('\n'),
);

async function problem(p: Promise<unknown>): Promise<AppConfigError> {
  const e = await p.catch((err: unknown) => err);
  expect(e).toBeInstanceOf(AppConfigError);
  return e as AppConfigError;
}

describe('prepareConfig', () => {
  it('merges the request env over app.toml’s, sorted, and returns the checked config', async () => {
    const checked: number[] = [];
    const prepared = await prepareConfig({
      config,
      appName: 'shop',
      requestEnv: { LOG_LEVEL: 'debug', DATABASE_URL: 'postgres://127.0.0.1/shop' },
      services: ['nats', 'postgres'],
      portFree: async (port) => (checked.push(port), true),
    });
    expect(prepared).toEqual({
      env: { DATABASE_URL: 'postgres://127.0.0.1/shop', LOG_LEVEL: 'debug', NODE_ENV: 'production' },
      requiredEnv: ['DATABASE_URL', 'NODE_ENV'],
      services: ['postgres'],
      port: 8080,
      health: '/healthz',
    });
    expect(Object.keys(prepared.env)).toEqual(['DATABASE_URL', 'LOG_LEVEL', 'NODE_ENV']);
    expect(checked).toEqual([8080]);
  });

  it('needs nothing for an app without app.toml', async () => {
    expect(await prepareConfig({ config: DEFAULT_APP_CONFIG, services: [] })).toEqual({ env: {}, requiredEnv: [], services: [], port: null, health: '/' });
  });

  it('names a required env var without a value, and its line', async () => {
    const e = await problem(prepareConfig({ config, services: ['postgres'], requestEnv: { NODE_ENV: '' } }));
    expect(e.problems).toEqual([
      { file: 'app.toml', key: 'require.env[0]', line: 6, reason: 'names DATABASE_URL, which has no value: set it in [env] or in the deploy request (as env or as a secret)' },
      { file: 'app.toml', key: 'require.env[1]', line: 6, reason: 'names NODE_ENV, which has no value: set it in [env] or in the deploy request (as env or as a secret)' },
    ]);
    expect(e.message).toMatch(/^app\.toml:6: require\.env\[0\] names DATABASE_URL, which has no value/);
  });

  it('names a service the coordinator does not offer and lists those it does', async () => {
    const env = { DATABASE_URL: 'x' };
    const e = await problem(prepareConfig({ config, requestEnv: env, services: ['redis', 'nats'] }));
    expect(e.message).toBe('app.toml:7: require.services[0] names the service "postgres", which this coordinator does not offer (it offers: nats, redis)');
    const none = await problem(prepareConfig({ config, requestEnv: env, services: [] }));
    expect(none.message).toContain('(it offers none)');
  });

  it('refuses bad request env names and values, naming the request', async () => {
    const e = await problem(
      prepareConfig({
        config: DEFAULT_APP_CONFIG,
        services: [],
        requestEnv: { 'bad-name': 'x', PORT: '1', OK: 'fine', NUL: 'a\0b', NUM: 5 as unknown as string },
      }),
    );
    expect(e.problems.map((p) => `${p.file}: ${p.key} ${p.reason}`)).toEqual([
      'deploy request: env.bad-name is not a valid environment variable name (A–Z, 0–9 and _, not starting with a digit)',
      'deploy request: env.PORT is set by the sandbox to the port the web process must listen on; use [run] port to pin one',
      'deploy request: env.NUL must not contain a NUL character',
      'deploy request: env.NUM must be a string',
    ]);
    await expect(prepareConfig({ config: DEFAULT_APP_CONFIG, services: [], requestEnv: ['A=1'] as unknown as Record<string, string> })).rejects.toMatchObject({
      message: 'deploy request: env must be an object of NAME: "value"',
    });
  });

  it('refuses a request env too large to journal', async () => {
    const requestEnv = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`BIG_${i}`, 'x'.repeat(30_000)]));
    const e = await problem(prepareConfig({ config: DEFAULT_APP_CONFIG, services: [], requestEnv }));
    expect(e.message).toMatch(/^deploy request: env is 300\d+ bytes in all \(with app\.toml's \[env\]\); at most 262144 are kept$/);
  });

  it('refuses an app.toml name that is not the deploy’s app', async () => {
    const e = await problem(prepareConfig({ config: parseAppConfig('\nname = "shop"\n'), appName: 'blog', services: [] }));
    expect(e.message).toBe('app.toml:2: name is "shop", but the deploy is for app "blog"');
  });

  it('refuses a pinned port in use, and says so when the check itself fails', async () => {
    const base = { config, requestEnv: { DATABASE_URL: 'x' }, services: ['postgres'] };
    expect((await problem(prepareConfig({ ...base, portFree: async () => false }))).message).toBe('app.toml:9: run.port is 8080, which is in use on this host');
    const failing = await prepareConfig({ ...base, portFree: async () => Promise.reject(new Error('EMFILE')) }).catch((err: unknown) => err);
    expect(failing).toBeInstanceOf(RetryableError);
    expect((failing as RetryableError).message).toBe('could not check whether port 8080 is free: EMFILE');
    // Without a checker the port is not checked.
    expect((await prepareConfig(base)).port).toBe(8080);
  });

  it('reports every problem of one deploy together', async () => {
    const e = await problem(prepareConfig({ config, appName: 'blog', requestEnv: { 'x y': '1' }, services: [], portFree: async () => false }));
    expect(e.problems.map((p) => p.key)).toEqual(['name', 'require.env[0]', 'require.services[0]', 'run.port', 'env."x y"']);
  });
});

describe('checkConfig', () => {
  it('is pure: the same inputs give the same answer and nothing is changed', () => {
    const input = { config, requestEnv: Object.freeze({ DATABASE_URL: 'x' }), services: Object.freeze(['postgres']) };
    const a = checkConfig(input);
    expect(checkConfig(input)).toEqual(a);
    expect(a.problems).toEqual([]);
    expect(config.env).toEqual({ NODE_ENV: 'production', LOG_LEVEL: 'info' });
  });
});

describe('prepareConfig with secrets', () => {
  const sealed = { $secret: 'v1:k1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA==' };

  it('keeps secrets sealed and apart from env, overriding app.toml; they satisfy [require] env', async () => {
    const config = { ...DEFAULT_APP_CONFIG, env: { API_KEY: 'dev', MODE: 'x' }, require: { ...DEFAULT_APP_CONFIG.require, env: ['API_KEY'] } };
    const prepared = await prepareConfig({ config, requestSecrets: { API_KEY: sealed }, services: [] });
    expect(prepared.env).toEqual({ MODE: 'x' });
    expect(prepared.secrets).toEqual({ API_KEY: sealed });
    expect(prepared.requiredEnv).toEqual(['API_KEY']);
    // Without secrets the prepared config has no `secrets` at all (as journaled before secrets existed).
    expect('secrets' in (await prepareConfig({ config: DEFAULT_APP_CONFIG, services: [] }))).toBe(false);
  });

  it('refuses a secret also given as env, a reserved name, or an unsealed value', async () => {
    const e = await problem(prepareConfig({ config: DEFAULT_APP_CONFIG, requestEnv: { A: '1' }, requestSecrets: { A: sealed, PORT: sealed, B: 'plain' as never }, services: [] }));
    expect(e.problems.map((p) => [p.key, p.reason])).toEqual([
      ['secretEnv.A', 'is given both as a plain env var and as a secret'],
      ['secretEnv.PORT', expect.any(String)],
      ['secretEnv.B', 'must be a sealed secret (the coordinator seals secrets on receipt)'],
    ]);
  });
});

/**
 * Addons without a server: app.toml's `[[addons]]` (parsed, defaulted, every mistake pointed
 * at), the deploy-time addon checks (a kind without a provider names `--addon-postgres`; an
 * addon's variable set by the request is refused; it satisfies `[require] env`), the names
 * derived from an addon, the provider URL (checked, shown redacted), how the provider's failures
 * are classified, the addon records in memory and the merge of the addons' sealed URLs into a
 * version's secret env.
 */
import { describe, expect, it } from 'vitest';
import { addonEnvName, addonIdentifier } from '../../src/addons/addon-names.js';
import { withAddonSecrets } from '../../src/addons/addon-env.js';
import { providerError } from '../../src/addons/addon-errors.js';
import { provisionedAddonsOf } from '../../src/addons/addon-output.js';
import { parsePostgresUrl, redactedDatabaseUrl } from '../../src/addons/postgres-url.js';
import { scramMatches, scramVerifier } from '../../src/addons/scram-verifier.js';
import { AppConfigError } from '../../src/build/app/app-config-error.js';
import { parseAppConfig } from '../../src/build/app/app-config.js';
import { checkConfig, prepareConfig } from '../../src/build/app/prepare-config.js';
import { loadConfig } from '../../src/config.js';
import { memoryEntityStores } from '../../src/entities/entity-stores.js';
import { rejectionOf } from '../contract/entities.contract.js';

const toml = (...lines: string[]): string => lines.join('\n');

function problemsOf(text: string): string[] {
  try {
    parseAppConfig(text);
  } catch (e) {
    expect(e).toBeInstanceOf(AppConfigError);
    return (e as AppConfigError).problems.map((p) => `${p.line ?? '-'} ${p.key} ${p.reason}`);
  }
  throw new Error('expected the config to be refused');
}

describe('app.toml [[addons]]', () => {
  it('reads kinds and names, "db" by default, and keeps their lines', () => {
    const config = parseAppConfig(toml('[[addons]]', 'kind = "postgres"', '', '[[addons]]', 'kind = "postgres"', 'name = "analytics"'));
    expect(config.addons).toEqual([
      { kind: 'postgres', name: 'db' },
      { kind: 'postgres', name: 'analytics' },
    ]);
    expect(config.lines).toMatchObject({ 'addons[0].kind': 2, 'addons[1].name': 6 });
  });

  it('leaves a config without addons as it was', () => {
    expect(parseAppConfig('name = "shop"')).not.toHaveProperty('addons');
  });

  it('points at each mistake', () => {
    expect(problemsOf(toml('[[addons]]', 'kind = "postgres"', '[[addons]]', 'kind = "postgres"'))).toEqual([
      '3 addons[1].name is "db" again (as addons[0]): every addon of an app needs a name of its own',
    ]);
    expect(problemsOf(toml('[[addons]]', 'kind = "mysql"'))).toEqual(['2 addons[0].kind must be one of "postgres", found "mysql"']);
    expect(problemsOf(toml('[[addons]]', 'name = "x"'))).toEqual(['1 addons[0].kind must be one of "postgres"']);
    expect(problemsOf(toml('[[addons]]', 'kind = "postgres"', 'nme = "x"'))).toEqual(['3 addons[0].nme is not a known key in [addons[0]]; did you mean "name"?']);
    expect(problemsOf(toml('[[addons]]', 'kind = "postgres"', 'name = "Main_DB"'))).toEqual([
      '3 addons[0].name must be 1–20 lower-case letters, digits or "-", starting with a letter, found "Main_DB"',
    ]);
    expect(problemsOf('addons = "postgres"')).toEqual(['1 addons must be an array of tables: [[addons]] sections, found "postgres"']);
    expect(problemsOf(toml('[addons]', 'kind = "postgres"'))).toEqual(['1 addons must be an array of tables: [[addons]] sections, found a table']);
  });
});

describe('prepareConfig with addons', () => {
  const config = parseAppConfig(toml('[env]', 'DATABASE_URL = "postgres://localhost/dev"', '[require]', 'env = ["DATABASE_URL"]', '[[addons]]', 'kind = "postgres"'));

  it('refuses an addon no provider offers, naming --addon-postgres', async () => {
    const e = await rejectionOf(prepareConfig({ config, services: [] }));
    expect(e).toBeInstanceOf(AppConfigError);
    expect(e.message).toBe(
      'app.toml:6: addons[0].kind asks for a postgres addon ("db"), but this coordinator has no postgres provider: start it with --addon-postgres <url> (or JETSAGA_ADDON_POSTGRES)',
    );
    expect(e.code).toBe('APP_CONFIG_INVALID');
  });

  it("lets the addon's URL replace app.toml's value and satisfy [require] env", async () => {
    const prepared = await prepareConfig({ config, services: [], offeredAddons: ['postgres'] });
    expect(prepared.env).toEqual({});
    expect(prepared.requiredEnv).toEqual(['DATABASE_URL']);
  });

  it("refuses a deploy that sets the addon's variable itself", () => {
    const sealed = { $secret: 'v1:k:aaaa:bbbb' };
    const asEnv = checkConfig({ config, services: [], offeredAddons: ['postgres'], requestEnv: { DATABASE_URL: 'x' } }).problems;
    const asSecret = checkConfig({ config, services: [], offeredAddons: ['postgres'], requestSecrets: { DATABASE_URL: sealed } }).problems;
    const problems = [...asEnv, ...asSecret];
    expect(problems.map((p) => `${p.file} ${p.key}`)).toEqual(['deploy request env.DATABASE_URL', 'deploy request secretEnv.DATABASE_URL']);
    expect(problems[0]!.reason).toContain("is set by the app's addon (app.toml addons[0])");
  });
});

describe('addon names', () => {
  it('derives the env var and the PostgreSQL identifier', () => {
    expect(addonEnvName('db')).toBe('DATABASE_URL');
    expect(addonEnvName('read-replica')).toBe('READ_REPLICA_DATABASE_URL');
    expect(addonIdentifier('shop', 'db')).toBe('shop_db');
    const long = addonIdentifier('a'.repeat(63), 'db');
    expect(long).toHaveLength(63);
    expect(long).toMatch(/^a+__[0-9a-f]{10}$/);
    expect(addonIdentifier('a'.repeat(63), 'cache')).not.toBe(long);
    expect(() => addonIdentifier('shop', 'Bad')).toThrow(/invalid addon name/);
  });
});

describe('the provider URL', () => {
  it('is checked without being repeated, and shown redacted', () => {
    const server = parsePostgresUrl('postgres://admin:s3cret@127.0.0.1:5433/postgres?sslmode=disable');
    expect(server).toMatchObject({ host: '127.0.0.1', port: 5433, sslmode: 'disable', redacted: 'postgres://admin:[redacted]@127.0.0.1:5433/postgres?sslmode=disable' });
    expect(parsePostgresUrl('postgresql://127.0.0.1/x')).toMatchObject({ port: 5432, redacted: 'postgresql://127.0.0.1/x' });
    expect(parsePostgresUrl('mysql://a:b@h/x')).toBe('must be a postgres:// or postgresql:// URL, not mysql://');
    expect(() => loadConfig({ addonPostgres: 'http://admin:s3cret@host/x' }, {})).toThrow('--addon-postgres: the PostgreSQL addon URL must be a postgres:// or postgresql:// URL, not http://');
    expect(() => loadConfig({}, { JETSAGA_ADDON_POSTGRES: 'not a url s3cret' })).toThrow(/^JETSAGA_ADDON_POSTGRES: the PostgreSQL addon URL is not a URL/);
    expect(() => loadConfig({}, { JETSAGA_ADDON_POSTGRES: 'not a url s3cret' })).not.toThrow(/s3cret/);
    expect(loadConfig({}, { JETSAGA_ADDON_POSTGRES: 'postgres://postgres@127.0.0.1/postgres' }).addonPostgres).toBe('postgres://postgres@127.0.0.1/postgres');
    expect(redactedDatabaseUrl({ role: 'shop_db', host: '127.0.0.1', port: 5432, database: 'shop_db' })).toBe('postgresql://shop_db:[redacted]@127.0.0.1:5432/shop_db');
  });

  it('turns what the server said into a retry or a refusal, naming the server redacted', () => {
    const server = 'postgres://admin:[redacted]@127.0.0.1:5432/postgres';
    const refused = providerError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }), 'create role shop_db', server);
    expect(refused).toMatchObject({ code: 'ADDON_PROVIDER_UNAVAILABLE', retryable: true, message: `cannot create role shop_db on ${server}: connect ECONNREFUSED 127.0.0.1:5432` });
    expect(providerError(Object.assign(new Error('the database system is starting up'), { code: '57P03' }), 'x', server).retryable).toBe(true);
    const auth = providerError(Object.assign(new Error('password authentication failed for user "admin"'), { code: '28P01' }), 'create role shop_db', server);
    expect(auth).toMatchObject({ code: 'ADDON_PROVIDER_FAILED', retryable: false });
    expect(providerError(Object.assign(new Error('permission denied to create role'), { code: '42501' }), 'x', server).retryable).toBe(false);
  });

  it('gets a SCRAM verifier of the password, never the password', () => {
    const verifier = scramVerifier('pa55word');
    expect(verifier).not.toContain('pa55word');
    expect(scramMatches(verifier, 'pa55word')).toBe(true);
    expect(scramMatches(verifier, 'pa55wore')).toBe(false);
  });
});

describe('addon records', () => {
  const fields = { kind: 'postgres', role: 'shop_db', database: 'shop_db', host: '127.0.0.1', port: 5432, env: 'DATABASE_URL', url: { $secret: 'v1:k:aa:bb' } };

  it('are claimed once, reused when ready, and removed only by the saga that made them', async () => {
    const { addons } = memoryEntityStores({ now: () => 1_000 });
    const first = await addons.claim({ app: 'shop', name: 'db', ...fields, sagaId: 's1' });
    expect(first.outcome).toBe('created');
    expect((await addons.claim({ app: 'shop', name: 'db', ...fields, url: { $secret: 'other' }, sagaId: 's1' })).record.url).toEqual(fields.url);
    const busy = await rejectionOf(addons.claim({ app: 'shop', name: 'db', ...fields, sagaId: 's2' }));
    expect(busy).toMatchObject({ code: 'ADDON_BUSY', retryable: true });
    expect(await addons.markReady('shop', 'db', 's1')).toMatchObject({ state: 'ready', readyAt: 1_000 });
    expect((await addons.claim({ app: 'shop', name: 'db', ...fields, sagaId: 's2' })).outcome).toBe('reused');
    expect(await addons.release('shop', 'db', 's2')).toBe(false);
    expect(await addons.list('shop')).toHaveLength(1);
    expect(await addons.release('shop', 'db', 's1')).toBe(true);
    expect(await addons.release('shop', 'db', 's1')).toBe(false);
    expect(await addons.get('shop', 'db')).toBeNull();
  });
});

describe('withAddonSecrets', () => {
  const url = { $secret: 'v1:k:aa:bb' };
  const prepared = { env: { NODE_ENV: 'production' }, secrets: { API_KEY: { $secret: 'v1:k:cc:dd' } }, requiredEnv: [], services: [], port: null, health: '/' };

  it("adds each addon's sealed URL to the version's secrets, sorted", () => {
    const out = withAddonSecrets(prepared, [{ name: 'db', env: 'DATABASE_URL', url }]);
    expect(Object.keys(out.secrets!)).toEqual(['API_KEY', 'DATABASE_URL']);
    expect(out.secrets!.DATABASE_URL).toBe(url);
    expect(withAddonSecrets(prepared, [])).toBe(prepared);
    expect(() => withAddonSecrets({ ...prepared, env: { DATABASE_URL: 'x' } }, [{ name: 'db', env: 'DATABASE_URL', url }])).toThrow(/set both/);
  });

  it('reads the addon from a finished saga’s output, and refuses anything else', () => {
    const ready = { app: 'shop', name: 'db', kind: 'postgres', role: 'r', database: 'd', host: 'h', port: 5432, env: 'DATABASE_URL', url, reused: false, createdBy: 's1' };
    expect(provisionedAddonsOf({ outputs: { ready: { addons: [ready], unprovided: [] } }, error: null, warnings: [] })).toEqual([ready]);
    expect(provisionedAddonsOf([ready])).toEqual([ready]);
    expect(provisionedAddonsOf(undefined)).toEqual([]);
    expect(() => provisionedAddonsOf({ outputs: {} })).toThrow(/not the output of a completed postgres-addon saga/);
    expect(() => provisionedAddonsOf([{ ...ready, url: 'plain' }])).toThrow(/not a provisioned addon/);
  });
});

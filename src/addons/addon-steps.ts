/**
 * The PostgreSQL addon saga's step implementations (machines/postgres-addon.machine.ts). Each
 * is idempotent under the saga's id: the claim records the addon (and its sealed URL) for the
 * saga once, and every later step reads what to make from that record. Each undo is safe to
 * repeat and safe when its step never applied, and does nothing to an addon this saga reused
 * or another saga made: it never drops what an earlier deploy of the app made and uses.
 */
import { randomBytes } from 'node:crypto';
import { TerminalError } from '../errors.js';
import type { AddonRecord, ClaimOutcome } from '../entities/index.js';
import { defineSteps, type UndoInput } from '../runtime/define-steps.js';
import type { StepContext } from '../runtime/types.js';
import { openEnv, sealEnv, type SealedSecret } from '../secrets/index.js';
import type { BuildHost } from '../build/build-host.js';
import { say } from '../build/step-support.js';
import { AddonErrorCode, providerMissing } from './addon-errors.js';
import { addonEnvName, addonIdentifier, AddonKind } from './addon-names.js';
import type { AddonOwner, PostgresAdmin } from './postgres-admin.js';
import { appDatabaseUrl } from './postgres-url.js';
import { scramVerifier } from './scram-verifier.js';

interface AddonIn {
  readonly app: string;
  readonly name: string;
}

/** What the claim step outputs (journaled: names only, no secret). */
export interface AddonClaim {
  readonly outcome: ClaimOutcome;
  readonly role: string;
  readonly database: string;
  readonly createdBy: string;
}

interface ClaimedIn extends AddonIn {
  readonly claim: AddonClaim | null;
}

/**
 * What the saga outputs for its parent (`outputs.ready`): the addon, where it is, and its URL
 * sealed for the app and `env` — a value for the version's secret env as it is.
 */
export interface ProvisionedAddon {
  readonly app: string;
  readonly name: string;
  readonly kind: string;
  readonly role: string;
  readonly database: string;
  readonly host: string;
  readonly port: number;
  /** The env var the URL is for (`DATABASE_URL` for the addon `db`). */
  readonly env: string;
  readonly url: SealedSecret;
  /** True when an earlier deploy made it and this saga reused it. */
  readonly reused: boolean;
  readonly createdBy: string;
}

/** The bytes of entropy in a generated password (base64url: 32 characters). */
const PASSWORD_BYTES = 24;

export function addonSteps(host: () => BuildHost) {
  const h = (): BuildHost => {
    const x = host();
    x.assertOpen();
    return x;
  };
  const postgresOf = (x: BuildHost, { app, name }: AddonIn): PostgresAdmin => {
    const pg = x.addons.postgres;
    if (!pg) throw providerMissing(AddonKind.Postgres, app, name);
    return pg;
  };
  const ownerOf = (x: BuildHost, { app, name }: AddonIn): AddonOwner => ({ namespace: x.addons.namespace, app, name });

  /**
   * The addon's record when this saga made it (null: reused, or never claimed by this saga —
   * nothing to make or drop). Made on another server than the one configured now: refused,
   * rather than made where its URL does not point.
   */
  async function ownRecord(x: BuildHost, input: ClaimedIn, ctx: StepContext): Promise<AddonRecord | null> {
    if (input.claim?.outcome === 'reused') return null;
    const record = await x.entities.addons.get(input.app, input.name);
    if (!record || record.createdBy !== ctx.sagaId) return null;
    const { server } = postgresOf(x, input);
    if (record.host !== server.host || record.port !== server.port) {
      throw new TerminalError(
        `addon "${input.name}" of app "${input.app}" was recorded on ${record.host}:${record.port}, but the PostgreSQL provider is now ${server.redacted}`,
        { code: AddonErrorCode.ServerChanged, status: 409, details: { app: input.app, name: input.name } },
      );
    }
    return record;
  }

  return defineSteps({
    /** Records the addon for this saga, with a fresh password sealed in its URL — or finds it. */
    claimAddon: async (input: AddonIn & { kind: string }, ctx): Promise<AddonClaim> => {
      const x = h();
      const pg = postgresOf(x, input);
      const { app, name } = input;
      const identifier = addonIdentifier(app, name);
      const env = addonEnvName(name);
      const password = randomBytes(PASSWORD_BYTES).toString('base64url');
      const url = sealEnv(x.secrets, app, { [env]: appDatabaseUrl(pg.server, identifier, password, identifier) })[env]!;
      const { record, outcome } = await x.entities.addons.claim({
        app,
        name,
        kind: AddonKind.Postgres,
        role: identifier,
        database: identifier,
        host: pg.server.host,
        port: pg.server.port,
        env,
        url,
        sagaId: ctx.sagaId,
      });
      const how = outcome === 'reused' ? `reusing database "${record.database}" (made by ${record.createdBy})` : `provisioning database "${record.database}" on ${pg.server.redacted}`;
      say(x, ctx, 'addons', `postgres addon "${name}": ${how}`);
      return { outcome, role: record.role, database: record.database, createdBy: record.createdBy };
    },

    releaseAddon: async ({ input }: UndoInput<AddonIn, AddonClaim>, ctx) => {
      await h().entities.addons.release(input.app, input.name, ctx.sagaId);
      return null;
    },

    ensureAddonRole: async (input: ClaimedIn, ctx) => {
      const x = h();
      const record = await ownRecord(x, input, ctx);
      if (!record) return { role: input.claim?.role ?? null, outcome: 'reused' };
      const plain = openEnv(x.secrets, input.app, { [record.env]: record.url })[record.env]!;
      // The password goes to the server only as a SCRAM verifier.
      const password = decodeURIComponent(new URL(plain).password);
      const outcome = await postgresOf(x, input).ensureRole(record.role, scramVerifier(password), ownerOf(x, input), ctx.signal);
      return { role: record.role, outcome };
    },

    dropAddonRole: async ({ input }: UndoInput<ClaimedIn, unknown>, ctx) => {
      const x = h();
      const record = await ownRecord(x, input, ctx);
      if (!record) return null;
      const outcome = await postgresOf(x, input).dropRole(record.role, ownerOf(x, input), ctx.signal);
      return { role: record.role, outcome };
    },

    ensureAddonDatabase: async (input: ClaimedIn, ctx) => {
      const x = h();
      const record = await ownRecord(x, input, ctx);
      if (!record) return { database: input.claim?.database ?? null, outcome: 'reused' };
      const outcome = await postgresOf(x, input).ensureDatabase(record.database, record.role, ownerOf(x, input), ctx.signal);
      say(x, ctx, 'addons', `postgres addon "${input.name}": database "${record.database}" ${outcome === 'created' ? 'created' : 'ready'}`);
      return { database: record.database, outcome };
    },

    dropAddonDatabase: async ({ input }: UndoInput<ClaimedIn, unknown>, ctx) => {
      const x = h();
      const record = await ownRecord(x, input, ctx);
      if (!record) return null;
      const outcome = await postgresOf(x, input).dropDatabase(record.database, record.role, ownerOf(x, input), ctx.signal);
      return { database: record.database, outcome };
    },

    markAddonReady: async (input: ClaimedIn, ctx): Promise<ProvisionedAddon> => {
      const x = h();
      const reused = input.claim?.outcome === 'reused';
      const record = reused ? await x.entities.addons.get(input.app, input.name) : await x.entities.addons.markReady(input.app, input.name, ctx.sagaId);
      if (!record) throw new TerminalError(`addon "${input.name}" of app "${input.app}" is gone`, { code: 'ENTITY_NOT_FOUND', status: 404, details: { app: input.app, name: input.name } });
      const { app, name, kind, role, database, host, port, env, url, createdBy } = record;
      return { app, name, kind, role, database, host, port, env, url, reused, createdBy };
    },
  });
}

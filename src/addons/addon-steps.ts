/**
 * The PostgreSQL addon saga's step implementations (machines/postgres-addon.machine.ts), each
 * acting on every addon of the app in turn. Each is idempotent under the saga's id: the claim
 * records each addon (and its sealed URL) for the saga once, and every later step reads what to
 * make from those records. Each undo is safe to repeat and safe when its step never applied,
 * and does nothing to an addon this saga reused or another saga made: it never drops what an
 * earlier deploy of the app made and uses.
 */
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, TerminalError } from '../errors.js';
import type { AddonRecord, ClaimOutcome } from '../entities/index.js';
import { assertAppName } from '../entities/names.js';
import { defineSteps, type UndoInput } from '../runtime/define-steps.js';
import type { StepContext } from '../runtime/types.js';
import { openEnv, sealEnv, type SealedSecret } from '../secrets/index.js';
import type { BuildHost } from '../build/build-host.js';
import { AddonErrorCode } from './addon-errors.js';
import { addonEnvName, addonIdentifier, AddonKind, assertAddonName } from './addon-names.js';
import type { AddonOwner, PostgresAdmin } from './postgres-admin.js';
import { appDatabaseUrl } from './postgres-url.js';
import { scramVerifier } from './scram-verifier.js';

/** What the saga is given: the app and its addons (see `PostgresAddonInput`). */
interface AddonsIn {
  readonly app: string;
  readonly addons: ReadonlyArray<{ readonly kind: string; readonly name: string }>;
}

/** What the claim found for one addon (journaled: names only, no secret). */
export interface AddonClaim {
  readonly name: string;
  readonly outcome: ClaimOutcome;
  readonly role: string;
  readonly database: string;
  readonly createdBy: string;
}

/** The claim step's output. */
export interface AddonClaims {
  readonly addons: readonly AddonClaim[];
  /** Addons not made: this coordinator has no provider of their kind (config preparation says so). */
  readonly unprovided: readonly string[];
}

interface ClaimedIn {
  readonly app: string;
  readonly claim: AddonClaims | null;
}

/**
 * One addon as the saga outputs it for its parent: the addon, where it is, and its URL sealed
 * for the app and `env` — a value for the version's secret env as it is.
 */
export type ProvisionedAddon = Pick<AddonRecord, 'app' | 'name' | 'kind' | 'role' | 'database' | 'host' | 'port' | 'env' | 'createdBy'> & {
  /** The URL, sealed for the app and `env` (`DATABASE_URL` for the addon `db`). */
  readonly url: SealedSecret;
  /** True when an earlier deploy made it and this saga reused it. */
  readonly reused: boolean;
};

/** The `ready` step's output: the saga's result (`outputs.ready`). */
export interface AddonsReady {
  readonly addons: readonly ProvisionedAddon[];
  readonly unprovided: readonly string[];
}

/** What a role or database step did to each addon. */
type Outcomes = Array<{ readonly name: string; readonly identifier: string; readonly outcome: string }>;

/** The bytes of entropy in a generated password (base64url: 32 characters). */
const PASSWORD_BYTES = 24;

export interface AddonStepOptions {
  /**
   * Whose progress stream a saga's lines go to: its parent's when it runs as a child of a build
   * (so `jetsaga deploy` shows them), else its own. Default: its own.
   */
  readonly progressTarget?: (sagaId: string) => Promise<string>;
}

/** The saga's input, checked: it is journaled as given, and a start may come from any client. */
function checkInput(input: AddonsIn): void {
  assertAppName(input.app);
  if (!Array.isArray(input.addons)) throw new InvalidArgumentError('addons must be an array of { kind, name }');
  const seen = new Set<string>();
  for (const a of input.addons) {
    assertAddonName(a.name);
    if (a.kind !== AddonKind.Postgres) throw new InvalidArgumentError(`addon "${a.name}" is of kind ${JSON.stringify(a.kind)}; this saga makes "postgres" addons`);
    if (seen.has(a.name)) throw new InvalidArgumentError(`addon "${a.name}" is given twice`);
    seen.add(a.name);
  }
}

export function addonSteps(host: () => BuildHost, options: AddonStepOptions = {}) {
  const h = (): BuildHost => {
    const x = host();
    x.assertOpen();
    return x;
  };
  /** A progress line, best-effort like every progress line: it never fails or holds up a step. */
  const say = (x: BuildHost, ctx: StepContext, text: string): void => {
    const target = options.progressTarget?.(ctx.sagaId) ?? Promise.resolve(ctx.sagaId);
    void target
      .catch(() => ctx.sagaId)
      .then((id) => x.progress.publish(id, { kind: 'log', step: 'addons', stream: 'info', text, key: ctx.idempotencyKey }))
      .catch(() => undefined);
  };
  const ownerOf = (x: BuildHost, app: string, name: string): AddonOwner => ({ namespace: x.addons.namespace, app, name });

  /**
   * The records of the addons this saga made (not the reused ones, nor any it never claimed),
   * in claim order, with the provider. One made on another server than the one configured now
   * is refused, rather than made or dropped where its URL does not point.
   */
  async function ownRecords(x: BuildHost, input: ClaimedIn, ctx: StepContext): Promise<{ records: AddonRecord[]; pg: PostgresAdmin | undefined }> {
    const records: AddonRecord[] = [];
    for (const claim of input.claim?.addons ?? []) {
      if (claim.outcome === 'reused') continue;
      const record = await x.entities.addons.get(input.app, claim.name);
      if (record && record.createdBy === ctx.sagaId) records.push(record);
    }
    const pg = x.addons.postgres;
    for (const r of records) {
      if (!pg) throw new TerminalError(`addon "${r.name}" of app "${input.app}" was made on ${r.host}:${r.port}, but this coordinator has no PostgreSQL provider now: start it with --addon-postgres <url>`, { code: AddonErrorCode.ProviderMissing, status: 400, details: { app: input.app, name: r.name } });
      if (r.host !== pg.server.host || r.port !== pg.server.port) {
        throw new TerminalError(`addon "${r.name}" of app "${input.app}" was made on ${r.host}:${r.port}, but the PostgreSQL provider is now ${pg.server.redacted}`, {
          code: AddonErrorCode.ServerChanged,
          status: 409,
          details: { app: input.app, name: r.name },
        });
      }
    }
    return { records, pg };
  }

  /** The claims this saga reused, as the role and database steps report them. */
  const reusedOf = (input: ClaimedIn, what: 'role' | 'database'): Outcomes =>
    (input.claim?.addons ?? []).filter((c) => c.outcome === 'reused').map((c) => ({ name: c.name, identifier: c[what], outcome: 'reused' }));

  return defineSteps({
    /** Records each addon for this saga, with a fresh password sealed in its URL — or finds it. */
    claimAddons: async (input: AddonsIn, ctx): Promise<AddonClaims> => {
      checkInput(input);
      const x = h();
      const { app } = input;
      const pg = x.addons.postgres;
      if (!pg) {
        if (input.addons.length > 0) say(x, ctx, `no PostgreSQL provider on this coordinator (--addon-postgres): ${input.addons.map((a) => `"${a.name}"`).join(', ')} not made`);
        return { addons: [], unprovided: input.addons.map((a) => a.name) };
      }
      const claims: AddonClaim[] = [];
      for (const { name } of input.addons) {
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
        say(x, ctx, `postgres addon "${name}": ${how}`);
        claims.push({ name, outcome, role: record.role, database: record.database, createdBy: record.createdBy });
      }
      return { addons: claims, unprovided: [] };
    },

    /** Removes the records this saga made (after its roles and databases are gone). */
    releaseAddons: async ({ input }: UndoInput<AddonsIn, AddonClaims>, ctx) => {
      const x = h();
      for (const { name } of input.addons ?? []) await x.entities.addons.release(input.app, name, ctx.sagaId);
      return null;
    },

    ensureAddonRoles: async (input: ClaimedIn, ctx) => {
      const x = h();
      const { records, pg } = await ownRecords(x, input, ctx);
      const roles: Outcomes = reusedOf(input, 'role');
      for (const r of records) {
        const plain = openEnv(x.secrets, input.app, { [r.env]: r.url })[r.env]!;
        // The password goes to the server only as a SCRAM verifier.
        const password = decodeURIComponent(new URL(plain).password);
        roles.push({ name: r.name, identifier: r.role, outcome: await pg!.ensureRole(r.role, scramVerifier(password), ownerOf(x, input.app, r.name), ctx.signal) });
      }
      return { roles };
    },

    dropAddonRoles: async ({ input }: UndoInput<ClaimedIn, unknown>, ctx) => {
      const x = h();
      const { records, pg } = await ownRecords(x, input, ctx);
      const roles: Outcomes = [];
      for (const r of records.reverse()) roles.push({ name: r.name, identifier: r.role, outcome: await pg!.dropRole(r.role, ownerOf(x, input.app, r.name), ctx.signal) });
      return { roles };
    },

    ensureAddonDatabases: async (input: ClaimedIn, ctx) => {
      const x = h();
      const { records, pg } = await ownRecords(x, input, ctx);
      const databases: Outcomes = reusedOf(input, 'database');
      for (const r of records) {
        const outcome = await pg!.ensureDatabase(r.database, r.role, ownerOf(x, input.app, r.name), ctx.signal);
        say(x, ctx, `postgres addon "${r.name}": database "${r.database}" ${outcome === 'created' ? 'created' : 'ready'}`);
        databases.push({ name: r.name, identifier: r.database, outcome });
      }
      return { databases };
    },

    dropAddonDatabases: async ({ input }: UndoInput<ClaimedIn, unknown>, ctx) => {
      const x = h();
      const { records, pg } = await ownRecords(x, input, ctx);
      const databases: Outcomes = [];
      for (const r of records.reverse()) {
        databases.push({ name: r.name, identifier: r.database, outcome: await pg!.dropDatabase(r.database, r.role, ownerOf(x, input.app, r.name), ctx.signal) });
      }
      return { databases };
    },

    markAddonsReady: async (input: ClaimedIn, ctx): Promise<AddonsReady> => {
      const x = h();
      const addons: ProvisionedAddon[] = [];
      for (const claim of input.claim?.addons ?? []) {
        const reused = claim.outcome === 'reused';
        const record = reused ? await x.entities.addons.get(input.app, claim.name) : await x.entities.addons.markReady(input.app, claim.name, ctx.sagaId);
        if (!record) throw new TerminalError(`addon "${claim.name}" of app "${input.app}" is gone`, { code: 'ENTITY_NOT_FOUND', status: 404, details: { app: input.app, name: claim.name } });
        const { app, name, kind, role, database, host, port, env, url, createdBy } = record;
        addons.push({ app, name, kind, role, database, host, port, env, url, reused, createdBy });
      }
      return { addons, unprovided: input.claim?.unprovided ?? [] };
    },
  });
}

/**
 * The PostgreSQL addon saga: each addon an app asks for (app.toml `[[addons]] kind =
 * "postgres"`) becomes a database of the app's own on the coordinator's PostgreSQL server — a
 * role (login, a generated password) and a database it owns that no other role may connect to —
 * and its connection URL, sealed, for the app's environment.
 *
 *   claim (record each addon, or find it made) → roles → databases → ready
 *
 * All of the app's addons in one saga, so that a build runs it as one child step however many
 * the app has (none: every step does nothing). An addon outlives the deploy that made it: a
 * later deploy of the app finds it `ready` and reuses it, and this saga's steps and undos leave
 * it alone. Undone, the addons this saga made are dropped (databases, roles, records: the
 * reverse of the order they were made in).
 *
 * Addons of a kind the coordinator has no provider for are not made: the claim lists them as
 * `unprovided`, and the build's config preparation refuses the app, naming the flag to set.
 */
import type { AnyStateMachine } from 'xstate';
import { defineSaga } from './kit/define-saga.js';

/** One addon of the app, as app.toml gives it. */
export interface PostgresAddonRequest {
  readonly kind: 'postgres';
  /** Its name within the app (`[a-z][a-z0-9-]{0,19}`; app.toml's default is `db`). */
  readonly name: string;
}

/** What the saga is started with. */
export interface PostgresAddonInput {
  /** The app (`[a-z0-9][a-z0-9-]{0,62}`). */
  readonly app: string;
  /** Its addons, names unique (app.toml `[[addons]]`, in file order); may be empty. */
  readonly addons: readonly PostgresAddonRequest[];
}

export const POSTGRES_ADDON_MACHINE_ID = 'postgres-addon';
export const POSTGRES_ADDON_MACHINE_VERSION = 1;

type Outputs = Readonly<Record<string, unknown>>;
const given = (input: unknown): PostgresAddonInput => input as PostgresAddonInput;
/** The later steps act on what the claim found: the app and the claimed addons. */
const withClaims = ({ input, outputs }: { input: unknown; outputs: Outputs }): unknown => ({ app: given(input).app, claim: outputs.claim ?? null });

export const postgresAddonMachine: AnyStateMachine = defineSaga({
  id: POSTGRES_ADDON_MACHINE_ID,
  description: "gives an app the PostgreSQL databases its app.toml asks for (role, database, sealed URL each), reusing the ones an earlier deploy made",
  // A server that restarts or is briefly away is waited out; a refusal (bad admin
  // credentials, a name in use) is terminal at once.
  // Run by a build as a child: held once done until the build ends, compensated if it fails.
  nestable: true,
  retry: { maxAttempts: 6, initialDelayMs: 500, maxDelayMs: 30_000 },
  undoRetry: { maxAttempts: 8, initialDelayMs: 500, maxDelayMs: 60_000 },
  steps: [
    {
      name: 'claim',
      run: 'claimAddons',
      undo: 'releaseAddons',
      description: "records each addon for this saga before anything is made (its sealed URL, password included), or finds the app's ready one to reuse",
      input: ({ input }) => ({ app: given(input).app, addons: given(input).addons }),
    },
    {
      name: 'roles',
      run: 'ensureAddonRoles',
      undo: 'dropAddonRoles',
      description: 'makes the login role of each addon this saga claimed, with its recorded password',
      input: withClaims,
    },
    {
      name: 'databases',
      run: 'ensureAddonDatabases',
      undo: 'dropAddonDatabases',
      description: 'makes the database of each addon this saga claimed, owned by its role and closed to every other role',
      input: withClaims,
    },
    {
      name: 'ready',
      run: 'markAddonsReady',
      description: "marks the addons ready for the app's later deploys and outputs them: names, where they are, the sealed URLs",
      input: withClaims,
    },
  ],
});

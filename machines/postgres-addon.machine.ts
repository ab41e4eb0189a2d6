/**
 * The PostgreSQL addon saga: an app gets a database of its own on the coordinator's PostgreSQL
 * server — a role (login, a generated password) and a database it owns that no other role may
 * connect to — and its connection URL, sealed, for the app's environment.
 *
 *   claim (record the addon, or find it made) → role → database → ready
 *
 * An addon outlives the deploy that made it: a later deploy of the app finds it `ready` and
 * reuses it, and every step of that deploy is then a no-op, undos included. Undone, an addon
 * this saga made is dropped (database, role, record: the reverse of the order they were made
 * in); one it reused is left alone. A build saga runs it as a child; a coordinator can also run
 * it on its own.
 */
import type { AnyStateMachine } from 'xstate';
import { defineSaga } from './kit/define-saga.js';

/** What the saga is started with. */
export interface PostgresAddonInput {
  /** The app (`[a-z0-9][a-z0-9-]{0,62}`). */
  readonly app: string;
  /** The addon's name within the app (`[a-z][a-z0-9-]{0,19}`; app.toml's default is `db`). */
  readonly name: string;
  readonly kind: 'postgres';
}

export const POSTGRES_ADDON_MACHINE_ID = 'postgres-addon';
export const POSTGRES_ADDON_MACHINE_VERSION = 1;

type Outputs = Readonly<Record<string, unknown>>;
/** Every step names the addon the same way, and the later ones know what the claim found. */
const addonOf = (input: unknown): Pick<PostgresAddonInput, 'app' | 'name'> => ({ app: (input as PostgresAddonInput).app, name: (input as PostgresAddonInput).name });
const withClaim = ({ input, outputs }: { input: unknown; outputs: Outputs }): unknown => ({ ...addonOf(input), claim: outputs.claim ?? null });

export const postgresAddonMachine: AnyStateMachine = defineSaga({
  id: POSTGRES_ADDON_MACHINE_ID,
  description: 'gives an app a PostgreSQL database of its own (role, database, sealed URL), or reuses the one an earlier deploy made',
  // A server that restarts or is briefly away is waited out; a refusal (bad admin
  // credentials, a name in use) is terminal at once.
  retry: { maxAttempts: 6, initialDelayMs: 500, maxDelayMs: 30_000 },
  undoRetry: { maxAttempts: 8, initialDelayMs: 500, maxDelayMs: 60_000 },
  steps: [
    {
      name: 'claim',
      run: 'claimAddon',
      undo: 'releaseAddon',
      description: "records the addon for this saga before anything is made (its sealed URL, password included), or finds the app's ready one to reuse",
      input: ({ input }) => ({ ...addonOf(input), kind: (input as PostgresAddonInput).kind }),
    },
    {
      name: 'role',
      run: 'ensureAddonRole',
      undo: 'dropAddonRole',
      description: "makes the addon's login role with the recorded password (nothing when reused)",
      input: withClaim,
    },
    {
      name: 'database',
      run: 'ensureAddonDatabase',
      undo: 'dropAddonDatabase',
      description: 'makes the database, owned by the role and closed to every other role (nothing when reused)',
      input: withClaim,
    },
    {
      name: 'ready',
      run: 'markAddonReady',
      description: "marks the addon ready for the app's later deploys and outputs it: names, where it is, the sealed URL",
      input: withClaim,
    },
  ],
});

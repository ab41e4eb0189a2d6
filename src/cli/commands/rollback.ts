/**
 * `jetsaga rollback --app <app> --to <version>`: make an earlier version of an app the active one
 * again (the rollback saga; no rebuild, no new version number), following it like a deploy
 * (../follow-build.ts).
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { BuildOutcome } from '../follow-build.js';
import { appName } from '../arg-parsers.js';
import { globalOptions } from '../global-options.js';
import { exitWith } from '../program-kit.js';

/** `3` or `v3`, as `versions list` shows it. */
function versionNumber(value: string): number {
  const m = /^v?(\d{1,15})$/.exec(value);
  const n = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`takes a version number (3 or v3), got ${JSON.stringify(value)}`);
  return n;
}

/** One line for people; the JSON shape for scripts (the same as deploy's). */
export function describeRollback(o: BuildOutcome, to: number, json: boolean): string {
  if (json) return JSON.stringify({ sagaId: o.sagaId, app: o.app, status: o.status, version: o.version, image: o.image, url: o.url, ...(o.error ? { error: o.error } : {}) });
  if (o.status === 'completed') return `rolled back ${o.app} to v${o.version}: ${o.url} (image ${o.image}, rollback ${o.sagaId})`;
  return `rollback ${o.sagaId} of ${o.app ?? 'the app'} to v${to} ended ${o.status}${o.error ? `: ${o.error.step} failed: ${o.error.message} [${o.error.code}]` : ''}`;
}

export function register(program: Command): void {
  const command = program
    .command('rollback')
    .summary('make an earlier version of an app active again')
    .description(
      'Starts the rollback saga and follows it: under the deployment lock it checks the version ' +
        '(it exists, its build completed, it is not the active one), starts it, waits until it is ' +
        'healthy, makes it active and stops the version it replaced; a failure puts the active ' +
        'version back. The version keeps its number, image and configuration. Phases on stderr, ' +
        'the outcome on stdout. Exit 0 rolled back, 1 failed or refused (nothing changed), 3 no ' +
        'NATS or coordinator, 4 no such app or version, 5 a deploy of the app holds its lock.',
    )
    .requiredOption('--app <name>', 'the app', appName)
    .requiredOption('--to <version>', 'the version to make active again (3 or v3; see `jetsaga versions list --app <name>`)', versionNumber)
    .option('--detach', 'print the rollback id once it has started, and return')
    .option('--wait-lock', 'wait while a deploy of the app holds its lock instead of being refused')
    .addHelpText(
      'after',
      `
Examples:
  $ jetsaga versions list --app shop
  $ jetsaga rollback --app shop --to 3
  $ jetsaga rollback --app shop --to 3 --json
  # {"sagaId":"shop-rollback-…","app":"shop","status":"completed","version":3,"image":"sha256:…","url":"http://127.0.0.1:…"}`,
    );
  command.action(() =>
    exitWith(async () => {
      const opts = command.opts<{ app: string; to: number; detach?: boolean; waitLock?: boolean }>();
      const global = globalOptions(command);
      const { withClient } = await import('../cli-client.js');
      const { followBuild, exitCodeOfBuild } = await import('../follow-build.js');
      return withClient(global, async (client) => {
        // UNKNOWN_APP / UNKNOWN_VERSION (exit 4) and NO_COORDINATOR (exit 3) come from here.
        const { id } = await client.rollback(opts.app, opts.to, { waitForLock: opts.waitLock === true });
        if (opts.detach) {
          console.log(global.json ? JSON.stringify({ sagaId: id, app: opts.app, status: 'running' }) : id);
          return 0;
        }
        console.error(`rolling back ${opts.app} to v${opts.to} (rollback ${id})`);
        const outcome = await followBuild(client, id, (line) => console.error(line), 'rollback');
        if (!outcome) return 130;
        console.log(describeRollback(outcome, opts.to, global.json === true));
        return exitCodeOfBuild(outcome);
      });
    }),
  );
}

/** `jetsaga builds follow <id>`: re-attach to a build's progress, from the start. */
import type { Command } from 'commander';
import { globalOptions } from '../global-options.js';
import { exitWith } from '../program-kit.js';

export function register(program: Command): void {
  const builds = program.command('builds').summary('builds (deploys) in progress or done').description('Builds: the deploys of apps.');
  const follow = builds
    .command('follow')
    .summary("re-attach to a build's progress")
    .description(
      "Shows a running or finished build's progress from the start (also after a coordinator " +
        'restart) and ends with its outcome; the exit code is the outcome: 0 completed, 1 failed ' +
        '(rolled back), 5 refused by the deployment lock, 4 no such build.',
    )
    .argument('<id>', 'the build (saga) id that deploy printed')
    .addHelpText('after', '\nExample:\n  $ jetsaga builds follow node-hello-mx60nted-f0c407fd');
  follow.action((id: string) =>
    exitWith(async () => {
      const global = globalOptions(follow);
      const { withClient } = await import('../cli-client.js');
      const { followBuild, exitCodeOfBuild, describeOutcome } = await import('../follow-build.js');
      return withClient(global, async (client) => {
        const { saga } = await client.getBuild(id); // UNKNOWN_SAGA / UNKNOWN_BUILD (exit 4) before following nothing
        const { ROLLBACK_MACHINE_ID } = await import('../../../machines/rollback.machine.js');
        const rollback = saga.machine === ROLLBACK_MACHINE_ID;
        const outcome = await followBuild(client, id, (line) => console.error(line), rollback ? 'rollback' : 'build');
        if (!outcome) return 130;
        if (rollback) {
          // A rollback (also followed here) is told as one: "rolled back <app> to vN".
          const { describeRollback } = await import('./rollback.js');
          const to = Number((saga.context as { input?: { to?: unknown } } | null)?.input?.to);
          console.log(describeRollback(outcome, to, global.json === true));
        } else console.log(describeOutcome(outcome, global.json === true));
        return exitCodeOfBuild(outcome);
      });
    }),
  );
}

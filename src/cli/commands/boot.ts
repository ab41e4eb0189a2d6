/** `jetsaga boot status [--coordinator <name>]`: the boot state of each coordinator (see ../boot-status.ts). */
import type { Command } from 'commander';
import { globalOptions } from '../global-options.js';
import { exitWith } from '../program-kit.js';

export function register(program: Command): void {
  const boot = program.command('boot').summary('boot dependencies of coordinators').description('Boot dependencies of coordinators.');
  const status = boot
    .command('status')
    .summary('each coordinator\'s boot dependencies; a health check')
    .description(
      'Each boot dependency of each coordinator: state, since, failures, last error. A health ' +
        'check: exits 0 when every coordinator shown runs and all its dependencies are ready, ' +
        '1 when one is stopped (its report is stale) or a dependency is not ready, 3 when NATS ' +
        'cannot be reached, 4 when there is no report.',
    )
    .option('--coordinator <name>', 'only this coordinator (and only it counts for the exit code)')
    .addHelpText(
      'after',
      `
Examples:
  $ jetsaga boot status
  $ jetsaga boot status --coordinator vm --json
  $ jetsaga boot status --nats nats://10.0.0.5:4222 --namespace prod || echo unhealthy`,
    );
  boot.addHelpText('after', '\nExample:\n  $ jetsaga boot status');
  status.action(() =>
    exitWith(async () => {
      const { bootStatus } = await import('../boot-status.js');
      return bootStatus({ ...globalOptions(status), coordinator: status.opts<{ coordinator?: string }>().coordinator }, (line) => console.log(line));
    }),
  );
}

/** `jetsaga serve [--deploy <dir>]`: run a coordinator until SIGINT/SIGTERM (see ../serve.ts). */
import type { Command } from 'commander';
import { globalOptions } from '../global-options.js';
import { exitWith } from '../program-kit.js';

export function register(program: Command): void {
  const command = program
    .command('serve')
    .summary('run a coordinator')
    .description(
      'Run a coordinator: boots NATS, JetStream, staging, the registry, ... in order, embedding ' +
        'nats-server / docker-registry when none is configured or listening, and serves until ' +
        'Ctrl-C (SIGINT) or SIGTERM. Prints one "ready" block on stdout; logs go to stderr.',
    )
    .option('--deploy <dir>', 'once ready, deploy the app in <dir> and print where it answers')
    .addHelpText(
      'after',
      `
Examples:
  $ jetsaga serve
  $ jetsaga serve --deploy examples/node-hello --data-dir /tmp/jetsaga
  $ JETSAGA_NATS_URL=nats://10.0.0.5:4222 jetsaga serve --owner vm-2`,
    );
  command.action(() =>
    exitWith(async () => {
      // Loaded here so that --help and the other commands do not load the coordinator.
      const { serve } = await import('../serve.js');
      return serve(globalOptions(command), { deploy: command.opts<{ deploy?: string }>().deploy });
    }),
  );
}

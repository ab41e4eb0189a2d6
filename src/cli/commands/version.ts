/** `jetsaga version`: the same as `jetsaga --version`. */
import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { version } from '../help.js';
import { exitWith } from '../program-kit.js';

export function register(program: Command): void {
  program
    .command('version')
    .description('print the version')
    .addHelpText('after', '\nExample:\n  $ jetsaga version')
    .action(() =>
      exitWith(() => {
        console.log(version());
        return ExitCode.Ok;
      }),
    );
}

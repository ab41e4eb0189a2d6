/**
 * The `jetsaga` program: global options, the commands (one module each under commands/, each
 * exporting `register(program)`; add a new one to COMMANDS) and how commander reports a usage
 * error (one line on stderr). Nothing here exits: commander throws (exitOverride) and main.ts
 * turns what it throws into an exit code.
 */
import { Command } from 'commander';
import { register as addons } from './commands/addons.js';
import { register as apps } from './commands/apps.js';
import { register as boot } from './commands/boot.js';
import { register as builds } from './commands/builds.js';
import { register as deploy } from './commands/deploy.js';
import { register as rollback } from './commands/rollback.js';
import { register as sagas } from './commands/sagas.js';
import { register as serve } from './commands/serve.js';
import { register as ui } from './commands/ui.js';
import { register as versionCommand } from './commands/version.js';
import { addGlobalOptions } from './global-options.js';
import { HELP_FOOTER, version } from './help.js';

/** The commands, in the order `jetsaga --help` lists them. */
const COMMANDS: readonly ((program: Command) => void)[] = [serve, deploy, rollback, builds, sagas, apps, addons, boot, ui, versionCommand];

export function createProgram(): Command {
  const program = new Command('jetsaga')
    .description('jetsaga — durable sagas on NATS JetStream')
    .version(version(), '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    // Inherited by every command created after this point.
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', HELP_FOOTER);
  addGlobalOptions(program);
  for (const register of COMMANDS) register(program);
  oneLineErrors(program);
  return program;
}

/**
 * Commander's usage errors ("error: unknown option '--x'\n(Did you mean --y?)") as one line
 * naming the help to read, for this command and every command below it.
 */
function oneLineErrors(command: Command, path = command.name()): void {
  command.configureOutput({
    outputError: (message, write) => {
      const text = message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim().replace(/\.$/, '');
      write(`jetsaga: ${text}. Run "${path} --help" for usage.\n`);
    },
  });
  for (const sub of command.commands) oneLineErrors(sub, `${path} ${sub.name()}`);
}

/** `jetsaga deploy <dir> [--app <name>]`: upload an app's source and build it (see ../follow-build.ts). */
import { InvalidArgumentError, type Command } from 'commander';
import { appName } from '../arg-parsers.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { globalOptions } from '../global-options.js';
import { collectSecret, readSecrets, type SecretSpec } from '../secret-options.js';
import { exitWith } from '../program-kit.js';

/** `--env K=V` may be given several times. */
function collectEnv(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`takes NAME=value, got ${JSON.stringify(value)}`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** The app a directory deploys as when --app is not given: app.toml's `name`. */
async function appNameOf(dir: string): Promise<string> {
  const { loadAppConfig } = await import('../../build/app/app-config.js');
  const config = await loadAppConfig(dir).catch((e: unknown) => {
    throw new CliError(`cannot read ${dir}/app.toml: ${(e as Error).message}`, ExitCode.Usage);
  });
  if (config.name === undefined) throw new CliError(`which app? give --app <name>, or set name = "<app>" in ${dir}/app.toml`, ExitCode.Usage);
  return config.name;
}

export function register(program: Command): void {
  const command = program
    .command('deploy')
    .summary('build and run an app from its directory')
    .description(
      'Packs <dir> (honouring .jetsagaignore; .git and node_modules left out), uploads it, starts ' +
        'the build and follows it: phases and onbuild output on stderr, then the version, image and ' +
        'URL on stdout. Ctrl-C stops following, never the build. Exit 0 deployed, 1 the build ' +
        'failed (rolled back), 3 no NATS or coordinator (a brief NATS outage, e.g. a leader election, is ' +
        'waited out for up to 60 s first), 5 the app is being deployed by another build.',
    )
    .argument('<dir>', "the app's directory")
    .option('--app <name>', "the app to deploy ([a-z0-9][a-z0-9-]{0,62}); default: app.toml's name", appName)
    .option('--env <NAME=value>', 'an environment variable of the new version (repeatable)', collectEnv)
    .option(
      '--secret <NAME|NAME=@file>',
      'a secret environment variable of the new version, from your environment variable NAME or from a file (repeatable); journaled encrypted, shown as [redacted]',
      collectSecret,
    )
    .option('--detach', 'print the build id once the build has started, and return')
    .option('--wait-lock', 'wait while another build of the app holds its lock instead of being refused')
    .addHelpText(
      'after',
      `
Examples:
  $ jetsaga deploy examples/node-hello      # the app named in its app.toml
  $ jetsaga deploy examples/node-hello --app node-hello
  $ jetsaga deploy ./shop --app shop --env DATABASE_URL=postgres://127.0.0.1/shop --json
  $ jetsaga deploy ./shop --app shop --secret API_KEY --secret DB_PASSWORD=@./db-password.txt
  $ jetsaga deploy ./shop --app shop --detach && jetsaga builds follow <id>`,
    );
  command.action((dir: string) =>
    exitWith(async () => {
      const opts = command.opts<{ app?: string; env?: Record<string, string>; secret?: SecretSpec[]; detach?: boolean; waitLock?: boolean }>();
      const global = globalOptions(command);
      const { withClient } = await import('../cli-client.js');
      const { followBuild, exitCodeOfBuild, describeOutcome } = await import('../follow-build.js');
      // A missing or unreadable directory is a usage error, before anything is asked of NATS.
      const { stat } = await import('node:fs/promises');
      const isDir = await stat(dir).then(
        (st) => st.isDirectory(),
        () => false,
      );
      if (!isDir) throw new CliError(`cannot deploy ${dir}: not a directory`, ExitCode.Usage);
      const app = opts.app ?? (await appNameOf(dir));
      const secretEnv = opts.secret ? await readSecrets(opts.secret) : undefined;
      const { retryTransient } = await import('../../service/transient-retry.js');
      // A NATS outage (a leader election on a cluster) is waited out, said once per cause.
      let said = '';
      const onRetry = (e: Error): void => {
        if (e.message === said) return;
        said = e.message;
        console.error(`  NATS is unavailable for now (${e.message}); trying again`);
      };
      // One minute for the whole command, however many of its requests meet the outage.
      const retry = { onRetry, outage: { seen: false }, until: Date.now() + 60_000 };
      return withClient(global, async (client) => {
        // A coordinator must answer before anything is uploaded (NO_COORDINATOR / NOT_ADMITTED: exit 3).
        await retryTransient(() => client.listApps(), retry);
        const { id } = await client.deploy(dir, { app, ...(opts.env ? { env: opts.env } : {}), ...(secretEnv ? { secretEnv } : {}), waitForLock: opts.waitLock === true, retry });
        if (opts.detach) {
          console.log(global.json ? JSON.stringify({ sagaId: id, app, status: 'running' }) : id);
          return 0;
        }
        console.error(`deploying ${app} (build ${id})`);
        const outcome = await followBuild(client, id, (line) => console.error(line));
        if (!outcome) return 130;
        console.log(describeOutcome(outcome, global.json === true));
        return exitCodeOfBuild(outcome);
      });
    }),
  );
}

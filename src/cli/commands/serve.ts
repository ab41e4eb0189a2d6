/** `jetsaga serve [--deploy <dir>] [--ui <port>]`: run a coordinator until SIGINT/SIGTERM (see ../serve.ts). */
import type { Command } from 'commander';
import { CONFIG_ENV } from '../../config.js';
import { globalOptions } from '../global-options.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { exitWith } from '../program-kit.js';
import { portNumber } from '../port-option.js';

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
    .option('--ui <port>', 'also serve the visualizer on this port (0: any free one); its URL, with the token, is in the ready block', portNumber)
    .option('--replicas <n>', `replicas of every stream and bucket: 3 on a NATS cluster; refused when the servers cannot hold them (default: 1) (env: ${CONFIG_ENV.replicas})`)
    .option('--lease-ttl-ms <ms>', `coordinator lease TTL: how long a crashed coordinator's sagas wait for a takeover (default: 10000, 30000 with --replicas > 1, to outlast a NATS leader election) (env: ${CONFIG_ENV.leaseTtlMs})`)
    .option('--ui-host <host>', 'where the visualizer listens (default: 127.0.0.1, this machine only)')
    .option('--retain <duration>', 'keep finished sagas this long, then purge them (30m, 12h, 7d; 0: for ever) (env: JETSAGA_RETAIN)')
    .option(
      '--secrets-key-file <file>',
      `the keys that seal deploy secrets: one "<id>:<base64 of 32 bytes>" per line, the first seals, all open; coordinators of a namespace share it (default: JETSAGA_SECRETS_KEY, else <data-dir>/secrets.key, generated) (env: ${CONFIG_ENV.secretsKeyFile})`,
    )
    .option(
      '--addon-postgres <url>',
      `the PostgreSQL server app addons ([[addons]] kind = "postgres" in app.toml) are made on: postgres://<user>[:<password>]@<host>[:<port>]/<database>, a role that may create roles and databases; prefer the variable when the URL holds a password (a command line is visible to every user) (env: ${CONFIG_ENV.addonPostgres})`,
    )
    .option('--metrics <port>', 'serve Prometheus metrics on http://127.0.0.1:<port>/metrics (0: any free port)', portNumber)
    .addHelpText(
      'after',
      `
Examples:
  $ jetsaga serve
  $ jetsaga serve --deploy examples/node-hello --data-dir /tmp/jetsaga
  $ jetsaga serve --ui 8080                 then open the "ui" URL it prints
  $ jetsaga serve --nats 127.0.0.1:4222,127.0.0.1:4223,127.0.0.1:4224 --replicas 3
  $ jetsaga serve --metrics 9464 --retain 30d
  $ jetsaga serve --secrets-key-file /etc/jetsaga/secrets.key
  $ JETSAGA_ADDON_POSTGRES=postgres://postgres@127.0.0.1:5432/postgres jetsaga serve
  $ JETSAGA_NATS_URL=nats://10.0.0.5:4222 jetsaga serve --owner vm-2`,
    );
  command.action(() =>
    exitWith(async () => {
      // Loaded here so that --help and the other commands do not load the coordinator.
      const { serve } = await import('../serve.js');
      const o = command.opts<{ deploy?: string; ui?: number; uiHost?: string; replicas?: string; leaseTtlMs?: string; retain?: string; metrics?: number; secretsKeyFile?: string; addonPostgres?: string }>();
      if (o.uiHost !== undefined && o.ui === undefined) throw new CliError('--ui-host needs --ui <port>', ExitCode.Usage);
      return serve(
        { ...globalOptions(command), replicas: o.replicas, leaseTtlMs: o.leaseTtlMs, ...(o.retain ? { retain: o.retain } : {}), ...(o.secretsKeyFile ? { secretsKeyFile: o.secretsKeyFile } : {}), ...(o.addonPostgres ? { addonPostgres: o.addonPostgres } : {}) },
        { deploy: o.deploy, ...(o.ui === undefined ? {} : { ui: { port: o.ui, host: o.uiHost } }), ...(o.metrics === undefined ? {} : { metricsPort: o.metrics }) },
      );
    }),
  );
}

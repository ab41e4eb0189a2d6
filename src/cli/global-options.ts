/**
 * The options every `jetsaga` command takes (given before or after the command's name). Each
 * setting also comes from its `JETSAGA_*` variable, but that fallback is src/config.ts's job
 * (flag > environment > default, with errors naming where a bad value came from), so the
 * options here have no commander defaults or `.env()`: an option left out stays undefined.
 */
import { Option, type Command } from 'commander';
import { CONFIG_ENV, type ConfigInput } from '../config.js';

/** The options as commander parses them (camel-cased); all strings, checked by loadConfig. */
export interface GlobalOptions extends ConfigInput {
  json?: boolean;
}

const env = (name: keyof typeof CONFIG_ENV): string => `(env: ${CONFIG_ENV[name]})`;

/** Adds the global options to the program; subcommands list them under "Global Options". */
export function addGlobalOptions(program: Command): Command {
  return program
    .addOption(new Option('--nats <url,...>', `NATS server(s), host:port or nats://host:port (tls:// too); never embedded when given ${env('nats')}`))
    .addOption(new Option('--nats-port <port>', `default/embedded NATS port (default: 4222) ${env('natsPort')}`))
    .addOption(new Option('--nats-creds <file>', `NATS user credentials file (JWT and nkey seed) ${env('natsCreds')}`))
    .addOption(new Option('--nats-nkey <file>', `file holding a NATS user nkey seed ${env('natsNkey')}`))
    .addOption(new Option('--nats-user <name>', `NATS user; the password from ${CONFIG_ENV.natsPassword} or --nats-password-file ${env('natsUser')}`))
    .addOption(new Option('--nats-password-file <file>', `file holding the NATS user's password ${env('natsPasswordFile')}`))
    .addOption(new Option('--nats-token-file <file>', `file holding a NATS token (or the token in ${CONFIG_ENV.natsToken}) ${env('natsTokenFile')}`))
    .addOption(new Option('--nats-ca <file>', `PEM CA(s) to verify the NATS server's certificate; implies TLS ${env('natsCa')}`))
    .addOption(new Option('--nats-cert <file>', `PEM client certificate, for NATS servers that verify clients ${env('natsCert')}`))
    .addOption(new Option('--nats-key <file>', `PEM key of --nats-cert ${env('natsKey')}`))
    .addOption(new Option('--registry <host:port>', `OCI registry; never embedded when given ${env('registry')}`))
    .addOption(new Option('--registry-port <port>', `default/embedded registry port (default: 5000) ${env('registryPort')}`))
    .addOption(new Option('--registry-name <host>', `name images are pushed under, resolved by jetsaga itself (default: cluster.local) ${env('registryName')}`))
    .addOption(new Option('--data-dir <dir>', `staging and embedded server data (default: ~/.local/share/jetsaga) ${env('dataDir')}`))
    .addOption(new Option('--owner <name>', `this coordinator's stable name (default: the host name) ${env('owner')}`))
    .addOption(new Option('--namespace <ns>', `prefix of streams, subjects, buckets (default: jetsaga) ${env('namespace')}`))
    .addOption(new Option('--json', 'machine-readable output'));
}

/** The global options given to `command` (or to the program around it), as loadConfig input. */
export function globalOptions(command: Command): GlobalOptions {
  const o = command.optsWithGlobals<GlobalOptions>();
  return {
    nats: o.nats,
    natsPort: o.natsPort,
    natsCreds: o.natsCreds,
    natsNkey: o.natsNkey,
    natsUser: o.natsUser,
    natsPasswordFile: o.natsPasswordFile,
    natsTokenFile: o.natsTokenFile,
    natsCa: o.natsCa,
    natsCert: o.natsCert,
    natsKey: o.natsKey,
    registry: o.registry,
    registryPort: o.registryPort,
    registryName: o.registryName,
    dataDir: o.dataDir,
    owner: o.owner,
    namespace: o.namespace,
    json: o.json,
  };
}

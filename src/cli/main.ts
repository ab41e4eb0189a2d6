#!/usr/bin/env node
/**
 * The `jetsaga` command. Flags override `JETSAGA_*` environment variables, which override
 * defaults (see src/config.ts). Exit codes: see exit-codes.ts.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '../config.js';
import { SagaError } from '../errors.js';
import { bootStatus } from './boot-status.js';
import { CliError, ExitCode } from './exit-codes.js';
import { HELP, version } from './help.js';
import { serve } from './serve.js';

const COMMON = {
  nats: { type: 'string' },
  'nats-port': { type: 'string' },
  registry: { type: 'string' },
  'registry-port': { type: 'string' },
  'registry-name': { type: 'string' },
  'data-dir': { type: 'string' },
  owner: { type: 'string' },
  namespace: { type: 'string' },
  json: { type: 'boolean' },
  deploy: { type: 'string' },
  coordinator: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof COMMON; allowPositionals: true; args: string[] }>>;
  try {
    parsed = parseArgs({ args: argv, options: COMMON, allowPositionals: true, strict: true });
  } catch (e) {
    throw new CliError(`${(e as Error).message}\nRun "jetsaga --help" for usage.`, ExitCode.Usage);
  }
  const { values: v, positionals } = parsed;
  if (v.version) {
    console.log(version());
    return ExitCode.Ok;
  }
  const command = positionals.join(' ');
  if (v.help || command === '' || command === 'help') {
    console.log(HELP);
    return command === '' && !v.help ? ExitCode.Usage : ExitCode.Ok;
  }
  const config = {
    nats: v.nats,
    natsPort: v['nats-port'],
    registry: v.registry,
    registryPort: v['registry-port'],
    registryName: v['registry-name'],
    dataDir: v['data-dir'],
    owner: v.owner,
    namespace: v.namespace,
  };
  switch (command) {
    case 'serve':
      return serve(config, { deploy: v.deploy });
    case 'boot status':
      return bootStatus({ ...config, json: v.json, coordinator: v.coordinator }, (line) => console.log(line));
    case 'version':
      console.log(version());
      return ExitCode.Ok;
    default:
      throw new CliError(`unknown command "${command}"\nRun "jetsaga --help" for usage.`, ExitCode.Usage);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof CliError) {
      console.error(`jetsaga: ${e.message}`);
      process.exitCode = e.exitCode;
    } else if (e instanceof ConfigError) {
      console.error(`jetsaga: ${e.message}`);
      process.exitCode = ExitCode.Usage;
    } else if (e instanceof SagaError) {
      console.error(`jetsaga: ${e.message} [${e.code}]`);
      process.exitCode = ExitCode.Failure;
    } else {
      console.error(`jetsaga: ${(e as Error).stack ?? String(e)}`);
      process.exitCode = ExitCode.Failure;
    }
  },
);

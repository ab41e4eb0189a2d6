/**
 * `jetsaga sagas replay <id> [--to n]`, `jetsaga sagas replay <id> --check` and `jetsaga sagas export <id>`: a saga's journal folded
 * through its machine here, with no side effects — per entry its event, the state it led to, the
 * context diff and the effects the runtime scheduled. `--file <bundle>` replays an exported
 * bundle offline (no NATS). `--check` asks the coordinator to replay the saga on the machine it
 * runs now and name the first entry it takes otherwise than recorded (exit 1 if there is one).
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import type { ReplayEffect, ReplayStep } from '../../runtime/replay.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { globalOptions } from '../global-options.js';
import { exitWith } from '../program-kit.js';

function entryNo(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be an entry number (1 = init)');
  return n;
}

function effectText(e: ReplayEffect): string {
  const r = e as Record<string, unknown>;
  switch (e.kind) {
    case 'step.started':
      return `start ${String(r.src ?? r.id)}${r.attempt && Number(r.attempt) > 1 ? ` (attempt ${String(r.attempt)})` : ''}`;
    case 'step.stopped':
      return `stop ${String(r.id)} (${String(r.outcome)})`;
    default:
      return `${e.kind} ${String(r.id ?? '')}`.trim();
  }
}

function print(steps: readonly ReplayStep[], json: boolean): void {
  if (json) {
    console.log(JSON.stringify(steps.map((s) => ({ no: s.no, event: s.event, state: s.state, contextDiff: s.contextDiff, effects: s.effects }))));
    return;
  }
  for (const s of steps) {
    const event = s.event ? s.event.type : (s.note ?? s.kind);
    const state = s.state === null ? '-' : typeof s.state === 'string' ? s.state : JSON.stringify(s.state);
    console.log(`${String(s.no).padStart(4)}  ${event}`);
    console.log(`      → ${state} [${s.status ?? '-'}]`);
    for (const c of s.contextDiff) console.log(`      ${c.op === 'add' ? '+' : c.op === 'remove' ? '-' : '~'} ${c.path}${c.op === 'remove' ? '' : ` = ${JSON.stringify(c.after)}`.slice(0, 200)}`);
    for (const e of s.effects) console.log(`      ! ${effectText(e)}`);
  }
}

/** `--check`: the coordinator's verdict, as a line (or JSON) and the exit code. */
async function check(id: string, global: ReturnType<typeof globalOptions>): Promise<number> {
  const { withClient } = await import('../cli-client.js');
  return withClient(global, async (client) => {
    const r = await client.checkSaga(id);
    if (global.json) console.log(JSON.stringify(r));
    else if (r.ok) console.log(`replays identically on ${r.machine}@${r.version} (${String(r.entries)} entries)`);
    else console.log(`diverges at entry ${String(r.entry)} (${String(r.event)}) on ${r.machine}@${r.version}: expected ${String(r.expected)}, got ${String(r.actual)}`);
    return r.ok ? 0 : 1;
  });
}

/** The bundle file's JSON; a missing or unreadable file, or one that is not JSON, is a usage error. */
async function readBundleFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read the bundle ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, ExitCode.Usage);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new CliError(`${path} is not a bundle: not JSON (${(e as Error).message})`, ExitCode.Usage);
  }
}

export function register(sagas: Command): void {
  const replay = sagas
    .command('replay')
    .summary("fold a saga's journal through its machine, step by step, with no side effects")
    .argument('[id]', 'the saga (omit with --file)')
    .option('--to <n>', 'stop after entry n', entryNo)
    .option('--file <bundle>', 'replay a bundle written by `jetsaga sagas export` (offline)')
    .option('--check', "the coordinator replays the saga on the machine version it runs now and reports the first entry that diverges (exit 1)")
    .addHelpText(
      'after',
      '\nExamples:\n  $ jetsaga sagas replay node-hello-mx60nted-f0c407fd --to 12\n  $ jetsaga sagas export <id> > saga.json && jetsaga sagas replay --file saga.json --json\n  $ jetsaga sagas replay node-hello-mx60nted-f0c407fd --check',
    );
  replay.action((id: string | undefined) =>
    exitWith(async () => {
      const o = replay.opts<{ to?: number; file?: string; check?: boolean }>();
      const global = globalOptions(replay);
      if (o.check) {
        if (o.file || o.to !== undefined) throw new CliError('--check replays the whole saga on the coordinator: give an id, without --file or --to', ExitCode.Usage);
        if (!id) throw new CliError('--check needs a saga id', ExitCode.Usage);
        return check(id, global);
      }
      const { replaySaga, parseBundle, replayBundle, definitionFor } = await import('../../runtime/replay.js');
      const { knownDefinitions } = await import('../known-machines.js');
      const defs = await knownDefinitions();
      if (o.file) {
        if (id) throw new CliError('give a saga id or --file <bundle>, not both', ExitCode.Usage);
        const bundle = parseBundle(await readBundleFile(o.file));
        print(replayBundle(bundle, defs, { to: o.to }), global.json === true);
        return 0;
      }
      if (!id) throw new CliError('give a saga id, or --file <bundle>', ExitCode.Usage);
      const { withClient } = await import('../cli-client.js');
      return withClient(global, async (client) => {
        const [info, { events }] = await Promise.all([client.getSaga(id), client.sagaEvents(id)]);
        const definition = definitionFor(defs, id, info.machine, info.version);
        print(replaySaga(definition, events as never, { to: o.to, sagaId: id }), global.json === true);
        return 0;
      });
    }),
  );

  const exportCmd = sagas
    .command('export')
    .summary('write a self-contained JSON bundle of a saga (machine, version, journal) to stdout')
    .argument('<id>')
    .addHelpText('after', '\nExample:\n  $ jetsaga sagas export node-hello-mx60nted-f0c407fd > saga.json');
  exportCmd.action((id: string) =>
    exitWith(async () => {
      const global = globalOptions(exportCmd);
      const { exportBundle } = await import('../../runtime/replay.js');
      const { withClient } = await import('../cli-client.js');
      return withClient(global, async (client) => {
        const [info, { events }] = await Promise.all([client.getSaga(id), client.sagaEvents(id)]);
        console.log(JSON.stringify(exportBundle({ id, machine: info.machine, version: info.version }, events as never)));
        return 0;
      });
    }),
  );
}

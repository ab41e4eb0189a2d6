/**
 * `jetsaga sagas fork <id> --from <n> [--dry-run] [--id <newId>]`: a new saga whose journal
 * starts as a copy of entries 1..n of a finished (or blocked) one, driven from there by the
 * coordinator. Exit 0 done, 4 unknown saga, 2 bad entry number, 1 refused (still running,
 * already finished at n, id taken).
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { ForkResult } from '../../runtime/saga-forker.js';
import { globalOptions } from '../global-options.js';
import { exitWith } from '../program-kit.js';

function entryNo(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be an entry number (1 = init)');
  return n;
}

function stateText(state: unknown): string {
  return typeof state === 'string' ? state : JSON.stringify(state);
}

function steps(items: ReadonlyArray<{ id: string; src: string | null; entry?: number; outcome?: string }>, withOutcome = false): string {
  if (items.length === 0) return 'none';
  return items
    .map((s) => {
      const what = [s.src, withOutcome ? s.outcome : undefined, s.entry !== undefined ? `entry ${s.entry}` : undefined].filter(Boolean).join(', ');
      return what ? `${s.id} (${what})` : s.id;
    })
    .join('; ');
}

/** The human form: what the fork is (or would be), and which effects run again. */
function describe(r: ForkResult): string[] {
  const head = r.dryRun
    ? `fork of ${r.source} from entry ${r.from} (dry run: nothing written)`
    : `${r.created ? 'forked' : 'fork exists:'} ${r.source} from entry ${r.from} as ${r.id}${r.saga ? `: ${r.saga.status}` : ''}`;
  return [
    head,
    `  copies ${r.entries} entries of ${r.machine}@${r.version}; goes on from ${stateText(r.state)} [${r.status}]`,
    `  starts again (in flight at entry ${r.from}): ${steps(r.willRun)}`,
    `  runs again (completed by the source after entry ${r.from}): ${steps(r.stepsAfter)}`,
    `  undos the source ran after entry ${r.from}: ${steps(r.undosRun, true)}`,
  ];
}

export function register(sagas: Command): void {
  const fork = sagas
    .command('fork')
    .summary("a new saga from a finished one's journal up to an entry, driven from there")
    .description(
      'Copies entries 1..n of the saga into a new saga and lets the coordinator drive it: steps whose results were copied do not run again, steps in flight at entry n start again (under the new saga\'s idempotency keys). The source must be finished or blocked.',
    )
    .argument('<id>', 'the source saga')
    .requiredOption('--from <n>', 'the entry to fork from (see `jetsaga sagas replay <id>`)', entryNo)
    .option('--id <newId>', "the fork's id (default <id>-f<n>-<random>)")
    .option('--dry-run', 'show which steps would run again and which undos already ran; write nothing')
    .addHelpText('after', '\nExamples:\n  $ jetsaga sagas fork order-17 --from 3 --dry-run\n  $ jetsaga sagas fork order-17 --from 3 --id order-17-retry --json');
  fork.action((id: string) =>
    exitWith(async () => {
      const o = fork.opts<{ from: number; id?: string; dryRun?: boolean }>();
      const global = globalOptions(fork);
      const { withClient } = await import('../cli-client.js');
      return withClient(global, async (client) => {
        const r = (await client.forkSaga(id, { from: o.from, ...(o.id ? { newId: o.id } : {}), ...(o.dryRun ? { dryRun: true } : {}) })) as unknown as ForkResult;
        if (global.json) console.log(JSON.stringify(r));
        else for (const line of describe(r)) console.log(line);
        return 0;
      });
    }),
  );
}

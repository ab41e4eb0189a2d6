/**
 * `jetsaga sagas retry|skip|abandon <id>`: what an operator does with a `blocked` saga — one
 * whose undo failed terminally or kept failing while it compensated. Exit 0 when the saga took
 * the action, 1 when it was refused (the saga is not blocked), 4 for an unknown saga.
 */
import type { Command } from 'commander';
import type { JetsagaClient } from '../../service/client.js';
import { ExitCode } from '../exit-codes.js';
import { globalOptions } from '../global-options.js';
import { exitWith } from '../program-kit.js';

type Verb = 'retry' | 'skip' | 'abandon';

interface Reply {
  readonly id: string;
  readonly accepted: boolean;
  readonly status: string;
  readonly state?: unknown;
}

const ACTIONS: Record<Verb, { summary: string; help: string; call: (c: JetsagaClient, id: string) => Promise<Reply>; done: (id: string) => string }> = {
  retry: {
    summary: 'run the failed undo of a blocked saga again',
    help: `Runs the undo that blocked the saga again, with its attempts starting over, then goes on undoing the rest. Use it once the cause is gone (a service is back, a permission granted).`,
    call: (c, id) => c.retrySaga(id),
    done: (id) => `retrying the failed undo of ${id}: it goes on compensating`,
  },
  skip: {
    summary: 'give up the failed undo of a blocked saga and undo the rest',
    help: `Use it when you undid that step by hand: the failed undo is not run again, and the saga goes on with the other undos, below it on the stack.`,
    call: (c, id) => c.skipSaga(id),
    done: (id) => `skipped the failed undo of ${id}: it goes on with the other undos`,
  },
  abandon: {
    summary: 'stop compensating a blocked saga, leaving the rest undone',
    help: `Stops compensating: neither the failed undo nor the undos below it are run. The saga ends with status cancelled, in state abandoned; "jetsaga sagas show <id>" lists what was left undone (context.abandoned: the failed undo and its error, and the undos never run) for you to clean up by hand.`,
    call: (c, id) => c.abandonSaga(id),
    done: (id) => `abandoned the compensation of ${id}: it is cancelled (state abandoned)`,
  },
};

/** `context.abandoned` of a saga, as text: what the operator still has to clean up. */
function leftUndone(context: unknown): string[] {
  const note = (context as { abandoned?: { failedUndo?: { step: string; undo: string; error?: { code?: string; message?: string } | null }; notRun?: Array<{ step: string; undo: string }> } } | null)?.abandoned;
  if (!note) return [];
  const lines: string[] = [];
  if (note.failedUndo) {
    const e = note.failedUndo.error;
    lines.push(`  failed:  ${note.failedUndo.undo} (undoes ${note.failedUndo.step})${e ? `: ${e.code ?? ''} ${e.message ?? ''}`.trimEnd() : ''}`);
  }
  for (const u of note.notRun ?? []) lines.push(`  not run: ${u.undo} (undoes ${u.step})`);
  return lines;
}

function registerOne(sagas: Command, verb: Verb): void {
  const a = ACTIONS[verb];
  const command = sagas
    .command(verb)
    .summary(a.summary)
    .description(`${a.summary[0]!.toUpperCase()}${a.summary.slice(1)}.\n\n${a.help}\n\nOnly a blocked saga takes it; any other is refused with exit 1 (NOT_BLOCKED).`)
    .argument('<id>')
    .addHelpText('after', `\nExamples:\n  $ jetsaga sagas list --status blocked\n  $ jetsaga sagas ${verb} node-hello-mx60nted-f0c407fd${verb === 'abandon' ? '\n  $ jetsaga sagas show node-hello-mx60nted-f0c407fd --json' : ' --json'}`);
  command.action((id: string) =>
    exitWith(async () => {
      const global = globalOptions(command);
      const { withClient } = await import('../cli-client.js');
      const { SagaError } = await import('../../errors.js');
      return withClient(global, async (client) => {
        let r: Reply;
        try {
          r = await a.call(client, id);
        } catch (e) {
          if (!(e instanceof SagaError) || e.code !== 'NOT_BLOCKED') throw e;
          const status = String(e.details?.status ?? 'unknown');
          console.log(
            global.json
              ? JSON.stringify({ id, accepted: false, status, state: e.details?.state ?? null, error: { code: e.code, message: e.message } })
              : `${id} is ${status}, not blocked: nothing to ${verb}`,
          );
          return ExitCode.Failure;
        }
        if (global.json) console.log(JSON.stringify(r));
        else if (!r.accepted) console.log(`${id} is ${r.status} but its machine did not take saga.${verb}`);
        else {
          console.log(a.done(id));
          if (verb === 'abandon') {
            const left = leftUndone((await client.getSaga(id)).context);
            if (left.length) console.log(`left for you to clean up (see "jetsaga sagas show ${id}"):\n${left.join('\n')}`);
          }
        }
        return r.accepted ? ExitCode.Ok : ExitCode.Failure;
      });
    }),
  );
}

export function register(sagas: Command): void {
  for (const verb of ['retry', 'skip', 'abandon'] as const) registerOne(sagas, verb);
}

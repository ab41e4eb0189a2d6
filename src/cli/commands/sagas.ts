/** `jetsaga sagas list|show|events|cancel|retry|skip|abandon`: sagas of every kind, through the service API. */
import { InvalidArgumentError, type Command } from 'commander';
import { globalOptions } from '../global-options.js';
import { exitWith } from '../program-kit.js';
import { register as registerFork } from './fork.js';
import { register as registerReplay } from './replay.js';
import { register as registerBlocked } from './sagas-blocked.js';

const STATUSES = ['running', 'compensating', 'completed', 'compensated', 'blocked', 'cancelled', 'parked'];

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError('must be an integer from 1 to 1000');
  return n;
}

function status(value: string): string {
  if (!STATUSES.includes(value)) throw new InvalidArgumentError(`must be one of ${STATUSES.join(', ')}`);
  return value;
}

/** The stable JSON shape of one saga (README, "Sagas from the command line"). */
interface Family {
  parent?: unknown;
  children?: unknown;
}

function sagaJson(s: { id: string; machine: string; status: string; owner?: unknown; state?: unknown; context?: unknown; entryNo?: number; updatedAt?: number; forkedFrom?: unknown } & Family): Record<string, unknown> {
  // owner: the coordinator driving the saga (or that last drove it), so a cluster shows who has what.
  const json = { id: s.id, machine: s.machine, status: s.status, owner: typeof s.owner === 'string' ? s.owner : null, state: s.state ?? null, context: s.context ?? null, seq: s.entryNo ?? null, updatedAt: s.updatedAt ?? null };
  // A nested saga's parent and a parent's children: only where there are some.
  return { ...json, ...(s.forkedFrom ? { forkedFrom: s.forkedFrom } : {}), ...(s.parent ? { parent: s.parent } : {}), ...(s.children ? { children: s.children } : {}) };
}

/** The lines `sagas show` prints for a nested saga's parent and a parent's children. */
function familyLines(s: Family): string[] {
  const lines: string[] = [];
  const parent = s.parent as { sagaId: string; step: string } | undefined;
  if (parent) lines.push(`parent:  ${parent.sagaId} (step ${parent.step})`);
  const children = (s.children ?? []) as Array<{ sagaId: string; step: string; machine: string; status: string }>;
  if (children.length > 0) lines.push('children:', ...children.map((c) => `  ${c.step}  ${c.sagaId}  ${c.machine}  ${c.status}`));
  return lines;
}

function stateText(state: unknown): string {
  return typeof state === 'string' ? state : JSON.stringify(state);
}

export function register(program: Command): void {
  const sagas = program.command('sagas').summary('list, inspect, cancel and unblock sagas').description('Sagas of every machine (builds are sagas of machine "build").');

  const list = sagas
    .command('list')
    .summary('sagas in id order, a page at a time')
    .option('--status <status>', `only sagas in this status (${STATUSES.join(', ')})`, status)
    .option('--machine <id>', 'only sagas of this machine, e.g. build')
    .option('--limit <n>', 'at most n sagas (1–1000, default 50)', positiveInt)
    .option('--after <id>', 'the page after this saga id (the last one shown; printed on stderr when there are more)')
    .addHelpText('after', '\nExamples:\n  $ jetsaga sagas list --status running\n  $ jetsaga sagas list --machine build --limit 10 --json\n  $ jetsaga sagas list --limit 10 --after node-hello-mx60nted-f0c407fd');
  list.action(() =>
    exitWith(async () => {
      const o = list.opts<{ status?: string; machine?: string; limit?: number; after?: string }>();
      const global = globalOptions(list);
      const { withClient } = await import('../cli-client.js');
      return withClient(global, async (client) => {
        const { sagas: found, next } = await client.listSagas({
          ...(o.status ? { status: o.status as never } : {}),
          ...(o.machine ? { machine: o.machine } : {}),
          ...(o.after ? { after: o.after } : {}),
          limit: o.limit ?? 50,
        });
        if (global.json) {
          const full = await Promise.all(found.map((s) => client.getSaga(s.id).catch(() => s)));
          console.log(JSON.stringify(full.map((s) => sagaJson(s as never))));
        } else if (found.length === 0) console.log('no sagas');
        else {
          const { formatTable } = await import('../table.js');
          console.log(formatTable(['ID', 'MACHINE', 'STATUS', 'OWNER', 'UPDATED'], found.map((s) => [s.id, s.machine, s.status, typeof s.owner === 'string' ? s.owner : '-', new Date(s.updatedAt).toISOString()])));
        }
        // stdout stays the page (a JSON array with --json); where the next one starts goes to stderr.
        if (next) {
          const same = [o.status && `--status ${o.status}`, o.machine && `--machine ${o.machine}`, o.limit && `--limit ${o.limit}`, global.json && '--json'].filter(Boolean).join(' ');
          console.error(`more: jetsaga sagas list ${same ? `${same} ` : ''}--after ${next}`);
        }
        return 0;
      });
    }),
  );

  const show = sagas.command('show').summary("a saga's status, state and context").argument('<id>').addHelpText('after', '\nExample:\n  $ jetsaga sagas show node-hello-mx60nted-f0c407fd --json');
  show.action((id: string) =>
    exitWith(async () => {
      const global = globalOptions(show);
      const { withClient } = await import('../cli-client.js');
      return withClient(global, async (client) => {
        const s = await client.getSaga(id);
        if (global.json) console.log(JSON.stringify(sagaJson(s)));
        else {
          const { colourEnabled, palette, statusText } = await import('../colour.js');
          console.log(`${s.id}  ${s.machine}  ${statusText(s.status, palette(colourEnabled(process.stdout)))}  (entry ${s.entryNo}, ${new Date(s.updatedAt).toISOString()})`);
          if (typeof s.owner === 'string') console.log(`owner:   ${s.owner}`);
          const forked = s.forkedFrom as { sagaId: string; entry: number } | undefined;
          if (forked) console.log(`forked from ${forked.sagaId} at entry ${forked.entry}`);
          for (const line of familyLines(s)) console.log(line);
          console.log(`state:   ${stateText(s.state)}`);
          console.log(`context: ${JSON.stringify(s.context, null, 2)}`);
        }
        return 0;
      });
    }),
  );

  const events = sagas
    .command('events')
    .summary("a saga's journal: every input it consumed")
    .argument('<id>')
    .option('--follow', 'go on printing entries as they are journaled until the saga is completed, compensated or cancelled (--json: one object per line)')
    .addHelpText('after', '\nExamples:\n  $ jetsaga sagas events node-hello-mx60nted-f0c407fd\n  $ jetsaga sagas events node-hello-mx60nted-f0c407fd --follow --json');
  events.action((id: string) =>
    exitWith(async () => {
      const global = globalOptions(events);
      const { withClient } = await import('../cli-client.js');
      const { eventLine } = await import('../event-line.js');
      return withClient(global, async (client) => {
        if (events.opts<{ follow?: boolean }>().follow) {
          const { followEvents } = await import('../follow-events.js');
          await client.getSaga(id); // UNKNOWN_SAGA (exit 4), NO_COORDINATOR (exit 3) before following
          return followEvents(client, id, global.json === true, (line) => console.log(line), (line) => console.error(line));
        }
        const { events: journal } = await client.sagaEvents(id);
        if (global.json) console.log(JSON.stringify(journal));
        else for (const e of journal) console.log(eventLine(e));
        return 0;
      });
    }),
  );

  const cancel = sagas.command('cancel').summary('cancel a saga: it undoes what it did').argument('<id>').addHelpText('after', '\nExample:\n  $ jetsaga sagas cancel node-hello-mx60nted-f0c407fd');
  cancel.action((id: string) =>
    exitWith(async () => {
      const global = globalOptions(cancel);
      const { withClient } = await import('../cli-client.js');
      return withClient(global, async (client) => {
        const r = await client.cancelSaga(id);
        console.log(global.json ? JSON.stringify(r) : r.accepted ? `cancelling ${id}: it undoes what it did` : `${id} is ${r.status}: nothing to cancel`);
        return r.accepted ? 0 : 1;
      });
    }),
  );
  registerBlocked(sagas);
  registerReplay(sagas);
  registerFork(sagas);
}

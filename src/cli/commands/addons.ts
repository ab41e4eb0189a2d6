/** `jetsaga addons list --app <app>` and `jetsaga addons show <app> <name>`: an app's databases. */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { ADDON_NAME_PATTERN, ADDON_NAME_RULE } from '../../addons/addon-names.js';
import { appName } from '../arg-parsers.js';
import { globalOptions } from '../global-options.js';
import { exitWith } from '../program-kit.js';

/** What the API answers for an addon (the URL's password is already `[redacted]`). */
interface AddonRow {
  name: string;
  kind: string;
  state: string;
  url: string;
  env?: string;
  database?: string;
  role?: string;
  createdBy?: string;
  createdAt?: number;
  readyAt?: number | null;
}

function addonName(value: string): string {
  if (!ADDON_NAME_PATTERN.test(value)) throw new InvalidArgumentError(`"${value}" is not an addon name: it ${ADDON_NAME_RULE}`);
  return value;
}

const when = (ms: number | null | undefined): string => (typeof ms === 'number' ? new Date(ms).toISOString() : '-');

export function register(program: Command): void {
  const addons = program
    .command('addons')
    .summary("an app's addons (its PostgreSQL databases)")
    .description("Addons: the databases app.toml's [[addons]] asked for, made by a deploy and reused by the app's later deploys. Passwords are never shown.");

  const list = addons.command('list').summary("an app's addons").requiredOption('--app <name>', 'the app', appName);
  list.action(() =>
    exitWith(async () => {
      const global = globalOptions(list);
      const app = list.opts<{ app: string }>().app;
      const { withClient } = await import('../cli-client.js');
      return withClient(global, async (client) => {
        const found = (await client.listAddons(app)).addons as AddonRow[];
        if (global.json) console.log(JSON.stringify(found));
        else if (found.length === 0) console.log(`app "${app}" has no addons`);
        else {
          const { formatTable } = await import('../table.js');
          console.log(formatTable(['NAME', 'KIND', 'STATE', 'ENV', 'URL'], found.map((a) => [a.name, a.kind, a.state, a.env ?? '-', a.url])));
        }
        return 0;
      });
    }),
  );

  const show = addons.command('show').summary('one addon: where it is, who made it').argument('<app>', 'the app', appName).argument('<name>', 'the addon (app.toml [[addons]] name; default "db")', addonName);
  show.action((app: string, name: string) =>
    exitWith(async () => {
      const global = globalOptions(show);
      const { withClient } = await import('../cli-client.js');
      return withClient(global, async (client) => {
        const a = (await client.getAddon(app, name)).addon as AddonRow;
        if (global.json) console.log(JSON.stringify(a));
        else {
          const lines: Array<[string, string]> = [
            ['addon', `${app}/${a.name} (${a.kind})`],
            ['state', a.state],
            ['env', a.env ?? '-'],
            ['url', a.url],
            ['database', a.database ?? '-'],
            ['role', a.role ?? '-'],
            ['made by', a.createdBy ?? '-'],
            ['created', when(a.createdAt)],
            ['ready', when(a.readyAt)],
          ];
          for (const [k, v] of lines) console.log(`${k.padEnd(9)} ${v}`);
        }
        return 0;
      });
    }),
  );
}

/** `jetsaga apps list|show` and `jetsaga versions list --app`: what is deployed. */
import type { Command } from 'commander';
import { appName } from '../arg-parsers.js';
import { globalOptions } from '../global-options.js';
import { exitWith } from '../program-kit.js';

interface VersionRow {
  version: number;
  status: string;
  image?: { digest?: string } | null;
  createdAt?: number | null;
}

export function register(program: Command): void {
  const apps = program.command('apps').summary('deployed apps').description('Apps: their active version and what runs.');
  const list = apps.command('list').summary('every app and its active version');
  list.action(() =>
    exitWith(async () => {
      const global = globalOptions(list);
      const { withClient } = await import('../cli-client.js');
      return withClient(global, async (client) => {
        const { apps: found } = await client.listApps();
        if (global.json) console.log(JSON.stringify(found));
        else if (found.length === 0) console.log('no apps');
        else {
          const { formatTable } = await import('../table.js');
          const rows = (found as Array<{ name: string; activeVersion?: number | null }>).map((a) => [a.name, a.activeVersion ? `v${a.activeVersion}` : '-']);
          console.log(formatTable(['APP', 'ACTIVE'], rows));
        }
        return 0;
      });
    }),
  );
  const show = apps.command('show').summary('an app: versions and running sandboxes').argument('<app>', 'the app', appName);
  show.action((name: string) =>
    exitWith(async () => {
      const global = globalOptions(show);
      const { withClient } = await import('../cli-client.js');
      return withClient(global, async (client) => {
        const r = await client.getApp(name);
        if (global.json) console.log(JSON.stringify(r));
        else {
          const app = r.app as { name: string; activeVersion?: number | null };
          console.log(`${app.name}: active ${app.activeVersion ? `v${app.activeVersion}` : 'none'}`);
          for (const s of (r.sandboxes ?? []) as Array<{ id: string; version: number; port?: number | null }>) {
            console.log(`  sandbox ${s.id}: v${s.version} at http://127.0.0.1:${s.port ?? '?'}`);
          }
        }
        return 0;
      });
    }),
  );

  const versions = program.command('versions').summary("an app's versions").description("An app's versions.");
  const vlist = versions.command('list').summary("an app's versions, newest last").requiredOption('--app <name>', 'the app', appName);
  vlist.action(() =>
    exitWith(async () => {
      const global = globalOptions(vlist);
      const app = vlist.opts<{ app: string }>().app;
      const { withClient } = await import('../cli-client.js');
      return withClient(global, async (client) => {
        const r = await client.listVersions(app);
        const rows = (r.versions as VersionRow[]).map((v) => ({ version: v.version, active: v.status === 'active', image: v.image?.digest ?? null, createdAt: v.createdAt ?? null, status: v.status }));
        if (global.json) console.log(JSON.stringify(rows.map(({ status: _status, ...v }) => v)));
        else {
          const { formatTable } = await import('../table.js');
          console.log(formatTable(['VERSION', 'STATUS', 'IMAGE'], rows.map((v) => [`v${v.version}`, v.status, v.image ?? '-'])));
        }
        return 0;
      });
    }),
  );
}

/** `jetsaga ui [--port <p>] [--host <h>] [--offline]`: the visualizer on its own (see ../ui.ts). */
import type { Command } from 'commander';
import { globalOptions } from '../global-options.js';
import { portNumber } from '../port-option.js';
import { exitWith } from '../program-kit.js';

export function register(program: Command): void {
  const command = program
    .command('ui')
    .summary('serve the visualizer: machines, live sagas, timelines, the boot graph')
    .description(
      'Serve the visualizer, a web page drawing every machine as a statechart with the sagas on it, ' +
        "their timelines and compensation plans, and each coordinator's boot graph, against the " +
        'coordinators on NATS (found like every command finds them: --nats, JETSAGA_NATS_URL, the ' +
        'coordinator of --data-dir, the default port). Prints the URL to open — it holds a random ' +
        'token, required on every request — and serves until Ctrl-C. With --offline, or when NATS ' +
        'cannot be reached, it serves bundles opened in the page only (`jetsaga sagas export`). A NATS ' +
        "that refuses the credentials, or a user not allowed the namespace's service API, ends it at " +
        'start (exit 3).',
    )
    .option('--port <port>', 'the port (0: any free one)', portNumber, 0)
    .option('--host <host>', 'where to listen (127.0.0.1: this machine only)', '127.0.0.1')
    .option('--offline', 'no NATS: open exported saga bundles only')
    .addHelpText(
      'after',
      `
Examples:
  $ jetsaga ui --port 8080
  $ jetsaga ui --nats nats://10.0.0.5:4222 --namespace prod
  $ jetsaga sagas export node-hello-mx60nted-f0c407fd > saga.json && jetsaga ui --offline`,
    );
  command.action(() =>
    exitWith(async () => {
      const o = command.opts<{ port: number; host: string; offline?: boolean }>();
      const global = globalOptions(command);
      const { ui } = await import('../ui.js');
      return ui(global, { port: o.port, host: o.host, offline: o.offline === true, json: global.json === true });
    }),
  );
}

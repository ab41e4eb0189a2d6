/**
 * `jetsaga serve`: boots a coordinator (embedding nats-server and a registry where none is
 * configured or listening) and runs until SIGINT/SIGTERM, then stops in reverse boot order.
 * With `--ui <port>` it also serves the visualizer once work is admitted (stopped first).
 */
import { loadConfig, type ConfigInput } from '../config.js';
import { Coordinator } from '../coordinator.js';
import { createLogger } from '../log.js';
import type { UiServerHandle } from '../ui/server/server.js';
import { startMetricsServer, type MetricsServerHandle } from '../metrics/metrics-server.js';
import { sagaBindings } from '../sagas.js';
import { removeCoordinatorRecord, writeCoordinatorRecord } from './coordinator-record.js';
import { ExitCode } from './exit-codes.js';
import { readyBlock } from './ready-block.js';
import { deployOnServe } from './serve-deploy.js';
import { warnIfExposed } from './ui-host.js';

export interface ServeOptions {
  readonly deploy?: string;
  /** Serve the visualizer too (port 0: any free port; host default 127.0.0.1). */
  readonly ui?: { readonly port: number; readonly host?: string };
  /** Serve Prometheus metrics on 127.0.0.1:<port>/metrics (0: any free port). */
  readonly metricsPort?: number;
}

export async function serve(input: ConfigInput, options: ServeOptions = {}): Promise<number> {
  const config = loadConfig(input);
  // Logs go to stderr so stdout stays for the one "ready" line scripts can wait for.
  const logger = createLogger({ destination: process.stderr });
  const coordinator = new Coordinator({ config, machines: sagaBindings(), logger, builds: true, service: true });

  let ui: UiServerHandle | undefined;
  let metrics: MetricsServerHandle | undefined;
  let signals = 0;
  const stopped = new Promise<number>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      if (++signals > 1) process.exit(130);
      logger.info({ signal: sig }, 'stopping');
      // The visualizer first: its streams and pollers use the coordinator's connection.
      void Promise.all([ui?.close(), metrics?.close()])
        .then(() => coordinator.stop())
        .then(() => removeCoordinatorRecord(config.dataDir).catch(() => undefined))
        .then(() => resolve(ExitCode.Ok));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });

  const booted = coordinator.start().then(
    async () => {
      if (options.ui) {
        try {
          const { startUiServer } = await import('../ui/server/server.js');
          ui = await startUiServer({
            nc: coordinator.nats,
            namespace: config.namespace,
            natsUrl: coordinator.natsUrl,
            port: options.ui.port,
            ...(options.ui.host === undefined ? {} : { host: options.ui.host }),
            logger,
          });
        } catch (e) {
          // Asked for and not there (e.g. the port is taken): not a coordinator to leave running.
          console.error(`jetsaga serve: the visualizer could not start: ${(e as Error).message}`);
          await coordinator.stop();
          return ExitCode.Failure;
        }
        warnIfExposed(ui.host, (line) => console.error(line));
      }
      if (options.metricsPort !== undefined) {
        try {
          metrics = await startMetricsServer({ port: options.metricsPort, render: () => coordinator.metrics.render() });
        } catch (e) {
          console.error(`jetsaga serve: the metrics endpoint could not start: ${(e as Error).message}`);
          await ui?.close();
          await coordinator.stop();
          return ExitCode.Failure;
        }
      }
      // CLI commands run with this data dir find this coordinator's NATS from the record.
      if (coordinator.natsUrl !== undefined) {
        await writeCoordinatorRecord(config.dataDir, {
          natsUrl: coordinator.natsUrl,
          namespace: config.namespace,
          owner: config.owner,
          pid: process.pid,
          startedAt: Date.now(),
        }).catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'coordinator record not written'));
      }
      console.log(readyBlock(coordinator, { ...(ui ? { uiUrl: ui.url } : {}), ...(metrics ? { metricsUrl: metrics.url } : {}) }));
      if (options.deploy !== undefined) {
        // A failed deploy is reported; the coordinator keeps serving (the build rolled back).
        void deployOnServe(coordinator, options.deploy, (line) => console.error(line)).then(
          (line) => console.log(line),
          (e: unknown) => console.error(`jetsaga serve: deploy failed: ${(e as Error).message}`),
        );
      }
      return undefined;
    },
    async (e: unknown) => {
      if (signals > 0) return undefined;
      console.error(`jetsaga serve: boot failed: ${(e as Error).message}`);
      await ui?.close();
      await metrics?.close();
      await coordinator.stop();
      return ExitCode.Failure;
    },
  );
  const failed = await booted;
  if (failed !== undefined) return failed;
  return stopped;
}

/**
 * The block `jetsaga serve` prints on stdout once it admits work. It says, for NATS and the
 * registry, whether jetsaga runs them (embedded: they stop with it) or uses one that was
 * already there (given by flag, or found listening on the default port): an operator must
 * know which processes are theirs to look after.
 */
import { Dep } from '../boot/coordinator-graph.js';
import type { Coordinator } from '../coordinator.js';
import { parsePostgresUrl } from '../addons/postgres-url.js';

export function readyBlock(coordinator: Coordinator, options: { uiUrl?: string; metricsUrl?: string } = {}): string {
  const { config, graph } = coordinator;
  const pids = coordinator.embeddedPids();
  const whose = (pid: number | undefined, dependency: string, given: boolean): string => {
    if (pid) return ` (embedded, pid ${pid})`;
    if (graph.isReady(dependency)) return ' (already running, not managed by jetsaga)';
    // Admission does not wait for the registry: with none given, whether it is found or
    // embedded is not decided yet (the boot log says which, and `jetsaga boot status`).
    return given ? ' (not managed by jetsaga)' : ' (starting: found or embedded, see the log)';
  };
  const waiting = graph.statuses().filter((s) => !s.ready);
  // Checked at start-up already; shown without its password.
  const postgres = config.addonPostgres === undefined ? undefined : parsePostgresUrl(config.addonPostgres);
  return [
    `jetsaga coordinator "${config.owner}" ready`,
    `  nats      ${coordinator.natsUrl}${whose(pids.nats, Dep.Nats, config.nats.url !== undefined)}`,
    `  registry  ${coordinator.registryUrl ?? `${config.registry.name} (not mapped yet)`}${whose(pids.registry, Dep.Registry, config.registry.address !== undefined)}`,
    `  data dir  ${config.dataDir}`,
    ...(typeof postgres === 'object' ? [`  postgres  ${postgres.redacted} (app addons; not managed by jetsaga)`] : []),
    ...(options.uiUrl ? [`  ui        ${options.uiUrl}`] : []),
    ...(options.metricsUrl ? [`  metrics   ${options.metricsUrl}`] : []),
    ...waiting.map((s) => `  waiting for ${s.name}: ${s.lastError ?? s.state} (sagas that need it wait)`),
  ].join('\n');
}

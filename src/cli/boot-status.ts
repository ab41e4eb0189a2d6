/**
 * `jetsaga boot status [--json] [--coordinator <name>]`: every dependency of every coordinator,
 * from the readiness bucket. Exits 0 when all is well, 1 when a coordinator shown is stopped or
 * one of its dependencies is not ready (see boot-health.ts), 3 when NATS cannot be reached and
 * 4 when there is no report at all: usable as a health check.
 */
import { coordinatorsRunning } from '../boot/coordinators-running.js';
import { readReadiness, type ReadinessRecord } from '../boot/readiness-bus.js';
import { loadConfig, type ConfigInput } from '../config.js';
import { bootProblems } from './boot-health.js';
import { connectCli } from './cli-nats.js';
import { ExitCode } from './exit-codes.js';
import { formatTable } from './table.js';

export async function bootStatus(
  input: ConfigInput & { json?: boolean; coordinator?: string },
  out: (line: string) => void,
  err: (line: string) => void = (line) => console.error(line),
): Promise<number> {
  const config = loadConfig(input);
  const nc = await connectCli(config);
  try {
    const records = (await readReadiness(nc, { namespace: config.namespace, coordinator: input.coordinator })).sort(
      (a, b) => a.coordinator.localeCompare(b.coordinator) || a.layer - b.layer || a.name.localeCompare(b.name),
    );
    const running = await coordinatorsRunning(nc, config.namespace, new Set(records.map((r) => r.coordinator)));
    if (input.json) {
      out(JSON.stringify(records.map((r) => ({ ...r, error: r.ready ? null : r.lastError, coordinatorRunning: running.get(r.coordinator) ?? null }))));
    } else if (records.length === 0) {
      out(`no boot status in namespace "${config.namespace}"${input.coordinator ? ` for coordinator "${input.coordinator}"` : ''} yet`);
    } else {
      out(formatTable(['COORDINATOR', 'DEPENDENCY', 'STATE', 'SINCE', 'FAILURES', 'LAST ERROR'], records.map(row)));
      // Readiness is written on change only: a coordinator that died keeps its last report.
      for (const [name, up] of running) {
        if (up === false) out(`\ncoordinator "${name}" is not running (its lease has lapsed): the states above are its last report`);
      }
    }
    if (records.length === 0) return ExitCode.NotFound;
    const problems = bootProblems(records, running);
    for (const p of problems) err(`jetsaga: unhealthy: ${p}`);
    return problems.length > 0 ? ExitCode.Failure : ExitCode.Ok;
  } finally {
    await nc.close();
  }
}

function row(r: ReadinessRecord): string[] {
  return [r.coordinator, r.name, r.state, `${new Date(r.since).toISOString()} (${ago(Date.now() - r.since)})`, String(r.failures), r.ready ? '' : (r.lastError ?? '')];
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

/**
 * The boot panel's data: each coordinator's dependency graph from the readiness records
 * (`boot.status`), with whether the coordinator still runs (boot/coordinators-running.ts, read
 * as `jetsaga boot status` reads it: readiness is written on change only, and a dead
 * coordinator keeps its last report).
 */
import type { ReadinessRecord } from '../../boot/readiness-bus.js';
import type { BootCoordinatorView, BootDependencyView } from '../api-types.js';

/** A readiness record as `boot.status` answers it (read defensively: an older coordinator may lack fields). */
type ReadinessLike = ReadinessRecord;

function dependencyView(r: ReadinessLike): BootDependencyView {
  const loose = r as unknown as Record<string, unknown>;
  const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  return {
    name: r.name,
    state: text(loose.state) ?? (r.ready ? 'ready' : 'unknown'),
    ready: r.ready,
    since: typeof loose.since === 'number' ? loose.since : typeof loose.at === 'number' ? loose.at : 0,
    error: r.ready ? null : text(loose.lastError),
    dependsOn: Array.isArray(loose.dependsOn) ? loose.dependsOn.filter((d): d is string => typeof d === 'string') : [],
    layer: typeof loose.layer === 'number' ? loose.layer : 0,
  };
}

export function bootCoordinators(records: readonly ReadinessLike[], running: ReadonlyMap<string, boolean | null>): BootCoordinatorView[] {
  const byCoordinator = new Map<string, BootDependencyView[]>();
  for (const r of records) {
    let deps = byCoordinator.get(r.coordinator);
    if (!deps) byCoordinator.set(r.coordinator, (deps = []));
    deps.push(dependencyView(r));
  }
  return [...byCoordinator.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, deps]) => ({
      name,
      running: running.get(name) ?? null,
      dependencies: deps.sort((a, b) => a.layer - b.layer || a.name.localeCompare(b.name)),
    }));
}

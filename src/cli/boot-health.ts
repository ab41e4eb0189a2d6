/**
 * Whether `jetsaga boot status` reports a healthy system, so that it can serve as a health
 * check: every coordinator shown is running (its lease is live: otherwise its report is stale)
 * and every one of its dependencies is ready. `--coordinator` narrows what is shown, and so
 * what counts.
 */
import type { ReadinessRecord } from '../boot/readiness-bus.js';

/**
 * One line per problem; none means healthy. `running` maps each coordinator to whether its
 * lease is live (false: lapsed or released), or null when it never took one.
 */
export function bootProblems(records: readonly ReadinessRecord[], running: ReadonlyMap<string, boolean | null>): string[] {
  const problems: string[] = [];
  const stopped = new Set<string>();
  for (const [name, up] of running) {
    if (up !== false) continue;
    stopped.add(name);
    problems.push(`coordinator "${name}" is not running (its lease has lapsed or was released): its report is stale`);
  }
  for (const r of records) {
    // A stopped coordinator's dependencies say nothing more than that it stopped.
    if (r.ready || stopped.has(r.coordinator)) continue;
    problems.push(`coordinator "${r.coordinator}": ${r.name} is ${r.state}${r.lastError ? ` (${r.lastError})` : ''}`);
  }
  return problems;
}

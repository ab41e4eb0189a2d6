/**
 * A boot graph declared as data: each dependency names what it depends on and how to check,
 * start and stop it. `planBoot` validates the declaration (names, unknown dependencies,
 * cycles) and orders it into layers: every dependency of layer k sits in a layer below k, so
 * a layer starts in parallel and the layers stop in reverse.
 */
import type { RetryPolicy } from '../../machines/kit/backoff.js';
import { ErrorCode, SagaError } from '../errors.js';
import type { Logger } from '../log.js';

/** What the hooks of a dependency receive. */
export interface BootHookContext {
  readonly name: string;
  /** Aborted when the graph stops (or a stop hook runs out of time). */
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

export interface BootDependency {
  /** `[a-z0-9_-]`, also the last token of its readiness subject. */
  readonly name: string;
  readonly dependsOn?: readonly string[];
  /** Resolves when the dependency is usable; throws (with a reason) when it is not. */
  readonly check: (ctx: BootHookContext) => Promise<void> | void;
  /** Brings it up (once, before the first check), e.g. spawns an embedded server. */
  readonly start?: (ctx: BootHookContext) => Promise<void> | void;
  /** Takes it down on shutdown; bounded by `stopTimeoutMs`. */
  readonly stop?: (ctx: BootHookContext) => Promise<void> | void;
  /** How often a ready dependency is checked again (0 = never). Default 0. */
  readonly healthIntervalMs?: number;
  /** Backoff between failed checks (never gives up: boot waits for it). */
  readonly retry?: Partial<RetryPolicy>;
  /** Default 10 s. */
  readonly stopTimeoutMs?: number;
  readonly description?: string;
}

export class BootGraphError extends SagaError {
  override name = 'BootGraphError';
  constructor(message: string, details: Record<string, unknown>) {
    super(ErrorCode.BootGraphInvalid, message, { status: 400, details });
  }
}

export class UnknownDependencyError extends SagaError {
  override name = 'UnknownDependencyError';
  constructor(readonly dependency: string) {
    super(ErrorCode.UnknownDependency, `unknown boot dependency "${dependency}"`, { status: 404, details: { dependency } });
  }
}

const NAME = /^[a-z0-9_-]{1,64}$/;

export interface BootPlan {
  readonly deps: ReadonlyMap<string, BootDependency>;
  /** Layer 0 has no dependencies; each later layer depends only on layers below it. */
  readonly layers: readonly (readonly string[])[];
  /** Every dependency's transitive dependencies. */
  readonly ancestors: ReadonlyMap<string, ReadonlySet<string>>;
}

export function planBoot(deps: readonly BootDependency[]): BootPlan {
  const byName = new Map<string, BootDependency>();
  for (const d of deps) {
    if (!NAME.test(d.name)) throw new BootGraphError(`boot dependency name "${d.name}" must match ${NAME}`, { name: d.name });
    if (byName.has(d.name)) throw new BootGraphError(`boot dependency "${d.name}" is declared twice`, { name: d.name });
    byName.set(d.name, d);
  }
  const unknown: string[] = [];
  for (const d of deps) for (const on of d.dependsOn ?? []) if (!byName.has(on)) unknown.push(`${d.name} → ${on}`);
  if (unknown.length > 0) throw new BootGraphError(`unknown boot dependencies: ${unknown.join(', ')}`, { unknown });

  const cycle = findCycle(byName);
  if (cycle) throw new BootGraphError(`boot dependencies form a cycle: ${cycle.join(' → ')}`, { cycle });

  const depth = new Map<string, number>();
  const depthOf = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    const d = Math.max(-1, ...(byName.get(name)!.dependsOn ?? []).map(depthOf)) + 1;
    depth.set(name, d);
    return d;
  };
  const layers: string[][] = [];
  for (const d of deps) (layers[depthOf(d.name)] ??= []).push(d.name);

  const ancestors = new Map<string, Set<string>>();
  for (const layer of layers) {
    for (const name of layer) {
      const set = new Set<string>();
      for (const on of byName.get(name)!.dependsOn ?? []) {
        set.add(on);
        for (const a of ancestors.get(on)!) set.add(a);
      }
      ancestors.set(name, set);
    }
  }
  return { deps: byName, layers, ancestors };
}

/** A cycle as a closed path (`a → b → a`), or undefined. Depth-first with colours. */
function findCycle(byName: ReadonlyMap<string, BootDependency>): string[] | undefined {
  const colour = new Map<string, 'grey' | 'black'>();
  const path: string[] = [];
  const visit = (name: string): string[] | undefined => {
    colour.set(name, 'grey');
    path.push(name);
    for (const on of byName.get(name)!.dependsOn ?? []) {
      const c = colour.get(on);
      if (c === 'grey') return [...path.slice(path.indexOf(on)), on];
      if (c === undefined) {
        const found = visit(on);
        if (found) return found;
      }
    }
    path.pop();
    colour.set(name, 'black');
    return undefined;
  };
  for (const name of byName.keys()) {
    if (colour.has(name)) continue;
    const found = visit(name);
    if (found) return found;
  }
  return undefined;
}

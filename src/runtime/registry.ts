/**
 * The machines a coordinator drives, by id and version. Every binding is checked when it is
 * registered, so a machine that invokes a step nobody implements fails at start-up with a
 * message naming it, not hours later in the middle of a saga.
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { isChildSrc } from '../../machines/kit/child-step.js';
import { InvalidArgumentError, MachineVersionMismatchError, UnknownMachineError } from '../errors.js';
import { childStepsOf, isNestable } from './child-steps.js';
import type { SagaBinding } from './types.js';

const MACHINE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export class MachineRegistry {
  private readonly byId = new Map<string, SagaBinding[]>();

  constructor(bindings: readonly SagaBinding[]) {
    for (const b of bindings) this.add(b);
    this.checkChildren();
  }

  /** Every child step must name a machine registered here that may run as a child. */
  private checkChildren(): void {
    for (const b of this.all()) {
      for (const { step, machine } of childStepsOf(b.machine)) {
        const child = this.byId.get(machine)?.[0];
        const problem = !child ? 'is not registered here' : !isNestable(child.machine) ? 'is not nestable (defineSaga({ nestable: true }))' : undefined;
        if (problem) {
          throw new InvalidArgumentError(`machine ${b.id}@${b.version}, step "${step}": child machine "${machine}" ${problem}`, {
            machine: `${b.id}@${b.version}`,
            step,
            child: machine,
          });
        }
      }
    }
  }

  private add(binding: SagaBinding): void {
    const { id, version } = binding;
    if (!MACHINE_ID.test(id)) throw new InvalidArgumentError(`machine id "${id}" must match ${MACHINE_ID}`);
    if (!Number.isInteger(version) || version < 1) {
      throw new InvalidArgumentError(`machine ${id}: version must be a positive integer, got ${version}`);
    }
    const versions = this.byId.get(id) ?? [];
    if (versions.some((v) => v.version === version)) throw new InvalidArgumentError(`machine ${id}@${version} is registered twice`);
    checkSteps(binding);
    versions.push(binding);
    versions.sort((a, b) => b.version - a.version);
    this.byId.set(id, versions);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  all(): SagaBinding[] {
    return [...this.byId.values()].flat();
  }

  /** The newest version: what new sagas start on. */
  latest(id: string): SagaBinding {
    const b = this.byId.get(id)?.[0];
    if (!b) throw new UnknownMachineError(id, this.ids());
    return b;
  }

  /** The binding that may replay a journal written by `id@version`. */
  forReplay(sagaId: string, id: string, version: number): SagaBinding {
    const versions = this.byId.get(id);
    if (!versions) throw new UnknownMachineError(id, this.ids());
    const exact = versions.find((b) => b.version === version);
    if (exact) return exact;
    const resuming = versions.find((b) => b.resumesFrom?.includes(version));
    if (resuming) return resuming;
    throw new MachineVersionMismatchError(sagaId, id, version, versions.map((b) => b.version));
  }
}

/** Every invoked `src` must be a registered actor name with a step implementation. */
function checkSteps(binding: SagaBinding): void {
  const problems: string[] = [];
  const actors = (binding.machine as AnyStateMachine & { implementations: { actors: Record<string, unknown> } })
    .implementations.actors;
  for (const node of walk(binding.machine.root)) {
    for (const inv of node.invoke) {
      const where = `state "${node.id}", invoke "${inv.id}"`;
      if (typeof inv.src !== 'string') {
        problems.push(`${where}: src must be a step name, not inline logic`);
        continue;
      }
      if (!(inv.src in actors)) problems.push(`${where}: "${inv.src}" is not in setup({ actors }) (use stepActor())`);
      // Child steps and their undos are run by the host itself (child-sagas.ts).
      if (!isChildSrc(inv.src) && typeof binding.steps[inv.src] !== 'function') problems.push(`${where}: no step implementation named "${inv.src}"`);
    }
  }
  if (problems.length) {
    throw new InvalidArgumentError(`machine ${binding.id}@${binding.version} cannot run here:\n  - ${problems.join('\n  - ')}`, {
      machine: `${binding.id}@${binding.version}`,
      problems,
    });
  }
}

function* walk(node: AnyStateNode): Generator<AnyStateNode> {
  yield node;
  for (const child of Object.values(node.states)) yield* walk(child);
}

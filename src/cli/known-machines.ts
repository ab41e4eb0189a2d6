/**
 * The saga machines this jetsaga ships, for what the CLI does on its own: replaying journals
 * offline and drawing progress bars. Loaded on demand (a CLI start must stay quick).
 */
import type { SagaDefinition } from '../runtime/types.js';

export async function knownDefinitions(): Promise<SagaDefinition[]> {
  const { buildMachine, BUILD_MACHINE_ID, BUILD_MACHINE_RESUMES_FROM, BUILD_MACHINE_VERSION } = await import('../../machines/build.machine.js');
  const { rollbackMachine, ROLLBACK_MACHINE_ID, ROLLBACK_MACHINE_VERSION } = await import('../../machines/rollback.machine.js');
  return [
    { id: BUILD_MACHINE_ID, version: BUILD_MACHINE_VERSION, resumesFrom: BUILD_MACHINE_RESUMES_FROM, machine: buildMachine },
    { id: ROLLBACK_MACHINE_ID, version: ROLLBACK_MACHINE_VERSION, machine: rollbackMachine },
  ];
}

/** The forward steps of a known machine (newest version), or undefined. */
export async function knownForwardSteps(machineId: string): Promise<string[] | undefined> {
  const defs = (await knownDefinitions()).filter((d) => d.id === machineId).sort((a, b) => b.version - a.version);
  if (defs.length === 0) return undefined;
  const { forwardSteps } = await import('./progress-steps.js');
  return forwardSteps(defs[0]!.machine);
}

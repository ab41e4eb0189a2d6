/**
 * The saga machines this jetsaga ships, for what the CLI does on its own: replaying journals
 * offline and drawing progress bars. Loaded on demand (a CLI start must stay quick).
 */
import type { SagaDefinition } from '../runtime/types.js';

export async function knownDefinitions(): Promise<SagaDefinition[]> {
  const build = await import('../../machines/build.machine.js');
  const { rollbackMachine, ROLLBACK_MACHINE_ID, ROLLBACK_MACHINE_VERSION } = await import('../../machines/rollback.machine.js');
  const addon = await import('../../machines/postgres-addon.machine.js');
  return [
    { id: build.BUILD_MACHINE_ID, version: build.BUILD_MACHINE_VERSION, resumesFrom: build.BUILD_MACHINE_RESUMES_FROM, machine: build.buildMachine },
    { id: build.BUILD_MACHINE_ID, version: build.BUILD_MACHINE_V2_VERSION, resumesFrom: build.BUILD_MACHINE_V2_RESUMES_FROM, machine: build.buildMachineV2 },
    { id: ROLLBACK_MACHINE_ID, version: ROLLBACK_MACHINE_VERSION, machine: rollbackMachine },
    { id: addon.POSTGRES_ADDON_MACHINE_ID, version: addon.POSTGRES_ADDON_MACHINE_VERSION, machine: addon.postgresAddonMachine },
  ];
}

/** The forward steps of a known machine (newest version), or undefined. */
export async function knownForwardSteps(machineId: string): Promise<string[] | undefined> {
  const defs = (await knownDefinitions()).filter((d) => d.id === machineId).sort((a, b) => b.version - a.version);
  if (defs.length === 0) return undefined;
  const { forwardSteps } = await import('./progress-steps.js');
  return forwardSteps(defs[0]!.machine);
}

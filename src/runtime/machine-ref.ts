/**
 * `machine@version`, the form a saga's machine takes in its index record. One parser, so that
 * every reader splits it the same way.
 */
export interface MachineRef {
  readonly id: string;
  readonly version: number;
}

export function machineRef(id: string, version: number): string {
  return `${id}@${version}`;
}

/** `order@2` → `{ id: 'order', version: 2 }`; a missing or bad version reads as 0. */
export function parseMachineRef(ref: string): MachineRef {
  const at = ref.lastIndexOf('@');
  if (at < 0) return { id: ref, version: 0 };
  const version = Number(ref.slice(at + 1));
  return { id: ref.slice(0, at), version: Number.isInteger(version) && version > 0 ? version : 0 };
}

/**
 * A saga bundle: one saga's journal with the machine version that wrote it, as a self-contained
 * JSON document — for a bug report, a golden fixture, or replaying a production saga offline
 * (`replayBundle` with the machine definitions at hand). Parsing checks every field and names
 * the one that is wrong.
 */
import { z } from 'zod';
import { InvalidArgumentError, MachineVersionMismatchError, UnknownMachineError } from '../errors.js';
import type { JournalView } from './journal-view.js';
import { replaySaga, type ReplayOptions, type ReplayStep } from './replay-saga.js';
import type { SagaDefinition } from './types.js';

export const BUNDLE_FORMAT = 'jetsaga-saga-bundle';
export const BUNDLE_VERSION = 1;

export interface SagaBundle {
  readonly format: typeof BUNDLE_FORMAT;
  readonly version: typeof BUNDLE_VERSION;
  /** The saga's id, and the machine id and version its journal was written by. */
  readonly saga: { readonly id: string; readonly machine: string; readonly version: number };
  readonly journal: readonly JournalView[];
}

/** What a bundle says about the saga (a `SagaInfo` has these fields). */
export interface BundleSagaInfo {
  readonly id: string;
  readonly machine: string;
  readonly version: number;
}

const int = z.number().int();
const viewSchema = z
  .object({
    entryNo: int.min(0),
    at: z.number().finite(),
    streamSeq: int.min(1),
    init: z
      .object({
        machine: z.string().min(1),
        version: int.min(1),
        input: z.unknown(),
        owner: z.string().optional(),
        forkedFrom: z.object({ sagaId: z.string().min(1), entry: int.min(1), entries: int.min(1) }).optional(),
      })
      .optional(),
    event: z.looseObject({ type: z.string().min(1) }).optional(),
    takeover: z.object({ owner: z.string(), epoch: int, from: z.string() }).optional(),
    void: z.object({ owner: z.string(), epoch: int, reason: z.string() }).optional(),
  })
  .superRefine((v, ctx) => {
    const kinds = (['init', 'event', 'takeover', 'void'] as const).filter((k) => v[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `must hold exactly one of init, event, takeover, void (found ${kinds.join(', ') || 'none'})` });
      return;
    }
    if (kinds[0] === 'init' && v.entryNo !== 1) ctx.addIssue({ code: 'custom', path: ['entryNo'], message: 'an init entry must be number 1' });
    if (kinds[0] === 'void' && v.entryNo !== 0) ctx.addIssue({ code: 'custom', path: ['entryNo'], message: 'a void entry must be number 0' });
    if ((kinds[0] === 'event' || kinds[0] === 'takeover') && v.entryNo < 2) ctx.addIssue({ code: 'custom', path: ['entryNo'], message: 'must be 2 or more' });
  });

const bundleSchema = z
  .object({
    format: z.literal(BUNDLE_FORMAT),
    version: z.literal(BUNDLE_VERSION),
    saga: z.object({ id: z.string().min(1), machine: z.string().min(1), version: int.min(1) }),
    journal: z.array(viewSchema),
  })
  .superRefine((b, ctx) => {
    let no = 0;
    b.journal.forEach((v, i) => {
      if (v.void !== undefined) {
        if (no > 0) ctx.addIssue({ code: 'custom', path: ['journal', i], message: 'a void entry after the init entry' });
        return;
      }
      if (v.entryNo !== no + 1) ctx.addIssue({ code: 'custom', path: ['journal', i, 'entryNo'], message: `expected entry number ${no + 1}, got ${v.entryNo}` });
      no = v.entryNo;
      if (v.init && (v.init.machine !== b.saga.machine || v.init.version !== b.saga.version)) {
        ctx.addIssue({
          code: 'custom',
          path: ['journal', i, 'init'],
          message: `written by ${v.init.machine}@${v.init.version}, but saga says ${b.saga.machine}@${b.saga.version}`,
        });
      }
    });
  });

/**
 * Bundles a saga's journal (as `runtime.events()` returns it). The journal is copied through
 * JSON, so the bundle holds exactly what a file would; its init entry must agree with `info`.
 */
export function exportBundle(info: BundleSagaInfo, journal: readonly JournalView[]): SagaBundle {
  const copy = JSON.parse(JSON.stringify(journal)) as JournalView[];
  return parseBundle({ format: BUNDLE_FORMAT, version: BUNDLE_VERSION, saga: { id: info.id, machine: info.machine, version: info.version }, journal: copy });
}

/**
 * Checks a bundle (a JSON string, or the parsed value). Throws InvalidArgumentError naming
 * every wrong field (`journal[3].event.type: ...`), with the issues in `details.issues`.
 */
export function parseBundle(json: unknown): SagaBundle {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw new InvalidArgumentError(`saga bundle is not valid JSON: ${(e as Error).message}`);
    }
  }
  const parsed = bundleSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${pathOf(i.path)}: ${i.message}`);
    throw new InvalidArgumentError(`invalid saga bundle: ${issues.join('; ')}`, { issues });
  }
  return parsed.data as SagaBundle;
}

function pathOf(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(bundle)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** The definition that replays a journal written by `machine@version` (or one that resumes from it). */
export function definitionFor<T extends SagaDefinition>(definitions: readonly T[], sagaId: string, machine: string, version: number): T {
  const versions = definitions.filter((d) => d.id === machine);
  if (versions.length === 0) throw new UnknownMachineError(machine, [...new Set(definitions.map((d) => d.id))]);
  const found = versions.find((d) => d.version === version) ?? versions.find((d) => d.resumesFrom?.includes(version));
  if (!found) throw new MachineVersionMismatchError(sagaId, machine, version, versions.map((d) => d.version));
  return found;
}

/** Replays a bundle offline, on its machine version found among `definitions`. */
export function replayBundle(bundle: SagaBundle, definitions: readonly SagaDefinition[], options: Omit<ReplayOptions, 'sagaId'> = {}): ReplayStep[] {
  const { id, machine, version } = bundle.saga;
  return replaySaga(definitionFor(definitions, id, machine, version), bundle.journal, { ...options, sagaId: id });
}

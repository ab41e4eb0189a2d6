/**
 * The chaos schedule, drawn from a seed: which sagas start when (and with what input), which
 * get cancelled, and the chaos actions at their offsets. The same seed gives the same
 * schedule; the timing it meets (how far a saga got when its coordinator dies) is real.
 */
import { STEP_ATTEMPTS, STEP_NAMES, STEPS, UNDO_ATTEMPTS, type ChaosInput, type StepName, type UndoName } from './chaos-saga.js';
import { Prng } from './prng.js';

export interface ChaosConfig {
  readonly seed: number;
  /** How long chaos lasts (the schedule's last offset). */
  readonly durationMs: number;
  /** Coordinator lease TTL: short, so a stall or a kill hands sagas over quickly. */
  readonly leaseTtlMs: number;
  /** Between two sagas started by the steady traffic. */
  readonly startGapMs: readonly [number, number];
  /** Between two cancels. */
  readonly cancelGapMs: readonly [number, number];
  /** Between two chaos actions. */
  readonly chaosGapMs: readonly [number, number];
}

/** The in-suite run: ≥ 30 kill points in about a minute and a half of chaos. */
export const SUITE_CONFIG: Omit<ChaosConfig, 'seed'> = {
  durationMs: 75_000,
  leaseTtlMs: 1_500,
  startGapMs: [250, 650],
  cancelGapMs: [1_500, 4_000],
  chaosGapMs: [900, 2_300],
};

/** The two coordinator slots; each holds one process at a time. */
export const SLOTS = ['A', 'B'] as const;
export type Slot = (typeof SLOTS)[number];

export type ChaosAction =
  | { readonly kind: 'kill'; readonly at: number; readonly slot: Slot; readonly replaceAfterMs: number; readonly sameOwner: boolean }
  | { readonly kind: 'nats-kill'; readonly at: number; readonly downMs: number }
  | { readonly kind: 'stall'; readonly at: number; readonly slot: Slot; readonly stallMs: number }
  | {
      readonly kind: 'burst';
      readonly at: number;
      readonly sagas: readonly SagaStart[];
      /** The slot killed mid-burst, `killAfterMs` after the starts were sent. */
      readonly killSlot: Slot;
      readonly killAfterMs: number;
      readonly replaceAfterMs: number;
      readonly sameOwner: boolean;
    };

export interface SagaStart {
  readonly at: number;
  readonly id: string;
  readonly input: ChaosInput;
}

export interface Cancel {
  readonly at: number;
  readonly id: string;
}

export interface Schedule {
  readonly config: ChaosConfig;
  readonly starts: readonly SagaStart[];
  readonly cancels: readonly Cancel[];
  readonly actions: readonly ChaosAction[];
}

/** SIGKILLs the schedule holds: of coordinators (chaos and mid-burst) and of the nats-server. */
export function killPoints(s: Schedule): number {
  return s.actions.filter((a) => a.kind === 'kill' || a.kind === 'nats-kill' || a.kind === 'burst').length;
}

export function buildSchedule(config: ChaosConfig): Schedule {
  const root = new Prng(config.seed);
  // Separate streams: changing how chaos is drawn leaves the sagas' inputs as they were.
  const sagaRng = root.fork(1);
  const cancelRng = root.fork(2);
  const chaosRng = root.fork(3);
  const between = (rng: Prng, [lo, hi]: readonly [number, number]): number => rng.int(lo, hi);

  const starts: SagaStart[] = [];
  for (let at = 0, n = 0; at < config.durationMs; at += between(sagaRng, config.startGapMs), n++) {
    const id = `s${config.seed}-${n}`;
    starts.push({ at, id, input: drawInput(sagaRng, id) });
  }

  const cancels: Cancel[] = [];
  for (let at = between(cancelRng, config.cancelGapMs); at < config.durationMs; at += between(cancelRng, config.cancelGapMs)) {
    // One of the last few sagas started by then: likely still in flight.
    const recent = starts.filter((s) => s.at <= at).slice(-8);
    if (recent.length > 0) cancels.push({ at, id: cancelRng.pick(recent).id });
  }

  const actions: ChaosAction[] = [];
  let bursts = 0;
  for (let at = between(chaosRng, config.chaosGapMs); at < config.durationMs; at += between(chaosRng, config.chaosGapMs)) {
    const kind = chaosRng.weighted([['kill', 0.58], ['nats-kill', 0.1], ['stall', 0.14], ['burst', 0.18]] as const);
    const slot = chaosRng.pick(SLOTS);
    switch (kind) {
      case 'kill':
        actions.push({ kind, at, slot, replaceAfterMs: chaosRng.int(0, 1_200), sameOwner: chaosRng.chance(0.5) });
        break;
      case 'nats-kill':
        actions.push({ kind, at, downMs: chaosRng.int(200, 2_000) });
        break;
      case 'stall':
        // Past the lease TTL, so that the other coordinator may take its sagas meanwhile.
        actions.push({ kind, at, slot, stallMs: config.leaseTtlMs + chaosRng.int(300, 1_800) });
        break;
      case 'burst': {
        const b = bursts++;
        const n = chaosRng.int(4, 8);
        const sagas = Array.from({ length: n }, (_, i) => {
          const id = `b${config.seed}-${b}-${i}`;
          return { at, id, input: drawInput(sagaRng, id) };
        });
        actions.push({ kind, at, sagas, killSlot: slot, killAfterMs: chaosRng.int(0, 40), replaceAfterMs: chaosRng.int(0, 1_200), sameOwner: chaosRng.chance(0.5) });
        break;
      }
    }
  }
  return { config, starts, cancels, actions };
}

/** Step times of 10–200 ms; some retryable failures, a few terminal ones, some failing undos. */
function drawInput(rng: Prng, id: string): ChaosInput {
  const ms: Record<string, number> = {};
  for (const step of STEP_NAMES) {
    ms[step] = rng.int(10, 200);
    ms[STEPS[step]] = rng.int(10, 200);
  }
  const fail: Partial<Record<StepName, number | 'terminal'>> = {};
  const failUndo: Partial<Record<UndoName, number>> = {};
  if (rng.chance(0.25)) fail[rng.pick(STEP_NAMES)] = rng.int(1, STEP_ATTEMPTS - 1);
  if (rng.chance(0.15)) fail[rng.pick(STEP_NAMES)] = 'terminal';
  if (rng.chance(0.3)) failUndo[STEPS[rng.pick(STEP_NAMES)]] = rng.int(1, UNDO_ATTEMPTS - 1);
  return { saga: id, ms, ...(Object.keys(fail).length ? { fail } : {}), ...(Object.keys(failUndo).length ? { failUndo } : {}) };
}

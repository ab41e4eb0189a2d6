/**
 * One boot dependency of a coordinator (nats, registry, ...), as a live actor:
 *
 *   pending ─deps.ready→ starting ─→ checking ─ok→ ready ─health fails→ lost ─→ checking
 *                          │            └─fails→ backoff ─→ checking
 *                          ├─fails→ startBackoff ─→ starting
 *                          └─fails, not retryable (e.g. a missing binary)→ failed
 *   any ─stop→ stopping ─→ stopped
 *
 * The machine only decides; the boot graph (src/boot/boot-graph.ts) provides the `start`,
 * `check` and `stop` actors and sends `deps.ready` once every dependency it declares is
 * ready. Delays are pure functions of the context, like everything in machines/.
 */
import { assign, setup, type PromiseActorLogic } from 'xstate';
import { backoffDelay, type RetryPolicy } from './kit/backoff.js';

export interface BootDependencyContext {
  readonly name: string;
  /** Failed checks (or starts) since the dependency was last ready. */
  readonly failures: number;
  readonly lastError: string | null;
  /** How often a ready dependency is checked again (0 = never). */
  readonly healthIntervalMs: number;
  readonly retry: RetryPolicy;
}

export interface BootDependencyInput {
  readonly name: string;
  readonly healthIntervalMs?: number;
  readonly retry?: Partial<RetryPolicy>;
}

export type BootDependencyEvent =
  | { type: 'deps.ready' }
  /** Something outside the periodic check saw the dependency fail (e.g. a step reported it). */
  | { type: 'health.failed'; error: string }
  | { type: 'stop' };

/** The states a dependency reports on the readiness bus. */
export const BootState = {
  Pending: 'pending',
  Starting: 'starting',
  StartBackoff: 'startBackoff',
  Checking: 'checking',
  Backoff: 'backoff',
  Ready: 'ready',
  Lost: 'lost',
  Failed: 'failed',
  Stopping: 'stopping',
  Stopped: 'stopped',
} as const;
export type BootState = (typeof BootState)[keyof typeof BootState];

/** Boot checks retry quickly at first: most dependencies come up within a second or two. */
export const DEFAULT_BOOT_RETRY: RetryPolicy = { maxAttempts: Number.MAX_SAFE_INTEGER, initialDelayMs: 100, maxDelayMs: 5_000, factor: 2, jitter: 0.2 };

const errorText = (error: unknown): string => (error instanceof Error ? error.message : typeof error === 'string' ? error : JSON.stringify(error));

export const bootDependencyMachine = setup({
  types: {} as { context: BootDependencyContext; input: BootDependencyInput; events: BootDependencyEvent },
  actors: {
    // Placeholders: the boot graph provides the real ones (see src/boot/boot-graph.ts).
    start: null as unknown as PromiseActorLogic<void, { name: string }>,
    check: null as unknown as PromiseActorLogic<void, { name: string }>,
    stop: null as unknown as PromiseActorLogic<void, { name: string }>,
  },
  delays: {
    retry: ({ context }) => backoffDelay(context.retry, Math.max(1, context.failures), `${context.name}:${context.failures}`),
    health: ({ context }) => context.healthIntervalMs,
  },
  guards: {
    unmonitored: ({ context }) => context.healthIntervalMs <= 0,
    // Retrying cannot fix e.g. a missing binary: fail boot with the reason instead.
    fatal: ({ event }) => (event as { error?: { retryable?: unknown } }).error?.retryable === false,
  },
  actions: {
    fail: assign(({ context }, params: { error: unknown }) => ({ failures: context.failures + 1, lastError: errorText(params.error) })),
    succeed: assign(() => ({ failures: 0 })),
  },
}).createMachine({
  id: 'boot',
  context: ({ input }) => ({
    name: input.name,
    failures: 0,
    lastError: null,
    healthIntervalMs: input.healthIntervalMs ?? 0,
    retry: { ...DEFAULT_BOOT_RETRY, ...input.retry },
  }),
  initial: BootState.Pending,
  on: { stop: `.${BootState.Stopping}` },
  states: {
    [BootState.Pending]: {
      on: { 'deps.ready': BootState.Starting },
    },
    [BootState.Starting]: {
      invoke: {
        src: 'start',
        input: ({ context }) => ({ name: context.name }),
        onDone: BootState.Checking,
        onError: [
          { guard: 'fatal', target: BootState.Failed, actions: { type: 'fail', params: ({ event }) => ({ error: event.error }) } },
          { target: BootState.StartBackoff, actions: { type: 'fail', params: ({ event }) => ({ error: event.error }) } },
        ],
      },
    },
    [BootState.Failed]: {},
    [BootState.StartBackoff]: { after: { retry: BootState.Starting } },
    [BootState.Checking]: {
      invoke: {
        src: 'check',
        input: ({ context }) => ({ name: context.name }),
        onDone: { target: BootState.Ready, actions: 'succeed' },
        onError: { target: BootState.Backoff, actions: { type: 'fail', params: ({ event }) => ({ error: event.error }) } },
      },
    },
    [BootState.Backoff]: { after: { retry: BootState.Checking } },
    [BootState.Ready]: {
      initial: 'idle',
      on: { 'health.failed': { target: BootState.Lost, actions: { type: 'fail', params: ({ event }) => ({ error: event.error }) } } },
      states: {
        idle: { always: { guard: 'unmonitored', target: 'unmonitored' }, after: { health: 'probing' } },
        probing: {
          invoke: {
            src: 'check',
            input: ({ context }) => ({ name: context.name }),
            onDone: 'idle',
            onError: { target: `#boot.${BootState.Lost}`, actions: { type: 'fail', params: ({ event }) => ({ error: event.error }) } },
          },
        },
        unmonitored: {},
      },
    },
    // Lost stays observable for one backoff delay before checking again, so a flapping
    // dependency is not hammered and readers see the loss.
    [BootState.Lost]: { after: { retry: BootState.Checking } },
    [BootState.Stopping]: {
      // A second stop must not run the stop hook again.
      on: { stop: {} },
      invoke: {
        src: 'stop',
        input: ({ context }) => ({ name: context.name }),
        onDone: BootState.Stopped,
        onError: { target: BootState.Stopped, actions: { type: 'fail', params: ({ event }) => ({ error: event.error }) } },
      },
    },
    [BootState.Stopped]: { type: 'final' },
  },
});

/** The top-level state name of a boot dependency snapshot. */
export function bootStateOf(value: unknown): BootState {
  return (typeof value === 'string' ? value : Object.keys(value as object)[0]) as BootState;
}

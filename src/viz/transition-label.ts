/**
 * How a chart names a transition: its kind from the event type XState gave it, the guard as
 * short text, and the label written on the edge (`done: lock`, `after 30s`, `always [stackEmpty]`).
 */
import type { EdgeKind, GraphGuard } from './graph-types.js';

const DONE_ACTOR = 'xstate.done.actor.';
const ERROR_ACTOR = 'xstate.error.actor.';
const SNAPSHOT = 'xstate.snapshot.';
const DONE_STATE = 'xstate.done.state.';
const ROUTE = 'xstate.route';

export interface TransitionKind {
  readonly kind: EdgeKind;
  /** The invocation an `invoke.*` transition reacts to. */
  readonly invocation: string | null;
}

/** Kind of a transition found in a state's `transitions` map (`always` ones are not in it). */
export function kindOf(eventType: string, sourceId: string, delay: unknown): TransitionKind {
  if (delay !== undefined) return { kind: 'after', invocation: null };
  if (eventType.startsWith(DONE_ACTOR)) return { kind: 'invoke.done', invocation: eventType.slice(DONE_ACTOR.length) };
  if (eventType.startsWith(ERROR_ACTOR)) return { kind: 'invoke.error', invocation: eventType.slice(ERROR_ACTOR.length) };
  if (eventType.startsWith(SNAPSHOT)) return { kind: 'invoke.snapshot', invocation: eventType.slice(SNAPSHOT.length) };
  if (eventType === `${DONE_STATE}${sourceId}`) return { kind: 'state.done', invocation: null };
  if (eventType === ROUTE) return { kind: 'route', invocation: null };
  return { kind: 'event', invocation: null };
}

/** `after` delays as people write them: 500ms, 30s, 1.5s, 2min; named delays as they are. */
export function delayText(delay: number | string): string {
  if (typeof delay === 'string') return delay;
  if (delay >= 60_000 && delay % 60_000 === 0) return `${delay / 60_000}min`;
  if (delay >= 1000) return `${Number((delay / 1000).toFixed(3))}s`;
  return `${delay}ms`;
}

interface HigherOrderGuard {
  readonly guards?: readonly unknown[];
  readonly stateValue?: unknown;
}

/**
 * A guard as text. Named guards (`'stackEmpty'`, `{ type: 'topIs', params }`) keep their name;
 * XState's higher-order guards are functions carrying their operands (`and.guards`,
 * `stateIn.stateValue`), so they are spelled out; any other function is `inline`.
 */
export function guardOf(guard: unknown): GraphGuard | null {
  if (guard === undefined || guard === null) return null;
  if (typeof guard === 'string') return { text: guard, params: null };
  if (typeof guard === 'function') return { text: functionGuardText(guard as ((...a: unknown[]) => unknown) & HigherOrderGuard), params: null };
  if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') {
    const g = guard as { type: string; params?: unknown };
    return { text: g.type, params: g.params === undefined ? null : paramsText(g.params) };
  }
  return { text: 'inline', params: null };
}

function functionGuardText(fn: ((...a: unknown[]) => unknown) & HigherOrderGuard): string {
  if (Array.isArray(fn.guards)) {
    const inner = fn.guards.map((g) => {
      const sub = guardOf(g);
      return sub ? guardLabel(sub) : 'inline';
    });
    return `${fn.name || 'guard'}(${inner.join(', ')})`;
  }
  if (fn.stateValue !== undefined) return `stateIn(${valueText(fn.stateValue)})`;
  // A property-assigned arrow function takes the property's name ("guard"): not a real name.
  return fn.name && fn.name !== 'guard' ? fn.name : 'inline';
}

/** Static params, briefly: `step: lock, dependency: registry`; dynamic (function) params as `…`. */
export function paramsText(params: unknown): string {
  if (typeof params === 'function') return '…';
  if (typeof params === 'object' && params !== null && !Array.isArray(params)) {
    return Object.entries(params).map(([k, v]) => `${k}: ${valueText(v)}`).join(', ');
  }
  return valueText(params);
}

function valueText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'function') return '…';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // Cycles or BigInt: the text is only a label.
    return String(value);
  }
}

/** `topIs(step: lock)`, or just the name when there are no params. */
export function guardLabel(guard: GraphGuard): string {
  return guard.params === null ? guard.text : `${guard.text}(${guard.params})`;
}

/** The edge's label: what triggers it, then its guard in brackets. */
export function edgeLabel(kind: EdgeKind, event: string | null, invocation: string | null, delay: number | string | null, guard: GraphGuard | null): string {
  const base = (() => {
    switch (kind) {
      case 'always':
        return 'always';
      case 'after':
        return `after ${delayText(delay ?? 0)}`;
      case 'invoke.done':
        return `done: ${invocation}`;
      case 'invoke.error':
        return `error: ${invocation}`;
      case 'invoke.snapshot':
        return `snapshot: ${invocation}`;
      case 'state.done':
        return 'done';
      case 'route':
        return 'route';
      case 'event':
        return event ?? '';
    }
  })();
  return guard ? `${base} [${guardLabel(guard)}]` : base;
}

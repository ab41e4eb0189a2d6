/**
 * A journal entry in one short line for the page's timeline: the event's key fields (a step's
 * output or error code, the dependency that became ready, the timer that fired), not the whole
 * payload, which the scrubber shows at that entry.
 */
import type { ReplayStep } from '../../runtime/replay-saga.js';
import type { TimelineEntry } from '../api-types.js';

const DONE = 'xstate.done.actor.';
const ERROR = 'xstate.error.actor.';
const MAX = 100;

/** `text`, cut to `max` characters. */
function cut(text: string, max = MAX): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** JSON of `value`, cut to `max` characters. */
export function brief(value: unknown, max = MAX): string {
  try {
    return cut(JSON.stringify(value) ?? String(value), max);
  } catch {
    return cut(String(value), max);
  }
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

function eventSummary(type: string, payload: Record<string, unknown>): string {
  if (type.startsWith(DONE)) return `${type.slice(DONE.length)} done${payload.output === undefined ? '' : `: ${brief(payload.output)}`}`;
  if (type.startsWith(ERROR)) {
    const e = record(payload.error);
    const code = typeof e.code === 'string' ? e.code : 'error';
    return cut(`${type.slice(ERROR.length)} failed: ${code}${typeof e.message === 'string' ? `: ${e.message}` : ''}`);
  }
  if (typeof payload.dependency === 'string') return `${payload.dependency} ready`;
  if (typeof payload.timerId === 'string') return `timer ${payload.timerId}`;
  const rest = Object.keys(payload).filter((k) => k !== 'key');
  return rest.length === 0 ? '' : brief(Object.fromEntries(rest.map((k) => [k, payload[k]])));
}

export function timelineEntry(step: ReplayStep): TimelineEntry {
  const base = { no: step.no, at: step.at };
  if (step.kind === 'void' || step.kind === 'takeover') return { ...base, type: step.kind, summary: step.note ?? '' };
  const event = step.event;
  if (!event || step.kind === 'init') {
    const input = event && 'input' in event ? event.input : undefined;
    return { ...base, type: 'init', summary: input === undefined ? '' : `input ${brief(input)}` };
  }
  const payload = 'payload' in event ? record(event.payload) : {};
  const summary = eventSummary(event.type, payload);
  return { ...base, type: event.type, summary: step.accepted === false ? `${summary} (ignored)`.trim() : summary };
}

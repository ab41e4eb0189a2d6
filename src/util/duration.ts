/**
 * Durations as operators write them: `30m`, `12h`, `7d` (also `s`, `ms`, and `0` for "never").
 * One parser for flags and environment variables, so `--retain` and `JETSAGA_RETAIN` agree.
 */
import { InvalidArgumentError } from '../errors.js';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;

/** Milliseconds of `value`; `0` (with or without a unit) is 0. Throws INVALID_ARGUMENT otherwise. */
export function parseDuration(value: string): number {
  const text = value.trim();
  if (/^0+$/.test(text)) return 0;
  const m = DURATION.exec(text);
  const ms = m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : NaN;
  if (!m || !Number.isFinite(ms) || ms > Number.MAX_SAFE_INTEGER) {
    throw new InvalidArgumentError(`"${value}" is not a duration: use a number and a unit (ms, s, m, h, d, w), e.g. 30m, 12h, 7d; 0 for never`);
  }
  return Math.round(ms);
}

/** `604800000` → `7d`: the largest unit that divides it exactly. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  return `${ms}ms`;
}

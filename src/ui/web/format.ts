/** How times, ages and values read on the page (local time, 24 h). */
const pad = (n: number): string => String(n).padStart(2, '0');

/** `12:04` */
export function clock(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** `12:04:31` */
export function clockSeconds(ms: number): string {
  const d = new Date(ms);
  return `${clock(ms)}:${pad(d.getSeconds())}`;
}

/** `2025-01-31 12:04:31` */
export function dateTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clockSeconds(ms)}`;
}

/** A coarse age: `42s`, `5m`, `3h`, `2d`. */
export function age(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** `in 12s` / `3m ago`, for deadlines. */
export function relative(ms: number, now: number): string {
  return ms >= now ? `in ${age(now, ms)}` : `${age(ms, now)} ago`;
}

/** A value as one short line of JSON. */
export function short(value: unknown, max = 80): string {
  let text: string;
  try {
    text = value === undefined ? 'undefined' : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** An error as the page shows it: the server's stable code first (e.g. `FORK_COPIES_OWNED_STEP: …`), then its message. */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code !== '' && !err.message.startsWith(code) ? `${code}: ${err.message}` : err.message;
}

/** One server-sent event: `event:` is the event's `type`, `data:` its JSON (one line: JSON escapes newlines). */
import type { StreamEvent } from '../api-types.js';

export function frame(event: StreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * The visualizer as a page talks to it, for tests that run a real one (`jetsaga ui`,
 * `serve --ui`, `startUiServer`): the URL the command prints, a JSON request with the token, and
 * the event stream read as it arrives.
 */
import { expect } from 'vitest';
import type { StreamEvent } from '../../src/ui/api-types.js';
import type { TsChild } from './ts-child.js';
import { until } from './until.js';

/** The `ui` line of a ready block: the page's URL with its token. */
export const UI_LINE = /^ {2}ui {8}(http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+)$/;

/** The URL (with its token) a `jetsaga ui` or `serve --ui` child printed. */
export async function uiUrl(child: TsChild): Promise<URL> {
  const line = await child.waitForLine(UI_LINE, 60_000);
  return new URL(UI_LINE.exec(line)![1]!);
}

/** A request to the page at `url` (which holds the token), its body parsed when it is JSON. */
export async function uiGet<T>(url: URL, path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const token = url.searchParams.get('token')!;
  const res = await fetch(new URL(path, url), { ...init, headers: { 'X-Jetsaga-Token': token } });
  const text = await res.text();
  return { status: res.status, body: (res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text) as T };
}

export interface UiStream {
  /** Every event so far, in order. */
  readonly events: StreamEvent[];
  close(): Promise<void>;
  /** The first event (so far or to come, within 30 s) that `pred` accepts. */
  waitFor(what: string, pred: (e: StreamEvent) => boolean): Promise<StreamEvent>;
}

/** The page's event stream (`/api/stream`, `query` appended: `&saga=<id>`), read as it arrives. */
export async function openUiStream(url: URL, query = ''): Promise<UiStream> {
  const abort = new AbortController();
  const res = await fetch(new URL(`/api/stream?token=${encodeURIComponent(url.searchParams.get('token')!)}${query}`, url), { signal: abort.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const events: StreamEvent[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const pump = (async () => {
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          const fields = Object.fromEntries(block.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
          if (fields.event === undefined) continue;
          const event = JSON.parse(fields.data!) as StreamEvent;
          expect(event.type).toBe(fields.event);
          events.push(event);
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    events,
    close: async () => {
      abort.abort();
      await pump;
    },
    waitFor: async (what, pred) => {
      await until(() => events.some(pred), 30_000, what);
      return events.find(pred)!;
    },
  };
}

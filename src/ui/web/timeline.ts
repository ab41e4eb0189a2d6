/**
 * The journal's entries in order, with a scrubber over them. Moving the scrubber (mouse or
 * arrow keys) asks the caller for the saga re-folded up to that entry; the panel beside the
 * list shows that point: state, status, the context and what the entry changed in it, and a
 * "Fork from here" that previews the fork (dry run) before it is made.
 */
import type { ContextChangeView, ForkReply, SagaAt, Timeline } from '../api-types.js';
import { fill, h } from './dom.js';
import { clockSeconds, dateTime, errorText, short } from './format.js';
import { jsonView, keepOpen } from './json-view.js';

export interface TimelineHandlers {
  /** The scrubber moved to entry `no` (null: back to the latest, following live). */
  readonly onScrub: (no: number | null) => void;
  readonly onFork: (from: number, dryRun: boolean) => Promise<ForkReply>;
  readonly onOpenSaga: (id: string) => void;
}

/** Scrubbing by dragging sends many inputs: ask for the point once the hand rests. */
const SCRUB_SETTLE_MS = 120;

export class TimelineView {
  private timeline: Timeline | null = null;
  /** A bundle's saga cannot be forked: no coordinator holds it. */
  private forkable = false;
  /** The entry the user pinned; null follows the latest. */
  private pinned: number | null = null;
  private settle: ReturnType<typeof setTimeout> | undefined;
  private readonly scrubber: HTMLInputElement;
  private readonly position: HTMLElement;
  private readonly liveButton: HTMLButtonElement;
  private readonly entries: HTMLOListElement;
  private readonly at: HTMLElement;

  constructor(
    root: HTMLElement,
    private readonly handlers: TimelineHandlers,
  ) {
    this.scrubber = h('input', {
      type: 'range',
      id: 'scrubber',
      min: 1,
      max: 1,
      step: 1,
      value: 1,
      disabled: true,
      'aria-label': 'Journal entry',
      oninput: () => this.scrubbed(false),
      onchange: () => this.scrubbed(true),
    });
    this.position = h('output', { id: 'scrub-position', for: 'scrubber' });
    this.liveButton = h('button', { type: 'button', id: 'scrub-live', disabled: true, onclick: () => this.goLive() }, 'Latest');
    this.entries = h('ol', { class: 'entries', id: 'entries' });
    this.at = h('div', { class: 'at', id: 'at' });
    fill(
      root,
      h('div', { class: 'toolbar' }, h('h2', {}, 'Timeline'), h('label', { class: 'scrub' }, this.scrubber), this.position, this.liveButton),
      h('div', { class: 'timeline-body' }, this.entries, this.at),
    );
    this.setTimeline(null);
  }

  /** Null clears it (no saga selected). Keeps a pinned position when entries are appended. */
  setTimeline(timeline: Timeline | null, forkable = false): void {
    const changedSaga = timeline?.id !== this.timeline?.id;
    this.timeline = timeline;
    this.forkable = forkable;
    if (changedSaga) this.pinned = null;
    const list = timeline?.entries ?? [];
    const last = list.at(-1)?.no ?? 1;
    this.scrubber.min = String(list[0]?.no ?? 1);
    this.scrubber.max = String(last);
    this.scrubber.disabled = list.length === 0;
    this.scrubber.value = String(this.pinned ?? last);
    fill(
      this.entries,
      ...list.map((e) =>
        h(
          'li',
          { 'data-no': e.no },
          h(
            'button',
            { type: 'button', class: 'entry', onclick: () => this.pin(e.no) },
            h('span', { class: 'entry-no' }, `#${e.no}`),
            h('span', { class: 'entry-time', title: dateTime(e.at) }, clockSeconds(e.at)),
            h('span', { class: 'entry-type' }, e.type),
            h('span', { class: 'entry-summary' }, e.summary),
          ),
        ),
      ),
    );
    if (list.length === 0) {
      fill(this.at, h('p', { class: 'muted' }, timeline ? 'The journal is empty.' : 'No saga selected.'));
    }
    this.markPosition();
  }

  /** The entry the page should show: the pinned one, or the latest. */
  current(): number | null {
    return this.pinned ?? this.timeline?.entries.at(-1)?.no ?? null;
  }

  isLive(): boolean {
    return this.pinned === null;
  }

  showAt(at: SagaAt): void {
    if (at.id !== this.timeline?.id || at.no !== this.current()) return;
    const preview = h('div', { class: 'fork-preview', id: 'fork-preview', 'aria-live': 'polite' });
    // Scrubbing redraws the context: what the user opened stays open.
    keepOpen(this.at, () =>
      fill(
        this.at,
        h('h3', {}, `At entry ${at.no}`, h('span', { class: 'muted' }, ` · ${dateTime(at.at)}`)),
        h('p', {}, h('span', { class: `badge status-${at.status ?? 'none'}`, id: 'at-status' }, at.status ?? '—'), ' ', h('code', { id: 'at-state' }, short(at.state, 200))),
        h('div', { class: 'at-event' }, 'event ', h('code', {}, short(at.event, 200))),
        diffTable(at.contextDiff),
        h('section', { id: 'at-context' }, jsonView(at.context, 'context')),
        this.forkable ? h('button', { type: 'button', id: 'fork-dry', onclick: () => void this.preview(at.no, preview) }, 'Fork from here') : null,
        preview,
      ),
    );
  }

  private scrubbed(final: boolean): void {
    clearTimeout(this.settle);
    const no = Number(this.scrubber.value);
    this.markPosition(no);
    if (final) this.pin(no);
    else this.settle = setTimeout(() => this.pin(no), SCRUB_SETTLE_MS);
  }

  private pin(no: number): void {
    clearTimeout(this.settle);
    // Pinned even at the latest entry: new entries must not move a point the user chose.
    if (this.pinned === no) return;
    this.pinned = no;
    this.scrubber.value = String(no);
    this.markPosition();
    this.handlers.onScrub(no);
  }

  private goLive(): void {
    this.pinned = null;
    this.scrubber.value = this.scrubber.max;
    this.markPosition();
    this.handlers.onScrub(null);
  }

  private markPosition(value?: number): void {
    const no = value ?? this.current();
    const total = this.timeline?.entries.at(-1)?.no ?? 0;
    const entry = this.timeline?.entries.find((e) => e.no === no);
    this.position.textContent = no === null || total === 0 ? '—' : `${no} / ${total}${this.pinned === null ? ' (latest)' : ''}`;
    this.scrubber.setAttribute('aria-valuetext', entry ? `entry ${entry.no} of ${total}: ${entry.type}` : '');
    this.liveButton.disabled = this.pinned === null;
    for (const li of this.entries.children) {
      const here = (li as HTMLElement).dataset.no === String(no);
      li.classList.toggle('current', here);
      const button = li.querySelector('button');
      if (button) button.setAttribute('aria-current', String(here));
      if (here && value === undefined) li.scrollIntoView({ block: 'nearest' });
    }
  }

  private async preview(from: number, out: HTMLElement): Promise<void> {
    const fork = this.handlers.onFork;
    fill(out, h('p', { class: 'muted' }, 'Asking for a dry run…'));
    let reply: ForkReply;
    try {
      reply = await fork(from, true);
    } catch (e) {
      fill(out, h('p', { class: 'error', role: 'alert' }, `Fork preview failed: ${errorText(e)}`));
      return;
    }
    const confirmButton = h(
      'button',
      {
        type: 'button',
        id: 'fork-confirm',
        class: 'action',
        onclick: () => {
          if (!confirm(`Fork ${String(reply.source ?? 'this saga')} from entry ${from}? The new saga starts running at once.`)) return;
          void this.commit(from, out);
        },
      },
      'Fork for real',
    );
    fill(out, h('h4', {}, `Fork from entry ${from}: preview`), forkSummary(reply), confirmButton);
  }

  private async commit(from: number, out: HTMLElement): Promise<void> {
    try {
      const reply = await this.handlers.onFork(from, false);
      const id = typeof reply.id === 'string' ? reply.id : null;
      fill(
        out,
        h('p', { class: 'ok', id: 'fork-done' }, 'Forked: ', id ? h('button', { type: 'button', class: 'link', onclick: () => this.handlers.onOpenSaga(id) }, id) : 'no id'),
        forkSummary(reply),
      );
    } catch (e) {
      fill(out, h('p', { class: 'error', role: 'alert' }, `Fork failed: ${errorText(e)}`));
    }
  }
}

function diffTable(diff: readonly ContextChangeView[]): HTMLElement {
  if (diff.length === 0) return h('p', { class: 'muted', id: 'at-diff' }, 'This entry did not change the context.');
  return h(
    'table',
    { class: 'diff', id: 'at-diff' },
    h('caption', {}, 'Context changes of this entry'),
    h('thead', {}, h('tr', {}, h('th', {}, 'path'), h('th', {}, 'change'), h('th', {}, 'before'), h('th', {}, 'after'))),
    h(
      'tbody',
      {},
      ...diff.map((c) =>
        h(
          'tr',
          { class: `diff-${c.op}` },
          h('td', {}, h('code', {}, c.path || '(root)')),
          h('td', {}, c.op),
          h('td', {}, 'before' in c ? short(c.before, 120) : ''),
          h('td', {}, 'after' in c ? short(c.after, 120) : ''),
        ),
      ),
    ),
  );
}

/** The service's fork reply, as people read it (fields it lacks are left out). */
function forkSummary(reply: ForkReply): HTMLElement {
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map((x) => String((x as { src?: unknown; id?: unknown }).src ?? (x as { id?: unknown }).id ?? short(x))) : []);
  const line = (label: string, value: unknown): HTMLElement | null => (value === undefined || value === null ? null : h('li', {}, `${label}: ${String(value)}`));
  const willRun = list(reply.willRun);
  const undos = list(reply.undosRun);
  return h(
    'ul',
    { class: 'fork-summary' },
    line('new saga', reply.id ?? (reply.dryRun ? '(a new id)' : null)),
    line('machine', reply.machine !== undefined ? `${String(reply.machine)}@${String(reply.version)}` : undefined),
    line('entries copied', reply.entries),
    line('status after the copy', reply.status),
    willRun.length > 0 ? h('li', {}, `will run: ${willRun.join(', ')}`) : null,
    undos.length > 0 ? h('li', {}, `undos in the copied entries: ${undos.join(', ')}`) : null,
  );
}

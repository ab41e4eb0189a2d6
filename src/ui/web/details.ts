/**
 * The selected saga: status, where it is, what it waits on, the steps and timers it has in
 * flight, its context, where it was forked from, the saga it runs under (a child saga's parent)
 * and the child sagas it started, and its compensation plan.
 */
import type { ChildView, SagaDetail } from '../api-types.js';
import type { OperatorAction } from '../../viz/compensation-plan.js';
import { fill, h, type Child } from './dom.js';
import { clock, dateTime, relative } from './format.js';
import { jsonView, keepOpen } from './json-view.js';
import { planPanel } from './plan-panel.js';

export interface DetailsHandlers {
  /** Operator action (retry/skip/abandon/cancel); null when the saga cannot be driven (a bundle). */
  readonly onAction: ((action: OperatorAction | 'cancel') => void) | null;
  readonly onOpenSaga: (id: string) => void;
}

const CANCELLABLE = new Set(['running']);

export function renderDetails(root: HTMLElement, detail: SagaDetail | null, origin: string | null, handlers: DetailsHandlers): void {
  if (detail === null) {
    fill(root, h('h2', {}, 'Saga'), h('p', { class: 'muted' }, 'Select a saga in the list, or open a bundle.'));
    return;
  }
  const now = Date.now();
  const { onAction } = handlers;
  const row = (term: string, ...value: Child[]): HTMLElement[] => [h('dt', {}, term), h('dd', {}, ...value)];
  const same = root.querySelector('#detail-id')?.getAttribute('data-saga-id') === detail.id;
  const draw = (): void =>
    fill(
      root,
      h('h2', { id: 'detail-id', 'data-saga-id': detail.id }, detail.id),
      origin ? h('p', { class: 'origin' }, origin) : null,
      h(
        'dl',
        { class: 'summary' },
        ...row('status', h('span', { id: 'detail-status', class: `badge status-${detail.status}` }, detail.status)),
        ...row('machine', `${detail.machine}@${detail.version}`),
        ...row('owner', detail.owner ?? '—'),
        ...row('entry', String(detail.entryNo), ' · ', h('span', { title: dateTime(detail.updatedAt) }, `updated ${clock(detail.updatedAt)}`)),
        ...(detail.forkedFrom
          ? row('forked from', h('button', { type: 'button', class: 'link', id: 'forked-from', onclick: () => handlers.onOpenSaga(detail.forkedFrom!.sagaId) }, detail.forkedFrom.sagaId), ` at entry ${detail.forkedFrom.entry}`)
          : []),
        ...(detail.parent
          ? row('child of', sagaLink('parent-saga', detail.parent.sagaId, handlers.onOpenSaga), h('span', { class: 'child-step' }, ` (its step ${detail.parent.step})`))
          : []),
      ),
      onAction && CANCELLABLE.has(detail.status) ? h('div', { class: 'actions' }, h('button', { type: 'button', class: 'action action-cancel', 'data-action': 'cancel', onclick: () => onAction('cancel') }, 'Cancel saga')) : null,
      detail.waiting.length > 0
        ? h(
            'ul',
            { class: 'waiting', id: 'waiting' },
            ...detail.waiting.map((w) => h('li', { 'data-dependency': w.dependency, title: `${w.state} since ${dateTime(w.since)}` }, `waiting for ${w.dependency} since ${clock(w.since)}`)),
          )
        : null,
      section(
        'Pending steps',
        'pending',
        detail.pending.length === 0
          ? null
          : table(
              ['step', 'runs', 'attempt', 'idempotency key'],
              detail.pending.map((p) => [p.id, p.src, String(p.attempt), h('code', {}, p.key)]),
            ),
      ),
      detail.children.length > 0 ? childrenSection(detail.children, handlers.onOpenSaga) : null,
      section(
        'Timers',
        'timers',
        detail.timers.length === 0 ? null : table(['timer', 'deadline'], detail.timers.map((t) => [t.id, h('span', { title: dateTime(t.dueAt) }, `${clock(t.dueAt)} (${relative(t.dueAt, now)})`)])),
      ),
      planPanel(detail.plan, onAction ? (a) => onAction(a) : null),
      h('section', { class: 'context', id: 'context' }, jsonView(detail.context, 'context')),
    );
  // The same saga again (a live update): the tree stays as the user left it.
  if (same) keepOpen(root, draw);
  else draw();
}

function sagaLink(id: string, sagaId: string, open: (id: string) => void): HTMLButtonElement {
  return h('button', { type: 'button', class: 'link', id, 'data-saga-id': sagaId, onclick: () => open(sagaId) }, sagaId);
}

/** The child sagas, each a link with the step that runs it and its status. */
function childrenSection(children: readonly ChildView[], open: (id: string) => void): HTMLElement {
  return h(
    'section',
    { class: 'children', id: 'children' },
    h('h3', {}, 'Child sagas'),
    h(
      'ul',
      {},
      ...children.map((c) =>
        h(
          'li',
          { 'data-child-step': c.step },
          h('button', { type: 'button', class: 'link child-link', 'data-saga-id': c.sagaId, title: `${c.machine} saga run by step ${c.step}`, onclick: () => open(c.sagaId) }, c.sagaId),
          ' ',
          h('span', { class: `badge status-${c.status}` }, c.status),
          ' ',
          h('span', { class: 'child-step' }, `step ${c.step} · ${c.machine}`),
        ),
      ),
    ),
  );
}

function section(title: string, id: string, body: HTMLElement | null): HTMLElement {
  return h('section', { class: id, id }, h('h3', {}, title), body ?? h('p', { class: 'muted' }, 'none'));
}

function table(head: readonly string[], rows: ReadonlyArray<readonly Child[]>): HTMLTableElement {
  return h('table', {}, h('thead', {}, h('tr', {}, ...head.map((c) => h('th', {}, c)))), h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, c))))));
}

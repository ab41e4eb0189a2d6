/** The Boot tab: every coordinator's dependency graph, its errors, and the sagas waiting on each dependency. */
import type { BootView } from '../api-types.js';
import { bootGraph } from './boot-graph.js';
import { fill, h } from './dom.js';
import { clock, dateTime } from './format.js';

export function renderBoot(root: HTMLElement, boot: BootView | null, onOpenSaga: (id: string) => void): void {
  if (boot === null) {
    fill(root, h('h2', {}, 'Boot'), h('p', { class: 'muted' }, 'No boot status yet.'));
    return;
  }
  fill(
    root,
    h('h2', {}, 'Boot'),
    boot.coordinators.length === 0 ? h('p', { class: 'muted' }, 'No coordinator has published its boot status.') : null,
    ...boot.coordinators.map((c) => {
      const failing = c.dependencies.filter((d) => d.error);
      const running = c.running === null ? 'unknown' : c.running ? 'running' : 'not running';
      return h(
        'section',
        { class: 'boot-coordinator', 'data-coordinator': c.name, 'aria-label': `Coordinator ${c.name}` },
        h('h3', {}, c.name, ' ', h('span', { class: `badge ${c.running === false ? 'warn' : c.running ? 'ok' : ''}` }, running)),
        h('div', { class: 'boot-graph-box' }, bootGraph(c.dependencies, c.name)),
        failing.length > 0
          ? h('ul', { class: 'boot-errors' }, ...failing.map((d) => h('li', { 'data-dependency': d.name }, h('strong', {}, d.name), ` (${d.state}): ${d.error ?? ''}`)))
          : null,
      );
    }),
    h('h3', {}, 'Sagas waiting on a dependency'),
    boot.waiting.length === 0
      ? h('p', { class: 'muted', id: 'boot-waiting' }, 'None.')
      : h(
          'table',
          { id: 'boot-waiting' },
          h('thead', {}, h('tr', {}, h('th', {}, 'dependency'), h('th', {}, 'saga'), h('th', {}, 'machine'), h('th', {}, 'since'))),
          h(
            'tbody',
            {},
            ...[...boot.waiting]
              .sort((a, b) => a.dependency.localeCompare(b.dependency) || a.since - b.since)
              .map((w) =>
                h(
                  'tr',
                  { 'data-dependency': w.dependency, 'data-saga-id': w.sagaId },
                  h('td', {}, w.dependency),
                  h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => onOpenSaga(w.sagaId) }, w.sagaId)),
                  h('td', {}, w.machine),
                  h('td', { title: dateTime(w.since) }, clock(w.since)),
                ),
              ),
          ),
        ),
  );
}

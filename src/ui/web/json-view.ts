/**
 * JSON as a collapsible tree: objects and arrays are <details> (keyboard-operable as they
 * are), leaves are text. The top levels start open; deeper ones start closed. Live updates
 * redraw the tree, so `keepOpen` carries what the user opened or closed over to the new one.
 */
import { h, type Child } from './dom.js';

const MAX_ITEMS = 200;

export function jsonView(value: unknown, label: string, openDepth = 1): HTMLElement {
  return h('div', { class: 'json' }, node(label, label, value, 0, openDepth));
}

function node(label: string, path: string, value: unknown, depth: number, openDepth: number): HTMLElement {
  if (value === null || typeof value !== 'object') {
    return h('div', { class: 'json-leaf' }, h('span', { class: 'json-key' }, label), ': ', leaf(value));
  }
  const entries: Array<[string, unknown]> = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value as Record<string, unknown>);
  const brief = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
  const shown = entries.slice(0, MAX_ITEMS).map(([k, v]) => h('li', {}, node(k, `${path}\u0000${k}`, v, depth + 1, openDepth)));
  const more: Child = entries.length > MAX_ITEMS ? h('li', { class: 'json-more' }, `… ${entries.length - MAX_ITEMS} more`) : null;
  return h(
    'details',
    { class: 'json-node', 'data-path': path, open: depth < openDepth },
    h('summary', {}, h('span', { class: 'json-key' }, label), ' ', h('span', { class: 'json-brief' }, brief)),
    h('ul', {}, ...shown, more),
  );
}

function leaf(value: unknown): HTMLElement {
  const type = value === null ? 'null' : typeof value;
  const text = typeof value === 'string' ? JSON.stringify(value) : value === undefined ? 'undefined' : String(value);
  return h('span', { class: `json-${type}` }, text);
}

/** Runs `redraw` (which replaces the trees inside `root`) keeping each node open or closed as it was. */
export function keepOpen(root: Element, redraw: () => void): void {
  const states = new Map<string, boolean>();
  for (const d of root.querySelectorAll<HTMLDetailsElement>('details.json-node')) states.set(d.dataset.path ?? '', d.open);
  redraw();
  for (const d of root.querySelectorAll<HTMLDetailsElement>('details.json-node')) {
    const open = states.get(d.dataset.path ?? '');
    if (open !== undefined) d.open = open;
  }
}

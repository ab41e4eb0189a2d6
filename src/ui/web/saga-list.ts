/**
 * The saga list: one button per saga (status, machine, owner, age), filtered by status and
 * machine on the page, updated in place from the live feed. A child saga is indented under its
 * parent and says whose child it is (saga-tree.ts orders them). Arrow keys move between rows,
 * Enter or Space selects (they are buttons).
 */
import type { SagaRow } from '../api-types.js';
import { fill, h } from './dom.js';
import { age, dateTime } from './format.js';
import { placeRows } from './saga-tree.js';

/** Nesting levels the list indents (style.css has a rule for each). */
const MAX_INDENT = 3;
const STATUSES = ['running', 'compensating', 'blocked', 'completed', 'compensated', 'cancelled'] as const;

export class SagaListView {
  private sagas: readonly SagaRow[] = [];
  private machines: readonly string[] = [];
  private selected: string | null = null;
  private status = '';
  private machine = '';
  private readonly statusSelect: HTMLSelectElement;
  private readonly machineSelect: HTMLSelectElement;
  private readonly rows: HTMLOListElement;
  private readonly count: HTMLElement;
  /** The row shown for each saga, with what it shows (see render). */
  private rowEls = new Map<string, { li: HTMLLIElement; key: string }>();

  constructor(
    root: HTMLElement,
    private readonly onSelect: (id: string) => void,
  ) {
    this.statusSelect = h('select', { id: 'filter-status', onchange: () => this.filterChanged() }, h('option', { value: '' }, 'any status'), ...STATUSES.map((s) => h('option', { value: s }, s)));
    this.machineSelect = h('select', { id: 'filter-machine', onchange: () => this.filterChanged() }, h('option', { value: '' }, 'any machine'));
    this.count = h('span', { class: 'count', 'aria-live': 'polite' });
    this.rows = h('ol', { class: 'saga-rows', id: 'saga-rows', onkeydown: (e) => this.onKey(e as KeyboardEvent) });
    fill(
      root,
      h('h2', {}, 'Sagas ', this.count),
      h('div', { class: 'filters' }, h('label', {}, 'Status ', this.statusSelect), h('label', {}, 'Machine ', this.machineSelect)),
      this.rows,
    );
  }

  setSagas(sagas: readonly SagaRow[]): void {
    this.sagas = sagas;
    this.render();
  }

  setMachines(machines: readonly string[]): void {
    this.machines = machines;
    this.renderMachineOptions();
  }

  setSelected(id: string | null): void {
    this.selected = id;
    for (const b of this.rows.querySelectorAll<HTMLButtonElement>('button.saga-row')) b.setAttribute('aria-current', String(b.dataset.sagaId === id));
  }

  /** Ages move with the clock. */
  refreshAges(): void {
    const now = Date.now();
    for (const el of this.rows.querySelectorAll<HTMLElement>('[data-created]')) el.textContent = age(Number(el.dataset.created), now);
  }

  private filterChanged(): void {
    this.status = this.statusSelect.value;
    this.machine = this.machineSelect.value;
    this.render();
  }

  private renderMachineOptions(): void {
    const known = new Set([...this.machines, ...this.sagas.map((s) => s.machine)]);
    const options = [...known].sort();
    if (options.join('\n') === [...this.machineSelect.options].slice(1).map((o) => o.value).join('\n')) return;
    fill(this.machineSelect, h('option', { value: '' }, 'any machine'), ...options.map((m) => h('option', { value: m }, m)));
    this.machineSelect.value = this.machine;
  }

  /**
   * Rows are kept, keyed by saga, and rebuilt only when what they show changes: the live feed
   * updates the list many times a second while sagas move, and a row replaced between a
   * click's mousedown and mouseup would lose the click (and the focus).
   */
  private render(): void {
    this.renderMachineOptions();
    const focused = (document.activeElement as HTMLElement | null)?.dataset?.sagaId;
    const shown = this.sagas.filter((s) => (this.status === '' || s.status === this.status) && (this.machine === '' || s.machine === this.machine));
    const now = Date.now();
    const wanted: HTMLLIElement[] = [];
    const kept = new Map<string, { li: HTMLLIElement; key: string }>();
    for (const { row: s, depth } of placeRows(shown)) {
      const key = JSON.stringify([s.status, s.machine, s.version, s.owner, s.createdAt, s.parentId, depth]);
      const old = this.rowEls.get(s.id);
      const li = old?.key === key ? old.li : this.rowElement(s, depth, now);
      kept.set(s.id, { li, key });
      wanted.push(li);
    }
    this.rowEls = kept;
    if (shown.length === 0) wanted.push(h('li', { class: 'empty' }, this.sagas.length === 0 ? 'no sagas' : 'none match the filters'));
    // Moves only what is out of place; a row that stays where it is is never detached.
    wanted.forEach((li, i) => {
      if (this.rows.children[i] !== li) this.rows.insertBefore(li, this.rows.children[i] ?? null);
    });
    while (this.rows.children.length > wanted.length) this.rows.lastElementChild!.remove();
    this.count.textContent = `${shown.length}/${this.sagas.length}`;
    this.setSelected(this.selected);
    // A focused row that was rebuilt keeps the keyboard focus.
    if (focused !== undefined && !this.rows.contains(document.activeElement)) this.rows.querySelector<HTMLButtonElement>(`button[data-saga-id="${CSS.escape(focused)}"]`)?.focus();
  }

  private rowElement(s: SagaRow, depth: number, now: number): HTMLLIElement {
    return h(
      'li',
      // Classes, not a style attribute: the page's CSP refuses inline styles. Deeper than 3 reads as 3.
      depth > 0 ? { class: `nested depth-${Math.min(depth, MAX_INDENT)}` } : {},
      h(
        'button',
        {
          type: 'button',
          class: s.parentId === null ? 'saga-row' : 'saga-row child',
          'data-saga-id': s.id,
          'data-status': s.status,
          'data-parent-id': s.parentId,
          'aria-current': String(s.id === this.selected),
          onclick: () => this.onSelect(s.id),
        },
        h('span', { class: 'saga-id' }, s.id),
        h('span', { class: `badge status-${s.status}` }, s.status),
        h('span', { class: 'saga-machine' }, `${s.machine}@${s.version}`),
        h('span', { class: 'saga-owner', title: 'owner' }, s.owner || '—'),
        h('span', { class: 'saga-age', 'data-created': s.createdAt, title: `created ${dateTime(s.createdAt)}` }, age(s.createdAt, now)),
        s.parentId === null ? null : h('span', { class: 'saga-parent', title: `a child saga of ${s.parentId}` }, `↳ child of ${s.parentId}`),
      ),
    );
  }

  private onKey(e: KeyboardEvent): void {
    const buttons = [...this.rows.querySelectorAll<HTMLButtonElement>('button.saga-row')];
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    const to = e.key === 'ArrowDown' ? at + 1 : e.key === 'ArrowUp' ? at - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? buttons.length - 1 : null;
    if (to === null || buttons.length === 0) return;
    e.preventDefault();
    buttons[Math.max(0, Math.min(buttons.length - 1, to))]?.focus();
  }
}

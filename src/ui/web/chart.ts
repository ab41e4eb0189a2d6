/**
 * The machine chart: the server's SVG (renderSvg) inside a stage that zooms (wheel, +/−),
 * pans (drag, arrow keys) and fits. The chart's drawing goes into one <g> whose transform
 * is the view, so the rendered geometry is never touched. The saga's active configuration
 * and the states it went through are marked with the chart's own classes on `[data-state]`.
 * A state that runs a child saga (`data-child-step`) the selected saga has started is marked
 * openable, and a click on it (a press and release without a drag) asks to open that child.
 */
import type { MachineChart, MachineSummary } from '../api-types.js';
import type { Api } from './api.js';
import { fill, h, svg } from './dom.js';
import { errorText } from './format.js';
import { parseSvg } from './svg-markup.js';
import { fitView, panBy, transformOf, zoomAt, type Size, type View } from './viewport.js';

export const ACTIVE_CLASS = 'jsg-active';
export const VISITED_CLASS = 'jsg-visited';
const FROM_ACTIVE_CLASS = 'jsg-from-active';
export const CHILD_OPEN_CLASS = 'jsg-child-open';
/** A press that moved less than this (px) is a click, not a drag. */
const CLICK_SLOP = 4;
const STEP = 1.25;
const KEY_PAN = 40;

interface Highlight {
  readonly active: readonly string[];
  readonly visited: readonly string[];
}

export class ChartView {
  private readonly charts = new Map<string, Promise<MachineChart>>();
  private readonly stage: HTMLElement;
  private readonly machineSelect: HTMLSelectElement;
  private readonly caption: HTMLElement;
  private machine: string | null = null;
  private chart: SVGSVGElement | null = null;
  private viewport: SVGGElement | null = null;
  private size: Size = { w: 0, h: 0 };
  private view: View = { x: 0, y: 0, k: 1 };
  private highlight: Highlight = { active: [], visited: [] };
  private drag: { id: number; x: number; y: number } | null = null;
  /** The child step under the pointer when it went down, and where: a click opens it. */
  private press: { step: string; x: number; y: number } | null = null;
  /** The machine and steps whose child sagas the selected saga has started. */
  private openable: { machine: string; steps: ReadonlySet<string> } | null = null;
  private fitted = true;
  /** Zoom to the active states once the next highlight is drawn (a newly selected saga). */
  private focusPending = false;
  /** The user zoomed or panned since the chart last framed something itself: the view is theirs. */
  private userMoved = false;

  constructor(
    root: HTMLElement,
    private readonly api: Api,
    /** A click on a state that runs a child saga the selected saga started: its step. */
    private readonly onOpenChild: (step: string) => void = () => undefined,
  ) {
    this.machineSelect = h('select', { id: 'chart-machine', 'aria-label': 'Machine', onchange: () => void this.show(this.machineSelect.value) });
    this.caption = h('span', { class: 'chart-caption', 'aria-live': 'polite' });
    this.stage = h('div', {
      class: 'chart-stage',
      id: 'chart-stage',
      tabindex: 0,
      role: 'img',
      'aria-label': 'Machine chart: wheel or +/− to zoom, drag or arrow keys to pan, 0 to fit',
      onkeydown: (e) => this.onKey(e as KeyboardEvent),
      onpointerdown: (e) => this.onPointerDown(e as PointerEvent),
      onpointermove: (e) => this.onPointerMove(e as PointerEvent),
      onpointerup: (e) => this.onPointerUp(e as PointerEvent),
      onpointercancel: (e) => this.onPointerUp(e as PointerEvent),
    });
    // Not passive: the wheel zooms the chart instead of scrolling the page.
    this.stage.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
    const button = (id: string, label: string, text: string, action: () => void): HTMLButtonElement =>
      h('button', { type: 'button', id, title: label, 'aria-label': label, onclick: action }, text);
    fill(
      root,
      h(
        'div',
        { class: 'toolbar' },
        h('h2', {}, 'Chart'),
        this.machineSelect,
        button('zoom-out', 'Zoom out', '−', () => this.zoomCentre(1 / STEP)),
        button('zoom-in', 'Zoom in', '+', () => this.zoomCentre(STEP)),
        button('fit', 'Fit the chart', 'Fit', () => this.fit()),
        button('focus', 'Zoom to the active states', 'Active', () => this.focusActive()),
        this.caption,
      ),
      this.stage,
    );
    // A chart the user has not moved stays fitted when the stage changes size.
    new ResizeObserver(() => {
      if (this.chart && this.fitted) this.fit();
    }).observe(this.stage);
  }

  setMachines(machines: readonly MachineSummary[]): void {
    fill(this.machineSelect, ...machines.map((m) => h('option', { value: m.id, title: m.description ?? '' }, `${m.id}@${m.version}`)));
    if (this.machine !== null) this.machineSelect.value = this.machine;
    else if (machines[0]) void this.show(machines[0].id);
  }

  /** Shows a machine's chart (fetched once per page). */
  async show(machine: string): Promise<void> {
    if (machine === this.machine && this.chart) return;
    this.machine = machine;
    this.machineSelect.value = machine;
    let chart: MachineChart;
    try {
      chart = await this.load(machine);
    } catch (e) {
      this.charts.delete(machine);
      if (this.machine === machine) this.message(`Chart of ${machine} unavailable: ${errorText(e)}`);
      return;
    }
    if (this.machine !== machine) return;
    this.insert(chart);
  }

  /**
   * Marks the active states and the path taken; ids the chart lacks are ignored. When the
   * active states moved out of sight (a scrub back in time, a saga that went on) and the user
   * has not placed the view, the view follows them.
   */
  setHighlight(active: readonly string[], visited: readonly string[]): void {
    this.highlight = { active, visited };
    this.applyHighlight();
    if (!this.userMoved && !this.focusPending && this.activeOutOfSight()) this.focusActive();
  }

  /** The child steps of `machine` whose child sagas can be opened (the selected saga's); null: none. */
  setOpenable(machine: string | null, steps: readonly string[]): void {
    this.openable = machine === null ? null : { machine, steps: new Set(steps) };
    this.applyHighlight();
  }

  /** Zooms to the active states (not the root) the next time a highlight is drawn. */
  requestFocus(): void {
    this.focusPending = true;
  }

  /** Frames the active states (the root aside), at most at natural size; the whole chart if none. */
  focusActive(): void {
    this.focusPending = false;
    this.userMoved = false;
    if (!this.chart) return;
    const rects = [...this.chart.querySelectorAll<SVGRectElement>(`[data-state].${ACTIVE_CLASS}:not(.jsg-root) > rect`)];
    if (rects.length === 0) return this.fit();
    const b = bounds(rects);
    const v = fitView({ w: b.x1 - b.x0, h: b.y1 - b.y0 }, this.box());
    this.setView({ x: v.x - b.x0 * v.k, y: v.y - b.y0 * v.k, k: v.k });
  }

  fit(): void {
    this.userMoved = false;
    this.setView(fitView(this.size, this.box()));
    this.fitted = true;
  }

  /** No innermost active state is even partly in the stage's view. */
  private activeOutOfSight(): boolean {
    if (!this.chart) return false;
    const active = new Set(this.highlight.active);
    const leaves = [...active].filter((id) => ![...active].some((other) => other.startsWith(`${id}.`)));
    const rects = leaves.flatMap((id) => [...this.chart!.querySelectorAll<SVGRectElement>(`[data-state="${CSS.escape(id)}"]:not(.jsg-root) > rect`)]);
    if (rects.length === 0) return false;
    const { w, h } = this.box();
    const { x, y, k } = this.view;
    return !rects.some((r) => {
      const b = bounds([r]);
      return x + b.x1 * k > 0 && x + b.x0 * k < w && y + b.y1 * k > 0 && y + b.y0 * k < h;
    });
  }

  private load(machine: string): Promise<MachineChart> {
    let p = this.charts.get(machine);
    if (!p) {
      p = this.api.get<MachineChart>(`/api/machines/${encodeURIComponent(machine)}`);
      this.charts.set(machine, p);
    }
    return p;
  }

  private insert(chart: MachineChart): void {
    let root: SVGSVGElement;
    try {
      root = parseSvg(chart.svg);
    } catch (e) {
      this.message(errorText(e));
      return;
    }
    this.size = { w: Number(root.getAttribute('width')) || chart.layout.width, h: Number(root.getAttribute('height')) || chart.layout.height };
    // The stage sizes the chart; the view transform places it.
    root.removeAttribute('viewBox');
    root.setAttribute('width', '100%');
    root.setAttribute('height', '100%');
    const g = svg('g', { class: 'jsg-viewport' });
    for (const child of [...root.childNodes]) {
      if (child instanceof Element && (child.localName === 'defs' || child.localName === 'title')) continue;
      g.append(child);
    }
    root.append(g);
    this.chart = root;
    this.viewport = g;
    fill(this.stage, root);
    this.caption.textContent = chart.description ?? '';
    this.fit();
    this.applyHighlight();
  }

  private applyHighlight(): void {
    if (!this.chart) return;
    const active = new Set(this.highlight.active);
    const visited = new Set(this.highlight.visited);
    for (const el of this.chart.querySelectorAll<SVGElement>('[data-state]')) {
      const id = el.getAttribute('data-state') ?? '';
      el.classList.toggle(ACTIVE_CLASS, active.has(id));
      el.classList.toggle(VISITED_CLASS, visited.has(id));
    }
    for (const el of this.chart.querySelectorAll<SVGElement>('[data-edge]')) el.classList.toggle(FROM_ACTIVE_CLASS, active.has(el.getAttribute('data-source') ?? ''));
    for (const el of this.chart.querySelectorAll<SVGElement>('[data-child-step]')) el.classList.toggle(CHILD_OPEN_CLASS, this.openStep(el) !== null);
    if (this.focusPending && active.size > 0) this.focusActive();
  }

  private message(text: string): void {
    this.chart = null;
    this.viewport = null;
    fill(this.stage, h('p', { class: 'chart-message' }, text));
  }

  private box(): Size {
    return { w: this.stage.clientWidth, h: this.stage.clientHeight };
  }

  private setView(view: View): void {
    this.view = view;
    this.fitted = false;
    this.viewport?.setAttribute('transform', transformOf(view));
  }

  private zoomCentre(factor: number): void {
    this.userMoved = true;
    const b = this.box();
    this.setView(zoomAt(this.view, factor, b.w / 2, b.h / 2));
  }

  private onWheel(e: WheelEvent): void {
    if (!this.chart) return;
    e.preventDefault();
    this.userMoved = true;
    const r = this.stage.getBoundingClientRect();
    // One notch (≈100 px) is one zoom step; trackpads send many small deltas.
    this.setView(zoomAt(this.view, Math.pow(STEP, -e.deltaY / 100), e.clientX - r.left, e.clientY - r.top));
  }

  /** The child step a chart element opens, or null when the selected saga has no such child. */
  private openStep(el: Element | null): string | null {
    const step = el?.closest('[data-child-step]')?.getAttribute('data-child-step') ?? null;
    const o = this.openable;
    return step !== null && o !== null && o.machine === this.machine && o.steps.has(step) ? step : null;
  }

  private onPointerDown(e: PointerEvent): void {
    if (!this.chart || e.button !== 0) return;
    // Read before the capture below: from then on the stage is every pointer event's target.
    const step = this.openStep(e.target instanceof Element ? e.target : null);
    this.press = step === null ? null : { step, x: e.clientX, y: e.clientY };
    this.drag = { id: e.pointerId, x: e.clientX, y: e.clientY };
    this.stage.setPointerCapture(e.pointerId);
    this.stage.classList.add('dragging');
  }

  private onPointerMove(e: PointerEvent): void {
    if (!this.drag || this.drag.id !== e.pointerId) return;
    this.userMoved = true;
    this.setView(panBy(this.view, e.clientX - this.drag.x, e.clientY - this.drag.y));
    this.drag = { id: e.pointerId, x: e.clientX, y: e.clientY };
  }

  private onPointerUp(e: PointerEvent): void {
    if (!this.drag || this.drag.id !== e.pointerId) return;
    this.drag = null;
    this.stage.classList.remove('dragging');
    const press = this.press;
    this.press = null;
    if (press && e.type === 'pointerup' && Math.hypot(e.clientX - press.x, e.clientY - press.y) < CLICK_SLOP) this.onOpenChild(press.step);
  }

  private pan(dx: number, dy: number): void {
    this.userMoved = true;
    this.setView(panBy(this.view, dx, dy));
  }

  private onKey(e: KeyboardEvent): void {
    const moves: Record<string, () => void> = {
      '+': () => this.zoomCentre(STEP),
      '=': () => this.zoomCentre(STEP),
      '-': () => this.zoomCentre(1 / STEP),
      '0': () => this.fit(),
      ArrowLeft: () => this.pan(KEY_PAN, 0),
      ArrowRight: () => this.pan(-KEY_PAN, 0),
      ArrowUp: () => this.pan(0, KEY_PAN),
      ArrowDown: () => this.pan(0, -KEY_PAN),
    };
    const move = moves[e.key];
    if (!move) return;
    e.preventDefault();
    move();
  }
}

/** The box around some of the chart's state rectangles, in chart coordinates. */
function bounds(rects: readonly SVGRectElement[]): { x0: number; y0: number; x1: number; y1: number } {
  const num = (r: SVGRectElement, a: string): number => Number(r.getAttribute(a)) || 0;
  return {
    x0: Math.min(...rects.map((r) => num(r, 'x'))),
    y0: Math.min(...rects.map((r) => num(r, 'y'))),
    x1: Math.max(...rects.map((r) => num(r, 'x') + num(r, 'width'))),
    y1: Math.max(...rects.map((r) => num(r, 'y') + num(r, 'height'))),
  };
}

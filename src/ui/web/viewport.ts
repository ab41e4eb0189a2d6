/** Zoom and pan as a translate-then-scale transform, and the view that fits a chart in its box. */
export interface View {
  readonly x: number;
  readonly y: number;
  readonly k: number;
}

export interface Size {
  readonly w: number;
  readonly h: number;
}

export const MIN_SCALE = 0.05;
export const MAX_SCALE = 8;
const PAD = 12;

const clamp = (k: number): number => Math.min(MAX_SCALE, Math.max(MIN_SCALE, k));

/** The whole chart, centred, never blown up past its natural size. */
export function fitView(content: Size, box: Size): View {
  if (content.w <= 0 || content.h <= 0 || box.w <= 0 || box.h <= 0) return { x: 0, y: 0, k: 1 };
  const k = clamp(Math.min((box.w - 2 * PAD) / content.w, (box.h - 2 * PAD) / content.h, 1));
  return { x: (box.w - content.w * k) / 2, y: (box.h - content.h * k) / 2, k };
}

/** Scales by `factor` keeping the point (px, py) of the box where it is. */
export function zoomAt(view: View, factor: number, px: number, py: number): View {
  const k = clamp(view.k * factor);
  const r = k / view.k;
  return { x: px - (px - view.x) * r, y: py - (py - view.y) * r, k };
}

export function panBy(view: View, dx: number, dy: number): View {
  return { x: view.x + dx, y: view.y + dy, k: view.k };
}

const round = (v: number): number => Math.round(v * 1000) / 1000;

export function transformOf(view: View): string {
  return `translate(${round(view.x)} ${round(view.y)}) scale(${round(view.k)})`;
}

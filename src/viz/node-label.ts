/**
 * What a state's box says and how big that text is. Layout sizes boxes from it and the SVG
 * draws it, so both read this one definition. Sizes are a monospace estimate (characters ×
 * advance): the chart draws with a generic monospace font, and no font is measured offline.
 */
import type { GraphNode } from './graph-types.js';
import type { TextMetrics } from './layout-types.js';

export const DEFAULT_METRICS: TextMetrics = { fontSize: 12, charWidth: 7.2, lineHeight: 16 };

/** Space between a box's border and its text. */
export const PAD_X = 10;
export const PAD_Y = 6;
const MIN_WIDTH = 48;

export interface NodeText {
  /** The state's key (the machine id for the root). */
  readonly title: string;
  /** Secondary lines: invoked actors (`↻ src`), the step's undo (`⟲ src`), then tags (`#tag`). */
  readonly lines: readonly string[];
}

export function nodeText(node: GraphNode): NodeText {
  return {
    title: node.key,
    lines: [...node.invocations.map((i) => `↻ ${i.src}`), ...(node.undoSrc ? [`⟲ ${node.undoSrc}`] : []), ...node.tags.map((t) => `#${t}`)],
  };
}

export function textWidth(text: string, metrics: TextMetrics): number {
  // Code points, not UTF-16 units: '↻' is one character on screen.
  return [...text].length * metrics.charWidth;
}

/** Width and height the text block needs, padding included. */
export function textBlock(text: NodeText, metrics: TextMetrics): { w: number; h: number } {
  const widest = Math.max(textWidth(text.title, metrics), ...text.lines.map((l) => textWidth(l, metrics)));
  return {
    w: Math.max(MIN_WIDTH, Math.ceil(widest + 2 * PAD_X)),
    h: Math.ceil((1 + text.lines.length) * metrics.lineHeight + 2 * PAD_Y),
  };
}

/** The chart's zoom, pan and fit arithmetic (src/ui/web/viewport.ts, pure). */
import { describe, expect, it } from 'vitest';
import { fitView, MAX_SCALE, MIN_SCALE, panBy, transformOf, zoomAt } from '../../src/ui/web/viewport.js';

describe('chart viewport', () => {
  it('fits a large chart inside the box, centred', () => {
    const v = fitView({ w: 2000, h: 1000 }, { w: 1000, h: 800 });
    expect(v.k).toBeLessThan(0.5);
    expect(v.x + (2000 * v.k) / 2).toBeCloseTo(500);
    expect(v.y + (1000 * v.k) / 2).toBeCloseTo(400);
  });

  it('never blows a small chart up past its natural size', () => {
    expect(fitView({ w: 100, h: 50 }, { w: 1000, h: 800 }).k).toBe(1);
  });

  it('zooms around the pointer: the chart point under it stays there', () => {
    const v = { x: 30, y: -20, k: 0.5 };
    const at = { x: 400, y: 300 };
    const under = { x: (at.x - v.x) / v.k, y: (at.y - v.y) / v.k };
    const z = zoomAt(v, 2, at.x, at.y);
    expect(z.k).toBe(1);
    expect(z.x + under.x * z.k).toBeCloseTo(at.x);
    expect(z.y + under.y * z.k).toBeCloseTo(at.y);
  });

  it('keeps the scale within bounds', () => {
    expect(zoomAt({ x: 0, y: 0, k: 1 }, 1e6, 0, 0).k).toBe(MAX_SCALE);
    expect(zoomAt({ x: 0, y: 0, k: 1 }, 1e-6, 0, 0).k).toBe(MIN_SCALE);
  });

  it('pans without scaling, and writes an SVG transform', () => {
    expect(panBy({ x: 1, y: 2, k: 3 }, 10, -5)).toEqual({ x: 11, y: -3, k: 3 });
    expect(transformOf({ x: 1.23456, y: 2, k: 0.5 })).toBe('translate(1.235 2) scale(0.5)');
  });
});

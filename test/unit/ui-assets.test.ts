/**
 * The visualizer page's assets (src/ui/assets.ts): a shell that loads only its own script and
 * stylesheet (the page is served under CSP `default-src 'self'`), a bundle made from the page's
 * own sources, and nothing that would reach the internet.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildAssets, webSourceDir } from '../../src/ui/assets.js';
import { CHART_CSS } from '../../src/viz/svg-style.js';

describe('buildAssets', () => {
  it('gives a shell linking /assets/app.js (module) and /assets/app.css, with no inline script or style', async () => {
    const { html } = await buildAssets();
    expect(html).toContain('<script type="module" src="/assets/app.js"></script>');
    expect(html).toContain('<link rel="stylesheet" href="/assets/app.css">');
    expect([...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0])).toEqual(['<script type="module" src="/assets/app.js">']);
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
  });

  it('bundles the page into one minified ES module without imports', async () => {
    const { js } = await buildAssets();
    expect(js.length).toBeGreaterThan(1000);
    expect(js).not.toMatch(/^\s*import\s/m);
    expect(js.split('\n').length).toBeLessThan(10);
    expect(js).not.toContain('sourceMappingURL=data');
  });

  it('fetches nothing from the internet: no URL but the SVG namespace', async () => {
    const { js, css, html } = await buildAssets();
    const urls = [js, css, html].flatMap((text) => [...text.matchAll(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"')]*/gi)].map((m) => m[0]));
    expect(new Set(urls)).toEqual(new Set(['http://www.w3.org/2000/svg']));
    expect(css).not.toMatch(/@import|@font-face/);
  });

  it('styles charts itself (their own <style> is refused by the CSP)', async () => {
    const { css } = await buildAssets();
    expect(css).toContain(CHART_CSS.trim().split('\n')[0]);
  });

  it('reads the sources from src/ui/web in the clone', () => {
    expect(webSourceDir()).toMatch(/src[/\\]ui[/\\]web$/);
  });

  it('bundles only src/ui/web itself: the package ships that directory, not the rest of src/', () => {
    const dir = webSourceDir();
    const outside = readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => [...readFileSync(join(dir, f), 'utf8').matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+'([^']+)'/gms)].map((m) => `${f}: ${m[1]}`))
      .filter((i) => !/: \.\/[^/]+$/.test(i));
    expect(outside).toEqual([]);
  });
});

/**
 * The visualizer page's assets, built in memory: `src/ui/web/main.ts` bundled by esbuild
 * (one ES module, minified, no source map), the page's stylesheet followed by the chart
 * stylesheet (src/viz/svg-style.ts: the page's CSP refuses the <style> inside a chart), and
 * the HTML shell, which links `/assets/app.js` and `/assets/app.css` and nothing else.
 *
 * The sources are read from `src/ui/web` next to this file when it runs from the clone
 * (tsx), or from the package root's `src/ui/web` when it runs compiled from `dist/src/ui`
 * (package.json ships that directory). Bundling takes a moment: call it once per server.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SagaError } from '../errors.js';
import { CHART_CSS } from '../viz/svg-style.js';

export const UI_ASSETS_MISSING = 'UI_ASSETS_MISSING';
export const UI_ASSETS_FAILED = 'UI_ASSETS_FAILED';

export interface UiAssets {
  readonly html: string;
  readonly js: string;
  readonly css: string;
}

const here = dirname(fileURLToPath(import.meta.url));
/** src/ui/web beside this file (clone), or from dist/src/ui back to the package root. */
const CANDIDATES = [join(here, 'web'), resolve(here, '..', '..', '..', 'src', 'ui', 'web')];

export function webSourceDir(): string {
  const dir = CANDIDATES.find((d) => existsSync(join(d, 'main.ts')));
  if (!dir) throw new SagaError(UI_ASSETS_MISSING, `the visualizer's page sources are missing (looked in ${CANDIDATES.join(', ')})`);
  return dir;
}

export async function buildAssets(): Promise<UiAssets> {
  const dir = webSourceDir();
  // Loaded here, not at the top: only a process that serves the page pays for esbuild.
  const esbuild = await import('esbuild');
  let js: string;
  try {
    const out = await esbuild.build({
      entryPoints: [join(dir, 'main.ts')],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      sourcemap: false,
      legalComments: 'none',
      logLevel: 'silent',
      // The same result from the clone and from an installed package (which has no tsconfig).
      tsconfigRaw: {},
    });
    js = out.outputFiles[0]!.text;
  } catch (e) {
    throw new SagaError(UI_ASSETS_FAILED, `bundling the visualizer's page failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const [html, css] = await Promise.all([readFile(join(dir, 'index.html'), 'utf8'), readFile(join(dir, 'style.css'), 'utf8')]);
  return { html, js, css: `${css}\n/* Machine charts (src/viz/svg-style.ts) */${CHART_CSS}` };
}

/**
 * Placeholder for the visualizer's page (the page and its bundling replace this file): a
 * minimal HTML shell with the same asset URLs the real page uses.
 */
export async function buildAssets(): Promise<{ html: string; js: string; css: string }> {
  return {
    html:
      '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>jetsaga</title>' +
      '<link rel="stylesheet" href="/assets/app.css"></head>' +
      '<body><main id="app">jetsaga visualizer</main><script type="module" src="/assets/app.js"></script></body></html>\n',
    js: 'document.getElementById("app")?.setAttribute("data-ready", "true");\n',
    css: 'body { font-family: sans-serif; }\n',
  };
}

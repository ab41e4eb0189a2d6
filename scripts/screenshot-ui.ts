/**
 * Regenerates the README's picture of the visualizer, docs/visualizer.png, from the real thing:
 * the browser tests' world (test/helpers/ui-real-world.ts: a nats-server, a docker-registry, a
 * coordinator process, `jetsaga ui`) with a build of examples/static-site waiting for the
 * registry in `prepare`, shown in headless Chromium (1400×900) with that build selected.
 * Everything it starts is stopped before it exits.
 *
 *   npx tsx scripts/screenshot-ui.ts [out.png]
 */
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launchBrowser, type BrowserHandle } from '../test/helpers/ui-browser.js';
import { startRealUiWorld, type RealUiWorld } from '../test/helpers/ui-real-world.js';
import { until } from '../test/helpers/until.js';

const out = process.argv[2] ?? fileURLToPath(new URL('../docs/visualizer.png', import.meta.url));
const WAIT_MS = 60_000;

let world: RealUiWorld | undefined;
let browser: BrowserHandle | undefined;
try {
  [world, browser] = await Promise.all([startRealUiWorld({ namespace: 'jetsaga' }), launchBrowser({ viewport: { width: 1400, height: 900 } })]);
  const { page } = await browser.openPage(world.pageUrl);
  const saga = world.runningSaga;
  await page.locator(`button.saga-row[data-saga-id="${saga}"]`).click({ timeout: WAIT_MS });
  await page.locator(`#detail-id[data-saga-id="${saga}"]`).waitFor({ timeout: WAIT_MS });
  await page.locator('#waiting').waitFor({ timeout: WAIT_MS });
  await until(async () => (await page.locator('#chart-stage [data-state].jsg-active').count()) > 3, WAIT_MS, 'the build highlighted on its chart');
  await until(async () => (await page.locator('#entries li').count()) > 3, WAIT_MS, 'the timeline');
  await page.locator('#at h3').waitFor({ timeout: WAIT_MS });
  await page.screenshot({ path: out });
  console.log(`${out}: ${Math.round(statSync(out).size / 1024)} KiB`);
} finally {
  await browser?.close();
  await world?.close();
}

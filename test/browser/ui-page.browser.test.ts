/**
 * The visualizer's page in headless Chromium (Debian's /usr/bin/chromium via playwright-core)
 * against the fake server (test/helpers/ui-fake-server.ts): canned build sagas, real charts.
 * The scenarios (ui-scenarios.ts) know only a UiWorld, so they run unchanged against the real
 * server too. Every test saves a screenshot in test-artifacts/ui/ (and one on failure).
 */
import { afterAll, beforeAll, describe, it, onTestFinished } from 'vitest';
import { browserMissing, launchBrowser, screenshot, type BrowserHandle, type TestPage } from '../helpers/ui-browser.js';
import { startFakeUiServer, type FakeUiOptions } from '../helpers/ui-fake-server.js';
import type { UiWorld } from '../helpers/ui-world.js';
import * as S from './ui-scenarios.js';

const missing = browserMissing();
if (missing) console.warn(missing);

type Scenario = (world: UiWorld, open: S.OpenPage) => Promise<TestPage>;

describe.skipIf(missing !== null)('visualizer page (fake server)', () => {
  let browser: BrowserHandle | undefined;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** A fresh server per test (actions and appended entries change it); its page is closed after. */
  const run = (name: string, scenario: Scenario, check: (t: TestPage) => void = noErrors, options: FakeUiOptions = {}) =>
    it(name, async () => {
      const world = await startFakeUiServer(options);
      onTestFinished(() => world.close());
      let last: TestPage | undefined;
      const open: S.OpenPage = async (url) => {
        last = await browser!.openPage(url);
        onTestFinished(() => last?.page.close());
        return last;
      };
      let t: TestPage;
      try {
        t = await scenario(world, open);
      } catch (e) {
        // Taken here, while the page is still open (test-finished hooks close it).
        if (last) await screenshot(last.page, `${name}-failed`).catch(() => undefined);
        throw e;
      }
      await screenshot(t.page, name);
      check(t);
    });

  run('loads-with-token', S.loadsWithToken);
  // The page's own 401s are expected there; nothing else may fail.
  run('refused-without-token', S.refusedWithoutToken, onlyUnauthorized);
  run('refused-with-wrong-token', S.refusedWithWrongToken, onlyUnauthorized);
  run('build-machine-chart', S.drawsBuildMachine);
  run('selected-saga-highlight', S.highlightsSelectedSaga);
  run('live-updates', S.followsLive, allowStreamBreaks);
  run('scrubber', S.scrubs);
  run('fork', S.forks);
  run('blocked-compensation-plan', S.blockedPlanActs);
  run('boot-graph', S.drawsBootGraph);
  run('bundle', S.opensBundle);
  run('offline-mode-bundle', S.opensBundleOffline, noErrors, { offline: true });
  run('zoom-pan-fit', S.zoomsPansFits);
  run('list-keyboard-and-filters', S.listKeyboard);
  run('nested-sagas', S.opensChildSagas);
});

/** The page ran without console errors (a CSP violation or a failed request shows up there). */
function noErrors(t: TestPage): void {
  if (t.errors.length > 0) throw new Error(`the page logged errors:\n${t.errors.join('\n')}`);
}

function onlyUnauthorized(t: TestPage): void {
  const other = t.errors.filter((e) => !/401/.test(e));
  if (other.length > 0) throw new Error(`the page logged errors:\n${other.join('\n')}`);
}

/** A dropped event stream is logged by Chromium as a network error; nothing else may be. */
function allowStreamBreaks(t: TestPage): void {
  const other = t.errors.filter((e) => !/ERR_(INCOMPLETE_CHUNKED_ENCODING|EMPTY_RESPONSE|CONNECTION)/.test(e));
  if (other.length > 0) throw new Error(`the page logged errors:\n${other.join('\n')}`);
}

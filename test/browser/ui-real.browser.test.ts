/**
 * The visualizer's page in headless Chromium against the real thing (test/helpers/ui-real-world.ts):
 * `jetsaga ui` as a child process, bridged to a coordinator child process on a real
 * nats-server, with a real docker-registry; builds of examples/static-site and tidy test sagas.
 * The scenarios are ui-scenarios.ts, shared with the fake server's tests, plus the ones only a
 * real coordinator can answer: sagas started and driven for real, Skip and Abandon, a refused
 * fork, a bundle exported by `jetsaga sagas export` opened in `jetsaga ui --offline`.
 *
 * One world for the file (a coordinator and a UI process take seconds to start): the tests run
 * in this order and some move it on — the build waits for the registry until `live-updates`
 * brings it back; blocked sagas are driven by the blocked tests. Screenshots go to
 * test-artifacts/ui/real-*.png (and `real-<name>-failed.png` on failure).
 */
import { afterAll, beforeAll, describe, it, onTestFinished } from 'vitest';
import { browserMissing, launchBrowser, screenshot, type BrowserHandle, type TestPage } from '../helpers/ui-browser.js';
import { startRealUiWorld, type RealUiWorld } from '../helpers/ui-real-world.js';
import type { UiWorld } from '../helpers/ui-world.js';
import * as S from './ui-scenarios.js';

const missing = browserMissing();
if (missing) console.warn(missing);

type Scenario = (world: UiWorld, open: S.OpenPage) => Promise<TestPage>;

describe.skipIf(missing !== null)('visualizer page (real server and coordinator)', () => {
  let browser: BrowserHandle | undefined;
  let world: RealUiWorld | undefined;
  let offline: Promise<{ readonly pageUrl: string }> | undefined;
  beforeAll(async () => {
    [browser, world] = await Promise.all([launchBrowser(), startRealUiWorld()]);
    // Started now, used last: it boots while the other tests run.
    offline = world.startOffline();
    offline.catch(() => undefined);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await world?.close();
  }, 60_000);

  const run = (name: string, scenario: Scenario, check: (t: TestPage) => void = noErrors, timeoutMs = 60_000) =>
    it(
      name,
      async () => {
        let last: TestPage | undefined;
        const open: S.OpenPage = async (url) => {
          last = await browser!.openPage(url);
          onTestFinished(() => last?.page.close());
          return last;
        };
        let t: TestPage;
        try {
          t = await scenario(world!, open);
        } catch (e) {
          // Taken here, while the page is still open (test-finished hooks close it).
          if (last) await screenshot(last.page, `real-${name}-failed`).catch(() => undefined);
          console.error(world!.stderr());
          throw e;
        }
        await screenshot(t.page, `real-${name}`);
        check(t);
      },
      timeoutMs,
    );

  run('loads-with-token', S.loadsWithToken);
  run('refused-without-token', S.refusedWithoutToken, onlyUnauthorized);
  run('refused-with-wrong-token', S.refusedWithWrongToken, onlyUnauthorized);
  run('build-machine-chart', S.drawsBuildMachine);
  run('zoom-pan-fit', S.zoomsPansFits);
  // Before the blocked sagas are driven: the status filter finds them.
  run('list-keyboard-and-filters', S.listKeyboard);
  // While the registry is down: the build waits for it, and the boot graph says so.
  run('selected-saga-highlight', S.highlightsSelectedSaga);
  run('nested-sagas', S.opensChildSagas);
  run('boot-graph', S.drawsBootGraph);
  run('starts-and-watches', S.startsAndWatches);
  // The registry comes back; the coordinator is SIGKILLed and started again.
  run('live-updates', S.followsLive, coordinatorAway, 90_000);
  run('scrubber', S.scrubs);
  run('fork', S.forks);
  run('fork-refused', S.forkRefused, onlyConflicts);
  run('blocked-retry', S.blockedPlanActs);
  run('blocked-skip-abandon', S.blockedSkipsAndAbandons);
  run('bundle', S.opensBundle);
  run('offline-mode-bundle', async (w, open) => {
    // `jetsaga ui --offline`: no NATS, no coordinator; the bundle `jetsaga sagas export` wrote.
    const { pageUrl } = await offline!;
    return S.opensBundleOffline({ ...w, pageUrl, pageUrlWithoutToken: pageUrl.replace(/\?token=.*$/, '') }, open);
  });
});

/** The page ran without console errors (a CSP violation or a failed request shows up there). */
function noErrors(t: TestPage): void {
  if (t.errors.length > 0) throw new Error(`the page logged errors:\n${t.errors.join('\n')}`);
}

function onlyUnauthorized(t: TestPage): void {
  const other = t.errors.filter((e) => !/401/.test(e));
  if (other.length > 0) throw new Error(`the page logged errors:\n${other.join('\n')}`);
}

/** The refused fork's 409 is logged by Chromium as a failed request; nothing else may be. */
function onlyConflicts(t: TestPage): void {
  const other = t.errors.filter((e) => !/status of 409/.test(e));
  if (other.length > 0) throw new Error(`the page logged errors:\n${other.join('\n')}`);
}

/** With no coordinator for a while, requests the page makes meanwhile answer 503/504; nothing else may fail. */
function coordinatorAway(t: TestPage): void {
  const other = t.errors.filter((e) => !/status of 50[34]|ERR_(INCOMPLETE_CHUNKED_ENCODING|EMPTY_RESPONSE|CONNECTION)/.test(e));
  if (other.length > 0) throw new Error(`the page logged errors:\n${other.join('\n')}`);
}

/**
 * The visualizer page's scenarios, written against a UiWorld (test/helpers/ui-world.ts) and a
 * browser page only, so the same steps run against the fake server and the real one. Each
 * asserts what a user sees: elements, classes, texts — never timings.
 */
import { expect } from 'vitest';
import type { Page } from 'playwright-core';
import { until } from '../helpers/until.js';
import type { TestPage } from '../helpers/ui-browser.js';
import type { UiWorld } from '../helpers/ui-world.js';

export type OpenPage = (url: string) => Promise<TestPage>;

const WAIT_MS = 20_000;

/** Chart ids of the states marked active (or visited) on the page's chart. */
export async function marked(page: Page, cls: 'jsg-active' | 'jsg-visited' = 'jsg-active'): Promise<string[]> {
  return page.locator(`#chart-stage [data-state].${cls}`).evaluateAll((els) => els.map((e) => e.getAttribute('data-state') ?? ''));
}

async function viewTransform(page: Page): Promise<string> {
  return (await page.locator('#chart-stage g.jsg-viewport').getAttribute('transform')) ?? '';
}

const scaleOf = (transform: string): number => Number(/scale\(([\d.]+)\)/.exec(transform)?.[1] ?? NaN);

async function selectSaga(page: Page, id: string): Promise<void> {
  await page.locator(`button.saga-row[data-saga-id="${id}"]`).click();
  await page.locator(`#detail-id[data-saga-id="${id}"]`).waitFor();
  // The chart is drawn and the saga's states are marked.
  await until(async () => (await marked(page)).length > 1, WAIT_MS, `active states of ${id} on the chart`);
}

/** Waits until the point panel shows entry `no` (exactly: entry 1 is not entry 12). */
async function atEntry(page: Page, no: number): Promise<void> {
  await page.locator('#at h3').filter({ hasText: new RegExp(`^At entry ${no}\\b`) }).waitFor();
}

async function timelineLength(page: Page): Promise<number> {
  return page.locator('#entries li').count();
}

export async function loadsWithToken(world: UiWorld, open: OpenPage): Promise<TestPage> {
  const t = await open(world.pageUrl);
  const { page } = t;
  await page.locator(`button.saga-row[data-saga-id="${world.runningSaga}"]`).waitFor();
  await expect.poll(() => page.locator('#mode').textContent(), { timeout: WAIT_MS }).toContain('live');
  // The token is kept in memory only, not in the address bar.
  expect(page.url()).not.toContain('token=');
  expect(await page.locator('#auth').isHidden()).toBe(true);
  return t;
}

export async function refusedWithoutToken(world: UiWorld, open: OpenPage): Promise<TestPage> {
  const t = await open(world.pageUrlWithoutToken);
  await t.page.locator('#auth').waitFor();
  expect(await t.page.locator('#auth').textContent()).toMatch(/token/i);
  expect(await t.page.locator('button.saga-row').count()).toBe(0);
  return t;
}

export async function refusedWithWrongToken(world: UiWorld, open: OpenPage): Promise<TestPage> {
  const t = await open(`${world.pageUrlWithoutToken}?token=not-the-token`);
  await t.page.locator('#auth').waitFor();
  expect(await t.page.locator('#auth').textContent()).toMatch(/not valid/i);
  expect(await t.page.locator('button.saga-row').count()).toBe(0);
  return t;
}

/** The build machine drawn as a statechart: steps, the parallel `prepare` with its regions, compensation. */
export async function drawsBuildMachine(world: UiWorld, open: OpenPage): Promise<TestPage> {
  const t = await open(world.pageUrl);
  const { page } = t;
  await page.locator('#chart-stage svg [data-state="build.lock"]').waitFor();
  for (const id of ['build', 'build.allocate', 'build.receive', 'build.lock', 'build.prepare', 'build.compensating', 'build.blocked', 'build.completed']) {
    expect(await page.locator(`#chart-stage [data-state="${id}"]`).count(), id).toBe(1);
  }
  expect(await page.locator('#chart-stage [data-state="build.prepare"]').getAttribute('data-type')).toBe('parallel');
  for (const region of ['build.prepare.image', 'build.prepare.config']) {
    expect(await page.locator(`#chart-stage [data-state="${region}"]`).getAttribute('class')).toContain('jsg-region');
  }
  expect(await page.locator('#chart-stage [data-edge]').count()).toBeGreaterThan(20);
  // Inserted as inert SVG: no script made it in.
  expect(await page.locator('#chart-stage script').count()).toBe(0);
  return t;
}

/** Selecting a waiting build marks its configuration: both regions of `prepare`, and where it has been. */
export async function highlightsSelectedSaga(world: UiWorld, open: OpenPage): Promise<TestPage> {
  const t = await open(world.pageUrl);
  const { page } = t;
  await selectSaga(page, world.runningSaga);
  const active = await marked(page);
  expect(active).toContain('build.prepare');
  expect(active).toContain('build.prepare.image');
  expect(active).toContain('build.prepare.config');
  expect(active.some((id) => id.endsWith('.await_registry'))).toBe(true);
  const visited = await marked(page, 'jsg-visited');
  expect(visited).toEqual(expect.arrayContaining(['build.allocate', 'build.lock']));
  expect(active).not.toContain('build.lock');
  expect(await page.locator('button.saga-row[aria-current="true"]').getAttribute('data-saga-id')).toBe(world.runningSaga);
  // What it waits on, since when; the step in flight with its idempotency key.
  expect(await page.locator('#waiting').textContent()).toMatch(/waiting for registry since \d\d:\d\d/);
  expect(await page.locator('#pending code').first().textContent()).toContain(`${world.runningSaga}:`);
  expect(await page.locator('#plan .undo').count()).toBeGreaterThan(0);
  return t;
}

/**
 * New journal entries arrive over the event stream: highlight and timeline move without a
 * reload; a broken stream reconnects; the coordinator goes away and comes back (a real one is
 * SIGKILLed and started again) and the page keeps following the saga.
 */
export async function followsLive(world: UiWorld, open: OpenPage): Promise<TestPage> {
  const t = await open(world.pageUrl);
  const { page } = t;
  await selectSaga(page, world.runningSaga);
  await until(async () => (await timelineLength(page)) > 0, WAIT_MS, 'timeline');
  const moves = async (what: string, move: () => Promise<void>): Promise<void> => {
    const before = { active: await marked(page), entries: await timelineLength(page) };
    await move();
    // One input or several (a real step let go may run on): more entries, and the highlight moved.
    await until(async () => (await timelineLength(page)) > before.entries, WAIT_MS, `a new timeline entry ${what}`);
    await until(async () => (await marked(page)).join() !== before.active.join(), WAIT_MS, `the highlight to move ${what}`);
  };

  await moves('', () => world.advance());
  // The stream breaks (a restarting server): the page reconnects and keeps following.
  if (world.dropStreams) {
    await world.dropStreams();
    await moves('after the reconnect', () => world.advance());
  }

  // The coordinator goes away and comes back: said in the header, and the page goes on.
  await world.coordinatorDown();
  await expect.poll(() => page.locator('#coordinator').textContent(), { timeout: WAIT_MS }).toBe('coordinator unreachable');
  await world.coordinatorUp();
  await expect.poll(() => page.locator('#coordinator').textContent(), { timeout: WAIT_MS }).toBe('coordinator reachable');
  await moves('after the coordinator came back', () => world.advance());
  return t;
}

/** The scrubber re-folds the journal: earlier entry, other states, other context; back to the latest. */
export async function scrubs(world: UiWorld, open: OpenPage): Promise<TestPage> {
  const t = await open(world.pageUrl);
  const { page } = t;
  await selectSaga(page, world.runningSaga);
  await until(async () => (await timelineLength(page)) > 2, WAIT_MS, 'timeline');
  const total = await timelineLength(page);
  await atEntry(page, total);
  const latest = { active: await marked(page), context: await page.locator('#at-context').textContent(), state: await page.locator('#at-state').textContent() };

  // Keyboard: the scrubber is a range input.
  await page.locator('#scrubber').focus();
  await page.keyboard.press('Home');
  await atEntry(page, 1);
  await until(async () => (await marked(page)).join() !== latest.active.join(), WAIT_MS, 'the highlight of entry 1');
  expect(await page.locator('#at-state').textContent()).not.toBe(latest.state);
  expect(await page.locator('#at-context').textContent()).not.toBe(latest.context);
  expect(await page.locator('#at-diff').textContent()).toContain('input');
  expect(await page.locator('#entries li.current').getAttribute('data-no')).toBe('1');

  await page.keyboard.press('ArrowRight');
  await atEntry(page, 2);
  const atTwo = await marked(page);
  expect(atTwo.join()).not.toBe(latest.active.join());

  // A click on an entry pins it too; "Latest" follows the journal again.
  await page.locator('#entries li[data-no="1"] button').click();
  await atEntry(page, 1);
  await page.locator('#scrub-live').click();
  await atEntry(page, total);
  await until(async () => (await marked(page)).join() === latest.active.join(), WAIT_MS, 'the latest highlight again');
  return t;
}

/** Pins entry `no` of the selected saga (scrubber: Home, then right arrows). */
async function scrubTo(page: Page, no: number): Promise<void> {
  await page.locator('#scrubber').focus();
  await page.keyboard.press('Home');
  for (let i = 1; i < no; i++) await page.keyboard.press('ArrowRight');
  await atEntry(page, no);
}

/** "Fork from here": a dry-run preview first, then the real fork (confirmed), which links back to its source. */
export async function forks(world: UiWorld, open: OpenPage): Promise<TestPage> {
  const t = await open(world.pageUrl);
  const { page } = t;
  const { saga, from } = world.forkable;
  await selectSaga(page, saga);
  await until(async () => (await timelineLength(page)) > from, WAIT_MS, 'timeline');
  const total = await timelineLength(page);
  await scrubTo(page, from);

  await page.locator('#fork-dry').click();
  await page.locator('#fork-preview:has-text("preview")').waitFor();
  expect(await page.locator('#fork-preview').textContent()).toContain(`entries copied: ${from}`);
  await page.locator('#fork-confirm').click();
  await page.locator('#fork-done').waitFor();
  const forkId = (await page.locator('#fork-done button').textContent()) ?? '';
  expect(forkId).not.toBe('');
  await page.locator(`button.saga-row[data-saga-id="${forkId}"]`).waitFor();
  // The fork links back to where it came from.
  await page.locator('#fork-done button').click();
  await page.locator(`#detail-id[data-saga-id="${forkId}"]`).waitFor();
  expect(await page.locator('#forked-from').textContent()).toBe(saga);
  await page.locator('#forked-from').click();
  await page.locator(`#detail-id[data-saga-id="${saga}"]`).waitFor();
  await until(async () => (await timelineLength(page)) === total, WAIT_MS, 'the source timeline again');
  return t;
}

/** A fork the server refuses (a build's owned steps): the page says why, with the code, and goes on working. */
export async function forkRefused(world: UiWorld, open: OpenPage): Promise<TestPage> {
  const refused = world.forkRefused;
  if (!refused) throw new Error('this world has no saga whose fork is refused');
  const t = await open(world.pageUrl);
  const { page } = t;
  await selectSaga(page, refused.saga);
  await until(async () => (await timelineLength(page)) > refused.from, WAIT_MS, 'timeline');
  await scrubTo(page, refused.from);
  await page.locator('#fork-dry').click();
  const alert = page.locator('#fork-preview [role="alert"]');
  await alert.waitFor();
  expect(await alert.textContent()).toContain(refused.code);
  expect(await page.locator('#fork-confirm').count()).toBe(0);
  // The refusal broke nothing: scrubbing still re-folds, and a fork can be asked for again.
  await page.locator('#scrubber').focus();
  await page.keyboard.press('ArrowLeft');
  await atEntry(page, refused.from - 1);
  await page.keyboard.press('ArrowRight');
  await atEntry(page, refused.from);
  await page.locator('#fork-dry').click();
  await alert.waitFor();
  await alert.scrollIntoViewIfNeeded();
  return t;
}

/** A blocked saga: the failed undo with its error, Retry / Skip / Abandon; Retry (confirmed) is sent, and gets it unblocked. */
export async function blockedPlanActs(world: UiWorld, open: OpenPage): Promise<TestPage> {
  const t = await open(world.pageUrl);
  const { page } = t;
  await selectSaga(page, world.blockedSaga);
  await expectBlocked(page);

  // Someone fixed what the undo needed; Retry runs it again.
  await world.mendBlocked?.(world.blockedSaga);
  await page.locator('#plan button[data-action="retry"]').click();
  await expect.poll(() => page.locator('#notice-text').textContent(), { timeout: WAIT_MS }).toMatch(/retry accepted/);
  await expect.poll(() => page.locator('#detail-status').textContent(), { timeout: WAIT_MS }).not.toBe('blocked');
  expect(await page.locator('#plan button[data-action="retry"]').count()).toBe(0);
  return t;
}

async function expectBlocked(page: Page): Promise<void> {
  expect(await page.locator('#detail-status').textContent()).toBe('blocked');
  for (const action of ['retry', 'skip', 'abandon']) expect(await page.locator(`#plan button[data-action="${action}"]`).isEnabled()).toBe(true);
  const failed = page.locator('#plan .undo[data-status="failed"]');
  expect(await failed.count()).toBe(1);
  expect(await failed.locator('.undo-error').textContent()).toMatch(/\w+: .+/);
  expect((await marked(page)).some((id) => id.endsWith('.blocked'))).toBe(true);
}

/**
 * Skip and Abandon on blocked sagas whose undo still fails: Skip gives that undo up and the
 * rest is undone (compensated); Abandon stops compensating (cancelled). The timeline shows the
 * operator's event.
 */
export async function blockedSkipsAndAbandons(world: UiWorld, open: OpenPage): Promise<TestPage> {
  if (!world.blockedForSkip || !world.blockedForAbandon) throw new Error('this world has no sagas blocked for Skip and Abandon');
  const t = await open(world.pageUrl);
  const { page } = t;
  for (const [saga, action, ends] of [
    [world.blockedForSkip, 'skip', 'compensated'],
    [world.blockedForAbandon, 'abandon', 'cancelled'],
  ] as const) {
    await selectSaga(page, saga);
    await expectBlocked(page);
    await page.locator(`#plan button[data-action="${action}"]`).click();
    await expect.poll(() => page.locator('#notice-text').textContent(), { timeout: WAIT_MS }).toMatch(new RegExp(`${action} accepted`));
    await expect.poll(() => page.locator('#detail-status').textContent(), { timeout: WAIT_MS }).toBe(ends);
    await page.locator('#entries .entry-type', { hasText: `saga.${action}` }).first().waitFor();
    expect(await page.locator('#plan button[data-action]').count()).toBe(0);
    await expect.poll(() => page.locator(`button.saga-row[data-saga-id="${saga}"]`).getAttribute('data-status'), { timeout: WAIT_MS }).toBe(ends);
  }
  return t;
}

/**
 * A saga started while the page is open appears in the list by itself; selected, its
 * highlight moves from step to step as it progresses, to the end.
 */
export async function startsAndWatches(world: UiWorld, open: OpenPage): Promise<TestPage> {
  if (!world.startSaga) throw new Error('this world cannot start sagas');
  const t = await open(world.pageUrl);
  const { page } = t;
  await page.locator('button.saga-row').first().waitFor();
  const saga = await world.startSaga();
  await page.locator(`button.saga-row[data-saga-id="${saga.id}"]`).waitFor();
  await selectSaga(page, saga.id);
  await until(async () => (await timelineLength(page)) > 0, WAIT_MS, 'timeline');
  const seen = [(await marked(page)).join()];
  for (let i = 0; i < saga.steps; i++) {
    const entries = await timelineLength(page);
    await saga.step();
    await until(async () => (await timelineLength(page)) > entries, WAIT_MS, `entry of step ${i + 1}`);
    await until(async () => (await marked(page)).join() !== seen.at(-1), WAIT_MS, `the highlight after step ${i + 1}`);
    seen.push((await marked(page)).join());
  }
  await expect.poll(() => page.locator('#detail-status').textContent(), { timeout: WAIT_MS }).toBe('completed');
  expect(new Set(seen).size).toBe(saga.steps + 1);
  return t;
}

/** The Boot tab: each coordinator's dependency graph, and the sagas waiting on a dependency. */
export async function drawsBootGraph(world: UiWorld, open: OpenPage): Promise<TestPage> {
  const t = await open(world.pageUrl);
  const { page } = t;
  await page.locator('#tab-boot').click();
  await page.locator('.boot-coordinator').first().waitFor();
  for (const c of await page.locator('.boot-coordinator').all()) {
    const deps = await c.locator('svg .boot-dep').count();
    expect(deps).toBeGreaterThan(0);
    const edges = await c.locator('svg .boot-edge').count();
    if (deps > 1) expect(edges).toBeGreaterThan(0);
  }
  expect(await page.locator('.boot-dep[data-dependency="registry"]').count()).toBeGreaterThan(0);
  await page.locator(`#boot-waiting tr[data-saga-id="${world.runningSaga}"][data-dependency="registry"]`).waitFor();
  // A waiting saga opens in the Sagas tab.
  await page.locator(`#boot-waiting tr[data-saga-id="${world.runningSaga}"] button`).click();
  await page.locator(`#detail-id[data-saga-id="${world.runningSaga}"]`).waitFor();
  expect(await page.locator('#view-sagas').isVisible()).toBe(true);
  await page.locator('#tab-boot').click();
  return t;
}

/** An exported bundle opened from a file: the saga shown, offline, its timeline scrubbable, no actions. */
export async function opensBundle(world: UiWorld, open: OpenPage): Promise<TestPage> {
  const t = await open(world.pageUrl);
  await showBundle(t.page, world);
  return t;
}

/** With no coordinator at all (`jetsaga ui` without NATS): the page says so, and bundles still open. */
export async function opensBundleOffline(world: UiWorld, open: OpenPage): Promise<TestPage> {
  const t = await open(world.pageUrl);
  const { page } = t;
  await page.locator('#offline-note').waitFor();
  expect(await page.locator('#mode').textContent()).toContain('offline');
  expect(await page.locator('button.saga-row').count()).toBe(0);
  await showBundle(page, world);
  return t;
}

async function showBundle(page: Page, world: UiWorld): Promise<void> {
  await page.locator('#chart-stage svg').waitFor();
  await page.locator('#bundle-file').setInputFiles(world.bundleFile);
  await page.locator(`#detail-id[data-saga-id="${world.bundleSaga}"]`).waitFor();
  expect(await page.locator('#bundle-banner').isVisible()).toBe(true);
  await until(async () => (await marked(page)).length > 1, WAIT_MS, 'the bundle saga on the chart');
  await until(async () => (await timelineLength(page)) > 1, WAIT_MS, 'the bundle timeline');
  const last = await marked(page);
  await page.locator('#scrubber').focus();
  await page.keyboard.press('Home');
  await atEntry(page, 1);
  await until(async () => (await marked(page)).join() !== last.join(), WAIT_MS, 'the bundle at entry 1');
  // Read-only: nothing to send to a coordinator.
  expect(await page.locator('#details button[data-action]').count()).toBe(0);
  expect(await page.locator('#fork-dry').count()).toBe(0);
}

/** Zoom (wheel, keyboard), pan (drag) and fit all move the chart's view transform. */
export async function zoomsPansFits(world: UiWorld, open: OpenPage): Promise<TestPage> {
  const t = await open(world.pageUrl);
  const { page } = t;
  await page.locator('#chart-stage g.jsg-viewport').waitFor();
  await page.locator('#fit').click();
  const fitted = await viewTransform(page);
  const box = (await page.locator('#chart-stage').boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, -400);
  await until(async () => scaleOf(await viewTransform(page)) > scaleOf(fitted), WAIT_MS, 'zoomed in');
  const zoomed = await viewTransform(page);

  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 120, box.y + box.height / 2 + 60, { steps: 4 });
  await page.mouse.up();
  const panned = await viewTransform(page);
  expect(panned).not.toBe(zoomed);
  expect(scaleOf(panned)).toBe(scaleOf(zoomed));

  await page.locator('#fit').click();
  expect(await viewTransform(page)).toBe(fitted);

  await page.locator('#chart-stage').focus();
  await page.keyboard.press('+');
  expect(scaleOf(await viewTransform(page))).toBeGreaterThan(scaleOf(fitted));
  await page.keyboard.press('0');
  expect(await viewTransform(page)).toBe(fitted);
  return t;
}

/** The list is keyboard-operable: arrows move between sagas, Enter selects. */
export async function listKeyboard(world: UiWorld, open: OpenPage): Promise<TestPage> {
  const t = await open(world.pageUrl);
  const { page } = t;
  const rows = page.locator('button.saga-row');
  await rows.first().waitFor();
  await until(async () => (await rows.count()) >= 2, WAIT_MS, 'two sagas in the list');
  await rows.first().focus();
  await page.keyboard.press('ArrowDown');
  const second = await rows.nth(1).getAttribute('data-saga-id');
  expect(await page.evaluate('document.activeElement && document.activeElement.dataset.sagaId')).toBe(second);
  await page.keyboard.press('Enter');
  await page.locator(`#detail-id[data-saga-id="${second}"]`).waitFor();
  expect(await rows.nth(1).getAttribute('aria-current')).toBe('true');

  // Filters narrow the list.
  await page.locator('#filter-status').selectOption('blocked');
  await until(async () => (await rows.count()) >= 1 && (await rows.evaluateAll((els) => els.every((e) => e.getAttribute('data-status') === 'blocked'))), WAIT_MS, 'only blocked sagas');
  return t;
}

/**
 * Nested sagas: the parent's detail lists its child (a link with its step and status) and its
 * chart marks the state that runs it; a click on that state opens the child, whose detail links
 * back to its parent; the list shows the child under its parent, saying whose child it is.
 */
export async function opensChildSagas(world: UiWorld, open: OpenPage): Promise<TestPage> {
  const nested = world.nested;
  if (!nested) throw new Error('this world has no nested sagas');
  const t = await open(world.pageUrl);
  const { page } = t;

  // The list: the child right under its parent, indented, naming it.
  const rows = page.locator('button.saga-row');
  const childRow = page.locator(`button.saga-row[data-saga-id="${nested.child}"]`);
  await childRow.waitFor();
  expect(await childRow.getAttribute('data-parent-id')).toBe(nested.parent);
  expect(await childRow.locator('.saga-parent').textContent()).toBe(`↳ child of ${nested.parent}`);
  expect(await page.locator(`li.nested:has(> button.saga-row[data-saga-id="${nested.child}"])`).count()).toBe(1);
  const order = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-saga-id')));
  expect(order.indexOf(nested.child)).toBe(order.indexOf(nested.parent) + 1);

  // The parent: its child listed, and the state that runs it marked on the chart as openable.
  await selectSaga(page, nested.parent);
  const link = page.locator(`#children li[data-child-step="${nested.step}"] button.child-link`);
  await link.waitFor();
  expect(await link.textContent()).toBe(nested.child);
  expect(await page.locator(`#children li[data-child-step="${nested.step}"] .badge`).textContent()).toMatch(/^(running|completed|compensating|compensated|blocked|cancelled)$/);
  const state = page.locator(`#chart-stage [data-state="${nested.state}"]`);
  await until(async () => ((await state.getAttribute('class')) ?? '').includes('jsg-child-open'), WAIT_MS, 'the child step marked openable');
  expect(await state.getAttribute('class')).toContain('jsg-child');
  expect(await state.getAttribute('data-child-step')).toBe(nested.step);
  const childMachine = (await state.getAttribute('data-child-machine'))!;
  expect(await state.locator('.jsg-child-badge').count()).toBe(1);
  expect(await state.locator('title').first().textContent()).toMatch(/runs a child saga of /);

  // A click on that state (with the whole chart in view) opens the child.
  await page.locator('#fit').click();
  const box = (await state.locator('rect').first().boundingBox())!;
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await page.locator(`#detail-id[data-saga-id="${nested.child}"]`).waitFor();
  expect(await childRow.getAttribute('aria-current')).toBe('true');
  await page.locator(`#chart-stage svg[data-machine="${childMachine}"]`).waitFor();
  await until(async () => (await marked(page)).length > 1, WAIT_MS, 'the child on its own chart');

  // The child's detail links its parent; following it and the child link goes back and forth.
  const parentLink = page.locator('#parent-saga');
  expect(await parentLink.textContent()).toBe(nested.parent);
  await parentLink.click();
  await page.locator(`#detail-id[data-saga-id="${nested.parent}"]`).waitFor();
  await link.click();
  await page.locator(`#detail-id[data-saga-id="${nested.child}"]`).waitFor();
  return t;
}

/**
 * Headless Chromium for the visualizer's browser tests: Debian's /usr/bin/chromium driven by
 * playwright-core (never a downloaded browser). `openPage` is all a scenario needs, whichever
 * server answers; `screenshot` saves into test-artifacts/ui/. Pages collect the console errors
 * and failed requests they saw, so a test can assert the page ran cleanly (CSP included).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.JETSAGA_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-artifacts', 'ui');

/** Why browser tests cannot run here, or null when they can. */
export function browserMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set JETSAGA_CHROMIUM): browser tests skipped`;
}

export interface TestPage {
  readonly page: Page;
  /** Console errors and page errors, in order. */
  readonly errors: string[];
}

export interface BrowserHandle {
  openPage(url: string): Promise<TestPage>;
  close(): Promise<void>;
}

export async function launchBrowser(options: { viewport?: { width: number; height: number } } = {}): Promise<BrowserHandle> {
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  return {
    async openPage(url: string): Promise<TestPage> {
      const page = await browser.newPage({ viewport: options.viewport ?? { width: 1440, height: 900 } });
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('dialog', (d) => void d.accept());
      await page.goto(url);
      return { page, errors };
    },
    close: () => browser.close(),
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  return path;
}

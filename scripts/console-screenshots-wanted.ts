// Screenshots of the wanted-clue screens for docs/console/: the residents' tip form on a phone
// (390×844), the 线索 inbox and the 协查案件 screen (1440×900), and the location picker
// (测算协查范围). They need the running service with a sent wanted notice, so they are taken
// by the browser test that builds one (test/console/wanted.test.ts):
//   CONSOLE_SCREENSHOTS=docs/console npx vitest run test/console/wanted.test.ts
// The main screenshot script can call `wantedScreenshots` with its own world.
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';

export interface WantedShots {
  browser: Browser;
  baseUrl: string;
  outDir: string;
  /** Signs a page in (the world's login helper). */
  signIn(page: Page, who: { username: string; password: string }): Promise<void>;
  /** An author in the notice's scope (sees /tips and /cases). */
  editor: { username: string; password: string };
  noticeId: string;
  /** A point and radius that take in some villages of the scope (for the picker). */
  near: { lat: number; lng: number; radiusKm: number };
}

async function settle(page: Page): Promise<void> {
  // Fonts in, and every finite transition (a dialog fading in, a tag zooming) finished.
  await page.evaluate(async () => {
    await document.fonts.ready;
    const finite = document.getAnimations().filter((a) => a.effect?.getTiming().iterations !== Number.POSITIVE_INFINITY);
    await Promise.all(finite.map((a) => a.finished.catch(() => undefined)));
  });
}

/**
 * The residents' pages use the phone's own fonts (every phone has a Chinese one; they load no
 * font file). This machine's headless chromium has none, so the screenshot lends the page the
 * console's self-hosted face, as a phone's system font would be.
 */
export async function phoneFont(page: Page): Promise<void> {
  const font = readdirSync(resolve('console/dist/assets')).find((name) => /^wqy-microhei-.*\.ttf$/.test(name));
  if (!font) return;
  await page.addStyleTag({
    content: `@font-face{font-family:'Phone Hei';src:url('/assets/${font}')}html,body,input,textarea,button{font-family:'Phone Hei',sans-serif!important}`,
  });
}

function context(shots: WantedShots, width: number, height: number, mobile = false) {
  return shots.browser.newContext({
    bypassCSP: mobile,
    baseURL: shots.baseUrl,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    viewport: { width, height },
    isMobile: mobile,
    hasTouch: mobile,
  });
}

export async function wantedScreenshots(shots: WantedShots): Promise<string[]> {
  const written: string[] = [];
  const phone = await context(shots, 390, 844, true);
  const form = await phone.newPage();
  await form.goto(`/n/${shots.noticeId}`);
  await phoneFont(form);
  await form.getByLabel('线索内容').fill('昨晚九点左右在石牌村口看到一名穿黑色连帽衫的男子骑电动车往东走');
  await settle(form);
  await form.screenshot({ path: join(shots.outDir, 'tip-form.png'), fullPage: true });
  written.push('tip-form.png');
  await phone.close();

  const desk = await context(shots, 1440, 900);
  const page = await desk.newPage();
  await shots.signIn(page, shots.editor);
  await page.goto('/tips');
  await page.getByRole('table').first().waitFor();
  await page.locator('.el-table__row').first().waitFor();
  await settle(page);
  await page.screenshot({ path: join(shots.outDir, 'tips.png') });
  written.push('tips.png');

  await page.goto('/cases');
  await page.locator('.el-table__row').first().waitFor();
  await settle(page);
  await page.screenshot({ path: join(shots.outDir, 'cases.png') });
  written.push('cases.png');
  await page.getByRole('button', { name: '已抓获 / 已破案' }).first().click();
  await page.getByRole('dialog', { name: '已抓获 / 已破案' }).getByText('确认后将：').waitFor();
  await settle(page);
  await page.screenshot({ path: join(shots.outDir, 'cases-solve.png') });
  written.push('cases-solve.png');
  await page.getByRole('button', { name: '取消' }).click();

  await page.goto('/cases/location');
  await page.getByRole('radio', { name: '输入经纬度' }).click({ force: true });
  await page.getByLabel('纬度', { exact: true }).fill(String(shots.near.lat));
  await page.getByLabel('经度', { exact: true }).fill(String(shots.near.lng));
  await page.getByLabel('协查半径（公里）').fill(String(shots.near.radiusKm));
  await page.getByLabel('协查半径（公里）').blur();
  await page.getByText(/公里内：/).waitFor();
  await settle(page);
  await page.screenshot({ path: join(shots.outDir, 'location-picker.png') });
  written.push('location-picker.png');
  await desk.close();
  return written;
}

// `npm run demo`'s month (issue 21, Build 10): the first look at 触达统计 and 月度统计表 shows
// the month. Both read the roll-ups, which a service folds every few seconds; a demo opened (or
// shot) before that fold showed 0 everywhere. The month's seed now leaves them current.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoPassword, seedDemoMonth } from '../../scripts/demo-month.js';
import { TREE } from '../helpers/regions.js';
import { type ConsoleWorld, signIn, startConsoleWorld } from './world.js';

describe('the demo month on its first look', { timeout: 240_000 }, () => {
  let w: ConsoleWorld;
  beforeAll(async () => {
    w = await startConsoleWorld();
    // As `npm run demo` does: the month through the API, the engine running, no refresher.
    await seedDemoMonth(w.t.app, {
      countyCode: TREE.countyA.code,
      adminToken: w.t.adminToken,
      rollups: w.t.ctx.tracking.rollups,
    });
  }, 240_000);
  afterAll(() => w?.close());

  it("when the leader opens 触达统计 and 月度统计表 right after the demo, then they show the month's messages, equal to the API", async () => {
    const viewer = await w.t.login('demo-viewer', demoPassword('demo-viewer'));
    const page = await (await w.context()).newPage();
    await signIn(page, { username: 'demo-viewer', password: demoPassword('demo-viewer') });
    const answered = page.waitForResponse((r) => /\/api\/reach\?/.test(r.url()) && r.ok());
    await page.goto('/reach');
    const query = new URL((await answered).url()).searchParams;
    const api = (await w.t.request('GET', `/api/reach?${query}`, viewer)).json() as {
      totals: { messages: number; personTimes: number };
    };
    expect(api.totals.messages).toBeGreaterThan(0);
    const shown = page.getByTestId('figure-messages');
    await expect.poll(() => shown.textContent()).toBe(api.totals.messages.toLocaleString('zh-CN'));

    await page.goto('/reach/monthly');
    const total = page.getByTestId('monthly-table').locator('tfoot tr.total td').first();
    await total.waitFor();
    await expect.poll(async () => Number((await total.textContent())?.replace(/,/g, ''))).toBeGreaterThan(0);
    await page.context().close();
  });
});

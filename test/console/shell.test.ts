import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleWorld, fontsReady, seriousViolations, signIn, startConsoleWorld } from './world.js';

describe('console shell', () => {
  let w: ConsoleWorld;
  beforeAll(async () => {
    w = await startConsoleWorld();
  }, 180_000);
  afterAll(() => w?.close());

  it('when a newcomer opens the service, then the first screen is the login page, without accessibility faults', async () => {
    const context = await w.context();
    const page = await context.newPage();
    await page.goto('/');
    await page.getByRole('button', { name: '登录' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(await seriousViolations(page)).toEqual([]);
    await fontsReady(page);
    await page.screenshot({ path: '/tmp/jx-login.png' });
    await context.close();
  });

  it('when the token expires or is revoked, then the next screen is the login page with a message', async () => {
    const context = await w.context();
    const page = await context.newPage();
    await signIn(page, w.people.viewer);
    await page.screenshot({ path: '/tmp/jx-shell.png' });
    // Revoke every session of the viewer behind the browser's back (as a password reset does).
    const logout = await w.t.request('PATCH', `/api/users/${w.people.viewer.id}`, w.t.adminToken, { active: true, password: w.people.viewer.password });
    expect(logout.statusCode).toBe(200);
    await page.getByRole('menuitem', { name: '推送' }).click();
    await page.getByText('登录已过期或已在别处退出，请重新登录').waitFor();
    expect(new URL(page.url()).pathname).toBe('/login');
    await context.close();
  });
});

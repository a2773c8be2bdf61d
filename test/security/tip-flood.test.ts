// Issue 26, finding 4: forty addresses used to shut a wanted notice's tip form for everyone
// (the per-notice cap refused every sender) and to post one robot message per tip to the case
// officer. Past the cap a new sender now answers an arithmetic question in the plain-HTML
// form instead of being refused, and the officer gets at most one alert per 5-minute slot,
// with a count.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WantedWorld, startWantedWorld } from '../residents/world.js';
import { pageText } from '../helpers/html.js';

const DIGITS: Record<string, number> = { 零: 0, 一: 1, 二: 2, 三: 3, 四: 4, 五: 5, 六: 6, 七: 7, 八: 8, 九: 9 };

/** 0–99 from Chinese numerals (十七, 三十, 四十六, 七). */
function fromChinese(text: string): number {
  if (!text.includes('十')) return DIGITS[text]!;
  const [tens, ones] = text.split('十');
  return (tens ? DIGITS[tens]! : 1) * 10 + (ones ? DIGITS[ones]! : 0);
}

/** The question on a page, solved as a resident would. */
function solve(page: string): { answer: string; token: string } {
  const question = /请先回答：([零一二三四五六七八九十]+)([加减])([零一二三四五六七八九十]+)等于多少？/.exec(page);
  const token = /name="challenge" value="([^"]+)"/.exec(page)?.[1];
  if (!question || !token) throw new Error(`no question on the page: ${page.slice(0, 300)}`);
  const a = fromChinese(question[1]!);
  const b = fromChinese(question[3]!);
  return { answer: String(question[2] === '加' ? a + b : a - b), token };
}

describe('a flood of tips on one notice', () => {
  let w: WantedWorld;

  const post = (address: string, fields: Record<string, string>) =>
    w.t.app.inject({
      method: 'POST',
      url: `/n/${w.noticeId}/tips`,
      remoteAddress: address,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(fields).toString(),
    });
  const alerts = () => w.doubles.received({ platform: 'wecom', robot: w.officerRobotKey });

  beforeAll(async () => {
    w = await startWantedWorld();
    // Forty addresses, five tips each: the notice's 200 in ten minutes, all in one alert slot.
    for (let host = 1; host <= 40; host++) {
      for (let i = 0; i < 5; i++) {
        const answer = await post(`198.51.100.${host}`, { text: `垃圾线索 ${host}-${i}` });
        expect(answer.statusCode, answer.body).toBe(303);
      }
    }
  }, 180_000);

  afterAll(() => w.close());

  it('when the notice is at its cap, then a new sender is asked a question, not refused, and gets through by answering it', async () => {
    const resident = '203.0.113.77';
    const page = await w.t.app.inject({ method: 'GET', url: `/n/${w.noticeId}`, remoteAddress: resident });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('请先回答：');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.body).not.toContain('<script');

    // Posting blind (as a flooding script does) brings the form back with the question.
    const blind = await post(resident, { text: '我在五山路口看到过他' });
    expect(blind.statusCode).toBe(400);
    expect(blind.headers['content-type']).toContain('text/html');
    expect(pageText(blind.body)).toContain('请先回答下面的算术题');
    expect(blind.body).toContain('我在五山路口看到过他');

    const wrong = solve(blind.body);
    const wrongly = await post(resident, {
      text: '我在五山路口看到过他',
      challenge: wrong.token,
      answer: String(Number(wrong.answer) + 1),
    });
    expect(wrongly.statusCode).toBe(400);
    expect(pageText(wrongly.body)).toContain('答案不对');

    const right = solve(wrongly.body);
    const answered = await post(resident, { text: '我在五山路口看到过他', ...right, challenge: right.token });
    expect(answered.statusCode, answered.body).toBe(303);
    expect(answered.headers.location).toBe(`/n/${w.noticeId}?tip=received#tip`);

    // A solved question answers one tip only.
    const again = await post(resident, { text: '再补充一点', ...right, challenge: right.token });
    expect(again.statusCode).toBe(400);
  });

  it('when 200 tips arrive within minutes, then the case officer’s robot gets one alert with the count, and one more after the slot for the rest', async () => {
    expect(alerts()).toHaveLength(1);
    expect(JSON.stringify(alerts()[0]!.body)).toContain('1 条新线索');
    const queued = await w.t.request('GET', '/api/tips?limit=5', w.officer.token);
    expect(queued.json()[0].notified).toMatchObject({ status: 'queued' });

    w.clock.advance(5 * 60_000);
    expect(await w.t.ctx.tips.tellQueued()).toBe(1);
    expect(alerts()).toHaveLength(2);
    expect(JSON.stringify(alerts()[1]!.body)).toContain('201 条新线索');
    // Nothing is owed any more: the next minute's pass sends nothing.
    expect(await w.t.ctx.tips.tellQueued()).toBe(0);
    expect(alerts()).toHaveLength(2);
    const told = await w.t.request('GET', '/api/tips?limit=200', w.officer.token);
    expect(told.json().every((tip: { notified: { status: string } }) => tip.notified.status === 'sent')).toBe(true);
  });

  it('when one sender is over its own limit, then it still waits (429), question or not', async () => {
    const page = await w.t.app.inject({ method: 'GET', url: `/n/${w.noticeId}` });
    const { answer, token } = solve(page.body);
    const flooded = await post('198.51.100.1', { text: '第六条', answer, challenge: token });
    expect(flooded.statusCode).toBe(429);
  });
});

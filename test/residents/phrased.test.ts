// The residents' page keeps words, amounts and dates whole on a line as the cards do: a
// browser breaks Chinese between any two characters (奖励人民币5000 / 元 was seen at 390 px).
import { describe, expect, it } from 'vitest';
import { phrased } from '../../src/residents/page.js';

const whole = (html: string) => [...html.matchAll(/<span class="w">([^<]*)<\/span>/g)].map((m) => m[1]);

describe('phrased text on the residents’ page', () => {
  it('keeps an amount with its currency and unit, a date and dictionary words on one line', () => {
    expect(whole(phrased('提供有效线索者奖励人民币5000元'))).toEqual(
      expect.arrayContaining(['人民币5000元', '奖励', '线索']),
    );
    expect(whole(phrased('2025年5月20日晚，五山街道某商铺被盗'))).toContain('2025年5月20日');
    expect(whole(phrased('男，约30岁，身高约175厘米')).some((w) => w!.includes('175厘米'))).toBe(true);
  });

  it('joins a paragraph’s last three characters or more, so its last line is never a widow', () => {
    expect(whole(phrased('接到“警察”电话要求转账的，一律是诈骗案件。')).at(-1)).toBe('诈骗案件。');
    expect(whole(phrased('劝导电动车违规充电5起。')).at(-1)).toBe('充电5起。');
    expect(whole(phrased('越具体越好（最多 2000 字）')).at(-1)).toBe('2000 字）');
  });

  it('escapes what it wraps and loses no character', () => {
    const html = phrased('别点<陌生>链接 & “安全账户”');
    expect(html).not.toMatch(/<(?!\/?span)/);
    expect(html.replace(/<\/?span[^>]*>/g, '')).toBe('别点&lt;陌生&gt;链接 &amp; “安全账户”');
  });
});

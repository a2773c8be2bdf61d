import { describe, expect, it } from 'vitest';
import type { CardNotice } from '../../src/render/content.js';
import { CHANNEL_LIMITS, WECOM_NEWS_TITLE_MAX_BYTES } from '../../src/channels/limits.js';
import { CardTooLarge, type TextCardFormat, renderTextCard } from '../../src/render/index.js';
import { WANTED } from '../helpers/notices.js';

const LINK = 'https://jx.example.cn/l/Ab3dE9';
const notice = (overrides: Partial<CardNotice> = {}): CardNotice => ({
  category: 'anti_fraud',
  title: '警惕冒充公检法诈骗',
  body: '近期，我县发生多起**冒充公检法**诈骗案件。\n\n请记住：\n- 公检法机关不会通过电话办案\n- 没有所谓的“安全账户”',
  issuingUnit: '天河区公安分局',
  hotline: '96110',
  issuedOn: '2025-06-01',
  ...overrides,
});
const personal = {
  villageName: '华工社区',
  townshipName: '五山街道',
  officerName: '张警官',
  officerPhone: '13800138000',
};
const bytes = (text: string) => Buffer.byteLength(text, 'utf8');
const FORMATS: TextCardFormat[] = ['text', 'markdown', 'link'];
const PATTERN = Array.from('防骗提醒请勿轻信陌生来电😀𠮷');
const LONG_BODY = Array.from({ length: 20_000 }, (_, i) => PATTERN[i % PATTERN.length]).join('');

describe('text cards', () => {
  it('when a notice fits, then the card holds all of it and the 详情 link', () => {
    const card = renderTextCard({ notice: notice(), link: LINK }, 'text', { maxBytes: 2048 });
    expect(card.truncated).toBe(false);
    expect(card.content).toContain('【防诈骗】警惕冒充公检法诈骗');
    expect(card.content).toContain('• 公检法机关不会通过电话办案');
    expect(card.content).toContain('冒充公检法诈骗案件'); // bold marks removed in plain text
    expect(card.content).not.toContain('**');
    expect(card.content).toContain(`详情：${LINK}`);
    expect(card.bytes).toBe(bytes(card.content));
  });

  it('keeps bold and lists in markdown', () => {
    const card = renderTextCard({ notice: notice(), link: LINK }, 'markdown', { maxBytes: 4096 });
    expect(card.content).toContain('**冒充公检法**');
    expect(card.content).toContain('- 没有所谓的“安全账户”');
    expect(card.content).toContain(`[详情](${LINK})`);
    expect(card.title).toBe('【防诈骗】警惕冒充公检法诈骗');
  });

  for (const [channel, limits] of Object.entries(CHANNEL_LIMITS)) {
    for (const format of FORMATS) {
      it(`when a 20,000-character body goes to ${channel} as ${format}, then the card stays within ${limits[format]} bytes and links to the full notice`, () => {
        const card = renderTextCard({ notice: notice({ body: LONG_BODY }), link: LINK, personal }, format, {
          maxBytes: limits[format],
        });
        expect(card.truncated).toBe(true);
        expect(bytes(card.content)).toBeLessThanOrEqual(limits[format]);
        // Cut close to the limit, not far below it (a character is at most 4 bytes, plus the ellipsis).
        expect(bytes(card.content)).toBeGreaterThan(limits[format] - 40);
        if (format !== 'link') expect(card.content).toContain(LINK);
        expect(card.url).toBe(LINK);
        expect(card.content).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
      });
    }
  }

  it('never cuts inside a character or an emoji sequence, at any limit', () => {
    const body = '👨‍👩‍👧提醒🇨🇳𠮷家'.repeat(200);
    for (let maxBytes = 420; maxBytes < 700; maxBytes += 3) {
      const card = renderTextCard({ notice: notice({ body }), link: LINK }, 'text', { maxBytes });
      expect(bytes(card.content)).toBeLessThanOrEqual(maxBytes);
      const cut = card.content.split('……')[0]!;
      expect(cut.endsWith('\u200d')).toBe(false);
      expect(Buffer.from(card.content, 'utf8').toString('utf8')).toBe(card.content);
      // Every emoji family in the card is whole.
      const families = cut.match(/👨(\u200d👩)?(\u200d👧)?/gu) ?? [];
      expect(families.every((f) => f === '👨‍👩‍👧')).toBe(true);
    }
  });

  it('prints {{…}} typed into a notice literally, never evaluating it', () => {
    const card = renderTextCard(
      {
        notice: notice({ title: '{{link}} 标题', body: '{{#each personal}}{{this}}{{/each}} {{{issuingUnit}}}' }),
        link: LINK,
      },
      'text',
      { maxBytes: 2048 },
    );
    expect(card.content).toContain('{{link}} 标题');
    expect(card.content).toContain('{{#each personal}}{{this}}{{/each}} {{{issuingUnit}}}');
  });

  it('shows markdown characters of a notice literally in markdown cards', () => {
    const card = renderTextCard(
      { notice: notice({ body: '点击[领取补贴](http://evil.example)' }), link: LINK },
      'markdown',
      {
        maxBytes: 4096,
      },
    );
    expect(card.content).toContain('\\[领取补贴\\](http://evil.example)');
  });

  it('puts the place as people say it (township then village) and the officer, phone grouped 3-4-4, on a personalised card', () => {
    for (const format of ['text', 'markdown'] as const) {
      const card = renderTextCard({ notice: notice(), link: LINK, personal }, format, { maxBytes: 4096 });
      expect(card.content).toContain('五山街道华工社区');
      expect(card.content).not.toContain(' · ');
      expect(card.content).toContain('责任民警：张警官 138 0013 8000');
      expect(card.content).toContain('2025年6月1日');
      expect(card.content).not.toContain('2025-06-01');
    }
  });

  it('gives a text card one bracket prefix, and no 详情 line when the caller passes no link', () => {
    const card = renderTextCard({ notice: notice(), link: '', personal }, 'text', { maxBytes: 4096 });
    expect(card.content.match(/【/g)).toHaveLength(1);
    expect(card.content).not.toContain('详情');
    expect(card.content).not.toContain('http');
  });

  it('makes a link card with the summary as description, WeCom title and description sizes', () => {
    const card = renderTextCard(
      {
        notice: notice({ title: '标'.repeat(80), summary: '一句话摘要' }),
        link: LINK,
        pictureUrl: 'https://jx.example.cn/media/abc',
      },
      'link',
      { maxBytes: CHANNEL_LIMITS.wecom.link, titleMaxBytes: WECOM_NEWS_TITLE_MAX_BYTES },
    );
    expect(card.content).toBe('一句话摘要');
    expect(bytes(card.title)).toBeLessThanOrEqual(128);
    expect(card.pictureUrl).toBe('https://jx.example.cn/media/abc');
  });

  it('prints the wanted-clue fields', () => {
    const card = renderTextCard({ notice: notice({ category: 'wanted_clue', wanted: WANTED }), link: LINK }, 'text', {
      maxBytes: 2048,
    });
    expect(card.content).toContain('【协查通告】');
    expect(card.content).toContain(`悬赏：${WANTED.reward}`);
    expect(card.content).toContain(`联系人：${WANTED.contactName} ${WANTED.contactPhone}`);
  });

  it('when even an empty body does not fit, then it says so instead of exceeding the limit', () => {
    expect(() => renderTextCard({ notice: notice(), link: LINK }, 'text', { maxBytes: 100 })).toThrow(CardTooLarge);
  });
});

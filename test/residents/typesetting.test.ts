// The residents' page at phone width (390 px, Chromium) is set as the cards are: no paragraph,
// list item, fact or footer line ends in a one- or two-character widow, titles are balanced
// (no line of one or two characters), and no line breaks inside a word, amount or date the
// card breaker keeps whole. Lines are measured in the browser, character by character.
import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { breakOpportunities, charCount } from '../../src/render/typeset/breaker.js';
import type { ApprovedNotice } from '../../src/notices/service.js';
import { noticePage } from '../../src/residents/page.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../console/world.js';

const ORIGIN = 'http://residents.test';
const CSS = readFileSync(resolve('templates/residents/page.css'), 'utf8');
const FONT_FILE = readdirSync(resolve('console/dist/assets')).find((name) => /^wqy-microhei-.*\.ttf$/.test(name));
// The phone's own Chinese font stands in for by the console's face (this chromium has none).
const FONT_CSS =
  "@font-face{font-family:'Phone Hei';src:url('/font.ttf')}html,body,input,textarea,button{font-family:'Phone Hei',sans-serif!important}";

const BODIES = [
  '近期，我县发生多起**冒充公检法**诈骗案件。骗子自称警察，以您涉嫌洗钱为由，要求您将资金转入所谓“安全账户”。接到“警察”电话要求转账的，一律是诈骗案件。',
  '对提供有效线索协助破案的群众，公安机关将给予奖励人民币5000元，并严格为举报人保密。',
  '进入汛期，河塘水位上涨，请家长看管好孩子：不私自下水游泳，发现有人落水，大声呼救并拨打110，不要盲目施救。',
  '电动自行车请到集中充电点充电，不入户充电，不私拉电线“飞线”充电，充电时间不超过8小时。',
  '2025年5月20日晚21时30分许，五山街道某商铺被盗现金两万余元，嫌疑人男，约30岁，身高约175厘米，偏瘦。',
  '请记住：\n\n- 公检法机关不会通过电话办案，更不会要求您把钱转到所谓的“安全账户”；\n- 凡是让您下载“屏幕共享”APP、开启视频会议的，都是诈骗！\n- 不向陌生账户转账，提供有效线索者奖励人民币5000元。',
  '6月1日晚，社区民警与辅警、平安志愿者开展夜间巡逻，检查沿街商铺32家，发现并整改消防隐患3处，劝导电动车违规充电5起。',
].join('\n\n');

const TITLES = [
  '关于征集五山街道商铺盗窃案线索的协查通告',
  '关于征集一起盗窃案线索的协查通告',
  '警惕冒充公检法诈骗！接到“警察”电话要求转账的，一律是诈骗',
  '秋收时节防盗提示：农忙期间请锁好门窗，贵重物品不要放在显眼处',
];

function notice(title: string, wanted: boolean): ApprovedNotice {
  return {
    id: '6650f0c0a1b2c3d4e5f60718',
    version: 1,
    approvedAt: new Date('2026-06-01T02:00:00Z'),
    content: {
      category: wanted ? 'wanted_clue' : 'anti_fraud',
      title,
      body: BODIES,
      summary: null,
      issuingUnit: '天河区公安分局',
      hotline: '110',
      media: [],
      video: null,
      wanted: wanted
        ? {
            caseSummary: '2025年5月20日晚，五山街道某商铺被盗现金两万余元。',
            suspectDescription: '男，约30岁，身高约175厘米，偏瘦，案发时穿黑色连帽衫。',
            reward: '提供有效线索者奖励人民币5000元',
            contactName: '李警官',
            contactPhone: '020-12345678',
            deadline: '2026-06-16',
          }
        : null,
    },
  } as unknown as ApprovedNotice;
}

interface Block {
  selector: string;
  text: string;
  lines: string[];
  /** Offsets in `text` where a <br> forces a line. */
  forced: number[];
}

describe('the residents’ page at 390 px', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  afterAll(() => browser?.close());

  async function blocks(html: string): Promise<Block[]> {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      locale: 'zh-CN',
    });
    const page = await context.newPage();
    await page.route(`${ORIGIN}/**`, (route) => {
      const path = new URL(route.request().url()).pathname;
      if (path === '/font.ttf')
        return route.fulfill({
          body: readFileSync(resolve('console/dist/assets', FONT_FILE!)),
          contentType: 'font/ttf',
        });
      if (path === '/n/assets/page.css') return route.fulfill({ body: `${CSS}\n${FONT_CSS}`, contentType: 'text/css' });
      return route.fulfill({ body: html, contentType: 'text/html; charset=utf-8' });
    });
    await page.goto(`${ORIGIN}/n/x`);
    await page.evaluate(() => document.fonts.ready);
    const found = await page.evaluate(() => {
      const out: { selector: string; text: string; lines: string[]; forced: number[] }[] = [];
      const selectors = ['h1', '.body p', '.body li', '.facts dd', '.verify p', 'form .hint', 'form .meta'];
      for (const selector of selectors) {
        for (const element of Array.from(document.querySelectorAll(selector))) {
          let text = '';
          const forced: number[] = [];
          const lines: string[] = [];
          let lineTop = Number.NaN;
          const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT | NodeFilter.SHOW_ELEMENT);
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            if (node.nodeType === Node.ELEMENT_NODE) {
              if ((node as Element).tagName === 'BR') forced.push(text.length);
              continue;
            }
            const data = (node as Text).data;
            for (let i = 0; i < data.length; i++) {
              const range = document.createRange();
              range.setStart(node, i);
              range.setEnd(node, i + 1);
              const rect = range.getClientRects()[0];
              const char = data[i]!;
              if (rect && char.trim() && !(Math.abs(rect.top - lineTop) < rect.height / 2)) {
                lines.push('');
                lineTop = rect.top;
              }
              if (lines.length === 0) lines.push('');
              lines[lines.length - 1] += char;
              text += char;
            }
          }
          out.push({ selector, text, lines, forced });
        }
      }
      return out;
    });
    await context.close();
    return found;
  }

  for (const [index, title] of TITLES.entries()) {
    const wanted = index === 0;
    it(`sets “${title}”${wanted ? ' with the tip form' : ''} without widows, balanced titles or words cut`, async () => {
      const html = noticePage(
        notice(title, wanted),
        wanted ? { noticeId: '6650f0c0a1b2c3d4e5f60718', state: 'open' } : null,
      );
      const found = await blocks(html);
      expect(found.filter((b) => b.selector === '.body li')).toHaveLength(3);
      const problems: string[] = [];
      for (const block of found) {
        const shown = `${block.selector}: ${block.lines.join(' / ')}`;
        const { lines } = block;
        if (lines.length > 1 && charCount(lines.at(-1)!) < 3) problems.push(`widow — ${shown}`);
        if (block.selector === 'h1' && lines.some((line) => charCount(line) < 3))
          problems.push(`unbalanced title — ${shown}`);
        const breaks = breakOpportunities(block.text);
        let offset = 0;
        for (const line of lines.slice(0, -1)) {
          offset += line.length;
          // A break is fine where the breaker allows one (or a space, or a forced <br>).
          const at = offset - (block.text.slice(0, offset).length - block.text.slice(0, offset).trimEnd().length);
          if (
            !breaks.has(offset) &&
            !breaks.has(at) &&
            !block.forced.includes(offset) &&
            block.text[offset - 1] !== ' '
          ) {
            problems.push(
              `cut at “${block.text.slice(offset - 2, offset)}|${block.text.slice(offset, offset + 2)}” — ${shown}`,
            );
          }
        }
      }
      expect(problems).toEqual([]);
    }, 60_000);
  }
});

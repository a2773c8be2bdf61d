// The card line breaker on real notice titles and bodies, at the widths cards use and at
// narrow ones: no dictionary word split, no widow of one or two characters, no line starting
// with closing punctuation (or ending with opening), amounts, dates, phones and short quotes
// kept whole, titles balanced.
import { describe, expect, it } from 'vitest';
import { MIN_LAST_LINE, breakText, charCount, measure } from '../../src/render/typeset/breaker.js';

const words = new Intl.Segmenter('zh', { granularity: 'word' });
const CLOSING = /^[，。、；：？！）》」』】”’…]/;
const OPENING = /[（《「『【“‘]$/;

interface Case {
  text: string;
  /** Runs that must never be cut across two lines. */
  whole: string[];
}

// Bodies and titles from notices (the examples in issue 22 among them).
const BODIES: Case[] = [
  {
    text: '近期，我县发生多起冒充公检法诈骗案件。骗子自称警察，以您涉嫌洗钱为由，要求您将资金转入所谓“安全账户”。接到“警察”电话要求转账的，一律是诈骗。',
    whole: ['“警察”', '“安全账户”', '警察', '诈骗'],
  },
  {
    text: '对提供有效线索协助破案的群众，公安机关将给予奖励人民币5000元，并严格为举报人保密。',
    whole: ['人民币5000元', '奖励', '保密', '协助'],
  },
  {
    text: '进入汛期，河塘水位上涨，请家长看管好孩子：不私自下水游泳，发现有人落水，大声呼救并拨打110，不要盲目施救。',
    whole: ['孩子：', '盲目', '施救', '110，'],
  },
  {
    text: '电动自行车请到集中充电点充电，不入户充电，不私拉电线“飞线”充电，充电时间不超过8小时。',
    whole: ['“飞线”', '8小时', '充电，', '8小时。'],
  },
  {
    text: '2025年5月20日晚21时30分许，五山街道某商铺被盗现金两万余元，嫌疑人男，约30岁，身高约175厘米，偏瘦。',
    whole: ['2025年5月20日', '21时30分', '约175厘米', '约30岁', '两万余元'],
  },
  {
    text: '如发现嫌疑人踪迹，请立即拨打110报警，或联系办案民警李警官，电话138 0013 8000（24小时值班），也可拨打反诈专线96110咨询。',
    whole: ['138 0013 8000', '24小时', '96110', '拨打'],
  },
  {
    text: '6月1日晚，社区民警与辅警、平安志愿者开展夜间巡逻，检查沿街商铺32家，发现并整改消防隐患3处，劝导电动车违规充电5起。',
    whole: ['6月1日', '32家', '3处', '5起'],
  },
  {
    text: '警方提醒：凡是让您下载“屏幕共享”APP、开启视频会议、点击陌生链接的，都是诈骗！请下载国家反诈中心APP，开启来电预警功能。',
    whole: ['“屏幕共享”', 'APP', '诈骗！'],
  },
  {
    text: '《中华人民共和国反电信网络诈骗法》自2022年12月1日起施行，出租、出借、出售银行卡和电话卡均属违法行为。',
    whole: ['2022年12月1日'],
  },
];

const TITLES: string[] = [
  '关于征集一起盗窃案线索的协查通告',
  '警惕冒充公检法诈骗！接到“警察”电话要求转账的，一律是诈骗',
  '汛期安全提醒：远离河塘水库',
  '五山街道夜间巡逻情况通报',
  '关于开展“平安村居”宣传周活动的通知',
  '秋收时节防盗提示：农忙期间请锁好门窗，贵重物品不要放在显眼处',
  '冬季取暖防一氧化碳中毒安全提示',
];

const WIDTHS = [
  { sizePx: 30, width: 670 },
  { sizePx: 28, width: 382 },
  { sizePx: 30, width: 300 },
  { sizePx: 26, width: 470 },
];

function wordBoundaries(text: string): Set<number> {
  const at = new Set<number>();
  for (const { index } of words.segment(text)) at.add(index);
  return at;
}

function check(text: string, lines: string[], options: { sizePx: number; width: number }, whole: string[]) {
  // Nothing lost or added (trailing spaces at a break aside).
  expect(lines.join('').replace(/\s/g, '')).toBe(text.replace(/\s/g, ''));
  const boundaries = wordBoundaries(text);
  let offset = 0;
  lines.forEach((line, i) => {
    const start = text.indexOf(line, offset);
    expect(start, `line ${i} found in order`).toBeGreaterThanOrEqual(0);
    if (i > 0) expect(boundaries.has(start), `break before “${line}” is a word boundary`).toBe(true);
    offset = start + line.length;
    expect(measure(line, options.sizePx), `“${line}” fits`).toBeLessThanOrEqual(options.width);
    expect(line, 'no line starts with closing punctuation').not.toMatch(CLOSING);
    if (i < lines.length - 1) expect(line, 'no line ends with opening punctuation').not.toMatch(OPENING);
  });
  if (lines.length > 1) {
    expect(charCount(lines.at(-1)!), `last line “${lines.at(-1)}” is no widow`).toBeGreaterThanOrEqual(MIN_LAST_LINE);
  }
  for (const run of whole) {
    expect(
      lines.some((line) => line.includes(run)),
      `“${run}” kept on one line in ${JSON.stringify(lines)}`,
    ).toBe(true);
  }
}

describe('line breaking of notice bodies', () => {
  for (const options of WIDTHS) {
    it.each(BODIES)(`at ${options.width}px/${options.sizePx}px: %s`, ({ text, whole }) => {
      const lines = breakText(text, options);
      // Runs longer than a line cannot be kept whole; the narrowest width has none of those in the table.
      check(text, lines, options, whole);
    });
  }

  it('the runtime’s ICU segments Chinese words with its dictionary (Node 20 and 24 ship full ICU)', () => {
    const segments = Array.from(words.segment('接到警察电话看管好孩子盲目施救'), (s) => s.segment);
    for (const word of ['警察', '电话', '孩子', '盲目', '施救']) expect(segments).toContain(word);
  });
});

describe('balanced titles', () => {
  it.each(TITLES)('%s', (title) => {
    const options = { sizePx: 42, width: 670, balance: true, bold: true };
    const lines = breakText(title, options);
    const greedy = breakText(title, { ...options, balance: false });
    check(title, lines, options, []);
    // Balancing keeps the line count and evens the lines out.
    expect(lines).toHaveLength(greedy.length);
    if (lines.length > 1) {
      const counts = lines.map(charCount);
      expect(Math.max(...counts) - Math.min(...counts), JSON.stringify(lines)).toBeLessThanOrEqual(4);
      expect(Math.min(...counts)).toBeGreaterThanOrEqual(MIN_LAST_LINE);
    }
  });

  it('never leaves the title of issue 22 with one character on its last line', () => {
    const lines = breakText('关于征集一起盗窃案线索的协查通告', { sizePx: 42, width: 640, balance: true, bold: true });
    expect(lines.at(-1)).not.toBe('告');
    expect(lines.every((line) => charCount(line) >= 6)).toBe(true);
  });
});

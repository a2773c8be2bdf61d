// The notice words ICU's dictionary cuts inside (src/render/typeset/notice-words.ts) stay whole
// in the line breaker: on a table of real notice titles and bodies, no break opportunity falls
// inside one, at any width; and every entry of the list is one the dictionary does cut (so the
// list holds no dead weight).
import { describe, expect, it } from 'vitest';
import { breakOpportunities, breakText } from '../../src/render/typeset/breaker.js';
import { NOTICE_WORDS } from '../../src/render/typeset/notice-words.js';

const icu = new Intl.Segmenter('zh', { granularity: 'word' });

interface Case {
  text: string;
  /** Words a reader must find on one line. */
  whole: string[];
}

// Titles and body sentences of real notices (county police accounts), each with words ICU cuts.
const TABLE: Case[] = [
  { text: '关于征集五山街道商铺盗窃案线索的协查通告', whole: ['商铺', '征集', '协查通告'] },
  { text: '电动车进楼入户充电危险！请到集中充电点或充电桩充电', whole: ['电动车', '入户', '充电点', '充电桩'] },
  {
    text: '警惕电信诈骗：冒充公检法、刷单返利、养老诈骗最常见',
    whole: ['电信诈骗', '冒充公检法', '刷单返利', '养老诈骗'],
  },
  { text: '出租出借银行卡、电话卡帮人“跑分”，涉嫌帮信罪', whole: ['银行卡', '电话卡', '跑分', '帮信罪'] },
  { text: '请下载国家反诈中心APP，全民反诈，守护好您的“钱袋子”', whole: ['反诈中心', '全民反诈'] },
  {
    text: '“客服”来电称要理赔、注销校园贷、清零征信的，都是诈骗',
    whole: ['客服', '来电', '理赔', '注销', '校园贷', '清零', '征信'],
  },
  { text: '不扫陌生二维码，不点陌生链接，不向陌生人透露验证码', whole: ['二维码', '链接', '验证码'] },
  { text: '网恋对象推荐您投资比特币、进“杀猪盘”，是典型电诈套路', whole: ['网恋', '比特币', '杀猪盘', '电诈'] },
  { text: '冒充医保局工作人员称您的医保卡、社保卡异常，要求扫码认证', whole: ['医保卡', '社保卡', '扫码'] },
  { text: '关于电动自行车飞线充电和高空抛物的安全提示', whole: ['电动自行车', '飞线', '高空抛物'] },
  { text: '冬季使用煤炉、燃气取暖，请注意通风，防范一氧化碳中毒', whole: ['煤炉', '燃气', '一氧化碳'] },
  { text: '网格员、辅警入户走访留守儿童家庭，宣传防溺水知识', whole: ['网格员', '辅警', '入户', '留守儿童', '防溺水'] },
  { text: '村委会提醒：推销保健品、高息理财的“讲座”要远离，谨防传销', whole: ['村委会', '保健品', '高息', '传销'] },
  { text: '如发现嫌疑人踪迹请拨打110举报，奖励人民币5000元', whole: ['嫌疑人', '拨打', '举报', '人民币5000元'] },
  {
    text: '微信、支付宝收款码不要借给他人，抖音带货刷单返利是骗局',
    whole: ['微信', '支付宝', '收款码', '抖音', '带货', '刷单返利'],
  },
  {
    text: '夜间巡逻检查门店、网店仓库和商户门窗，发现黑车拐卖线索请举报',
    whole: ['门店', '网店', '商户', '门窗', '黑车', '拐卖'],
  },
  // Seen cut on the sample cards (docs/cards/accident-prevention.png, anti-theft.png).
  { text: '进入汛期，请家长看管好孩子：不私自下水游泳', whole: ['看管', '孩子：'] },
  { text: '发现形迹可疑人员或车辆，请记下特征和车牌，及时拨打110', whole: ['车牌', '拨打'] },
];

/** Offsets strictly inside each occurrence of a word. */
function inside(text: string, word: string): number[] {
  const at: number[] = [];
  for (let from = text.indexOf(word); from >= 0; from = text.indexOf(word, from + 1)) {
    for (let i = from + 1; i < from + word.length; i++) at.push(i);
  }
  return at;
}

describe('notice words the dictionary does not know', () => {
  it.each(TABLE)('keeps the words of “$text” whole', ({ text, whole }) => {
    const breaks = breakOpportunities(text);
    for (const word of whole) {
      expect(text, `the table's text holds ${word}`).toContain(word);
      const cut = inside(text, word).filter((i) => breaks.has(i));
      expect(cut, `${word} may be cut`).toEqual([]);
    }
    // And on lines, at widths from a narrow phone column to a card's.
    for (let width = 180; width <= 700; width += 23) {
      const lines = breakText(text, { sizePx: 28, width });
      for (const word of whole) {
        if ((word.length + 2) * 28 > width) continue; // a piece wider than the line is cut by character
        let offset = 0;
        for (const line of lines.slice(0, -1)) {
          offset += line.length;
          for (const i of inside(text, word))
            expect(
              i === offset && text.slice(0, offset).endsWith(line),
              `${word} cut at ${width}px: ${lines.join(' / ')}`,
            ).toBe(false);
        }
      }
    }
  });

  it.each(NOTICE_WORDS)('%s is cut by the dictionary, and kept whole by the breaker', (word) => {
    // Cut alone, or inside the table's sentence that holds it (看管 alone is a word; 看|管好 in context).
    const cutInContext = TABLE.some(
      ({ text }) => text.includes(word) && inside(text, word).some((i) => [...icu.segment(text)].some((s) => s.index === i)),
    );
    expect([...icu.segment(word)].length > 1 || cutInContext, `${word}: ICU knows it now; take it off the list`).toBe(true);
    const text = `请注意${word}的情况`;
    const breaks = breakOpportunities(text);
    expect(inside(text, word).filter((i) => breaks.has(i))).toEqual([]);
  });

  it('keeps the list short, and each entry a word of at most six characters', () => {
    expect(NOTICE_WORDS.length).toBeLessThan(150);
    for (const word of NOTICE_WORDS) expect([...word].length).toBeLessThanOrEqual(6);
    expect(new Set(NOTICE_WORDS).size).toBe(NOTICE_WORDS.length);
  });
});

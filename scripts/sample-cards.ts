// Draws a sample image card of every theme (and a personalised variant) into docs/cards/,
// so anyone can see what the product draws. Run: npm run cards:samples
import { mkdirSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { CATEGORIES, type Category } from '../src/notices/categories.js';
import type { CardNotice } from '../src/render/content.js';
import { WECOM_IMAGE_MAX_BYTES } from '../src/channels/limits.js';
import { ImageCardRenderer } from '../src/render/index.js';

const OUT = new URL('../docs/cards/', import.meta.url);
const LINK = 'https://jx.example.cn/t/Ab3dE9xk';

const SAMPLES: Record<Category, Omit<CardNotice, 'category' | 'issuedOn' | 'issuingUnit' | 'hotline'>> = {
  anti_fraud: {
    title: '警惕冒充公检法诈骗！接到“警察”电话要求转账的，一律是诈骗',
    body: '近期，我县发生多起**冒充公检法**诈骗案件。骗子自称警察，以您涉嫌洗钱为由，要求您将资金转入所谓“安全账户”。\n\n请记住：\n- 公检法机关不会通过电话办案\n- 没有所谓的“安全账户”\n- 不要向陌生人透露银行卡号和验证码',
  },
  anti_theft: {
    title: '秋收时节防盗提示',
    body: '农忙期间家中无人，请**锁好门窗**，贵重物品不要放在显眼处。\n\n发现形迹可疑人员或车辆，请记下特征和车牌，及时拨打 110。',
  },
  accident_prevention: {
    title: '汛期安全提醒：远离河塘水库',
    body: '进入汛期，河塘水位上涨，请家长看管好孩子：\n1. 不私自下水游泳\n2. 不在河边、水库边玩耍\n3. 发现有人落水，大声呼救并拨打 110，不要盲目施救\n\n电动自行车请到集中充电点充电，不入户充电，不私拉电线“飞线”充电。',
  },
  anti_vice: {
    title: '珍爱生命 拒绝毒品',
    body: '毒品一旦沾上，危害身体、破坏家庭。\n\n**新型毒品**常伪装成“奶茶”“跳跳糖”“电子烟”，请提醒家中青少年：陌生人给的东西不要吃、不要喝。\n\n举报涉毒线索，一经查实给予奖励。',
  },
  patrol_report: {
    title: '五山街道夜间巡逻情况通报',
    body: '6月1日晚，社区民警与辅警、平安志愿者开展夜间巡逻，检查沿街商铺32家，发现并整改消防隐患3处，劝导电动车违规充电5起。\n\n感谢群众配合，平安需要大家共同守护。',
  },
  wanted_clue: {
    title: '关于征集一起盗窃案线索的协查通告',
    body: '请广大群众积极提供线索，对提供线索的群众，公安机关将严格保密。',
    wanted: {
      caseSummary: '2025年5月20日晚，五山街道某商铺被盗现金两万余元。',
      suspectDescription: '男，约30岁，身高约175厘米，偏瘦，案发时穿黑色连帽衫、蓝色牛仔裤。',
      reward: '提供有效线索者奖励人民币5000元',
      contactName: '李警官',
      contactPhone: '020-12345678',
      deadline: '2025-07-31',
    },
  },
  general: {
    title: '关于开展“平安村居”宣传周活动的通知',
    body: '本周六上午9时，社区民警将在村委会广场开展防诈骗、防溺水、消防安全宣传，现场提供身份证办理咨询。\n\n欢迎村民朋友参加。',
  },
};

async function samplePhoto(category: Category): Promise<Buffer | null> {
  if (category !== 'wanted_clue' && category !== 'patrol_report') return null;
  // A plain stand-in picture (no real person): a silhouette on a grey background.
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="600" height="780">
    <rect width="600" height="780" fill="#cfd8dc"/>
    <circle cx="300" cy="270" r="140" fill="#78909c"/>
    <rect x="110" y="450" width="380" height="330" rx="160" fill="#78909c"/></svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 85 }).toBuffer();
}

mkdirSync(OUT, { recursive: true });
const renderer = new ImageCardRenderer({ cacheBytes: 0 });
const runs = [
  ...CATEGORIES.map((category) => ({ category, personalised: false })),
  { category: 'anti_fraud' as const, personalised: true },
];
for (const { category, personalised } of runs) {
  const photo = await samplePhoto(category);
  const notice: CardNotice = {
    category,
    issuingUnit: '天河区公安分局',
    hotline: category === 'anti_fraud' ? '110 / 96110' : '110',
    issuedOn: '2025-06-01',
    ...SAMPLES[category],
  };
  const personal = personalised
    ? { villageName: '华工社区', townshipName: '五山街道', officerName: '张警官', officerPhone: '13800138000' }
    : null;
  const card = await renderer.render(
    { notice, link: LINK, photos: photo ? [photo] : [], personal },
    { format: 'png', maxBytes: WECOM_IMAGE_MAX_BYTES },
  );
  const name = `${category.replace(/_/g, '-')}${personal ? '-personalised' : ''}.png`;
  writeFileSync(new URL(name, OUT), card.data);
  console.log(`docs/cards/${name}: ${card.width}×${card.height}, ${(card.data.length / 1024).toFixed(0)} KB`);
}

// A month of work in the demo county, made through the HTTP API as people would make it
// (every rule and check applies): users of every role with documented passwords, notices of
// every category in every state, reviewed campaigns whose deliveries go through the robot
// doubles, officer forwarding tasks confirmed and open, a wanted case with residents' tips.
// `npm run demo` runs it after seeding the county; the console's screen tests run it on
// their own world. Safe to run again: a month already there is left as it is.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { RollupMarkerModel } from '../src/tracking/rollup-model.js';
import type { ReachRollups } from '../src/tracking/rollups.js';

/** The demo accounts (docs/onboarding.md lists them): password = `demo-<role>-2026`. */
export const DEMO_USERS = [
  { username: 'demo-editor', displayName: '李宣传', role: 'editor' },
  { username: 'demo-editor2', displayName: '周宣传', role: 'editor' },
  { username: 'demo-reviewer', displayName: '王审核', role: 'reviewer' },
  { username: 'demo-officer', displayName: '赵社区', role: 'officer', phone: '13900000001' },
  { username: 'demo-viewer', displayName: '钱局长', role: 'viewer' },
  { username: 'demo-coordinator', displayName: '陈协调', role: 'coordinator' },
  { username: 'demo-admin', displayName: '孙管理', role: 'admin' },
] as const;
export const demoPassword = (username: string) => `${username}-2026`;

export interface MonthOptions {
  /** The county every account and notice belongs to. */
  countyCode: string;
  adminToken: string;
  /** How long to wait for the deliveries through the doubles (the engine must be running). */
  deliveryTimeoutMs?: number;
  log?: (line: string) => void;
  /**
   * The roll-ups 触达统计 and 月度统计表 read. Given, the month is folded into them before the
   * seed returns (foldMonth), so the first look at either screen shows it.
   */
  rollups?: ReachRollups;
}

export interface MonthResult {
  created: boolean;
  notices: number;
  campaigns: number;
  tasks: number;
  tips: number;
  accounts: string[];
}

type Json = Record<string, unknown>;

/** The seed's requests come from their own address, apart from a person's (login rate limits are per address). */
const SEED_ADDRESS = '127.0.0.9';

/**
 * Folds every delivery batch written so far into the roll-ups. A service running beside the
 * demo holds the refresher lease and folds them itself every few seconds: then this waits until
 * no marker is left. Throws after `timeoutMs`.
 */
export async function foldMonth(rollups: ReachRollups, timeoutMs = 120_000): Promise<number> {
  const owner = `demo-${randomBytes(6).toString('hex')}`;
  const deadlineAt = Date.now() + timeoutMs;
  let folded = 0;
  try {
    for (;;) {
      const done = await rollups.refresh(owner);
      if (done === 0) return folded;
      if (done !== null) folded += done;
      else if ((await RollupMarkerModel.countDocuments({})) === 0) return folded;
      else await new Promise((resolve) => setTimeout(resolve, 250));
      if (Date.now() > deadlineAt) throw new Error('the roll-ups were not folded in time (another process holds the lease)');
    }
  } finally {
    await rollups.release(owner);
  }
}

export async function seedDemoMonth(app: FastifyInstance, options: MonthOptions): Promise<MonthResult> {
  const result = await seedMonth(app, options);
  if (options.rollups) {
    options.log?.('统计汇总（触达统计、月度统计表）');
    await foldMonth(options.rollups);
  }
  return result;
}

async function seedMonth(app: FastifyInstance, options: MonthOptions): Promise<MonthResult> {
  const log = options.log ?? (() => undefined);
  async function call(method: 'GET' | 'POST' | 'PATCH', url: string, token: string | null, body?: unknown): Promise<Json> {
    const response = await app.inject({
      method,
      url,
      remoteAddress: SEED_ADDRESS,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      ...(body === undefined ? {} : { payload: body as Json }),
    });
    if (response.statusCode >= 300) throw new Error(`${method} ${url}: ${response.statusCode} ${response.body}`);
    return response.body ? (response.json() as Json) : {};
  }
  const list = async (url: string, token: string) => (await call('GET', url, token)) as unknown as Json[];

  // ── accounts ──
  log('账号');
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};
  const known = new Set(((await call('GET', '/api/users', options.adminToken)) as unknown as Json[]).map((u) => u.username));
  for (const user of DEMO_USERS) {
    const password = demoPassword(user.username);
    if (!known.has(user.username)) {
      // An admin-set password must be changed by its owner before anything else (issue 26.9).
      const initial = `${password}-initial`;
      await call('POST', '/api/users', options.adminToken, { ...user, password: initial, regionCode: options.countyCode });
      const first = await call('POST', '/api/auth/login', null, { username: user.username, password: initial });
      await call('POST', '/api/auth/password', first.token as string, { currentPassword: initial, newPassword: password });
    }
    const session = await call('POST', '/api/auth/login', null, { username: user.username, password });
    tokens[user.role === 'editor' && tokens.editor ? 'editor2' : user.role] = session.token as string;
    ids[user.username] = (session.user as Json).id as string;
  }
  const { editor, editor2, reviewer } = tokens as Record<string, string>;
  const officerId = ids['demo-officer'] as string;
  const accounts = DEMO_USERS.map((u) => `${u.username} / ${demoPassword(u.username)}（${u.displayName}）`);

  const existing = await list('/api/notices?q=%E4%B8%8A%E5%8D%8A%E6%9C%88&limit=5', editor as string);
  if (existing.some((n) => n.title === '本月防诈提醒（上半月）')) {
    log('本月的演示数据已存在，未重复创建');
    return { created: false, notices: 0, campaigns: 0, tasks: 0, tips: 0, accounts };
  }

  // ── groups: the county's robot groups, and two manual ones for the officer ──
  log('群');
  const robotGroups = (await list(`/api/groups?regionCode=${options.countyCode}&active=true&limit=40`, options.adminToken)).filter(
    (g) => g.channelKind !== 'manual',
  );
  if (robotGroups.length < 4) throw new Error('the demo county needs at least four robot groups (run the county seed first)');
  const villages = [...new Set(robotGroups.map((g) => g.regionCode as string))];
  const manual: string[] = [];
  for (const [i, village] of villages.slice(0, 2).entries()) {
    const group = await call('POST', '/api/groups', options.adminToken, {
      name: `${i === 0 ? '东' : '西'}片居民微信群`,
      regionCode: village,
      channel: { kind: 'manual' },
      memberCount: 260 + i * 40,
      officer: { name: '赵社区', phone: '13900000001' },
      tags: ['人工转发'],
    });
    manual.push(group.id as string);
  }
  const reach = [...robotGroups.slice(0, 6).map((g) => g.id as string), ...manual];

  // ── notices of every category, in every state ──
  log('通告');
  const body = (lines: string[]) => lines.join('\n');
  const write = (token: string, content: Json) =>
    call('POST', '/api/notices', token, { issuingUnit: '内黄县公安局', regionCode: options.countyCode, ...content });
  const approve = async (id: string, by = editor as string) => {
    await call('POST', `/api/notices/${id}/submit`, by);
    await call('POST', `/api/notices/${id}/approve`, reviewer as string, {});
  };
  const approved: Record<string, string> = {};
  const library: [string, string, string[]][] = [
    ['anti_fraud', '本月防诈提醒（上半月）', ['近期我县多发**冒充客服退款**诈骗。', '', '请记住：', '- 退款不需要您先转账', '- 陌生链接不点、验证码不说', '', '如有疑问请拨打反诈专线 96110。']],
    ['anti_theft', '秋收时节防盗提醒', ['秋收农机具、电动车请入院上锁。', '', '- 夜间关好门窗', '- 贵重物品不放车内']],
    ['accident_prevention', '冬季取暖防一氧化碳中毒', ['使用煤炉取暖务必开窗通风，', '老人独居家庭请亲属常打电话问候。']],
    ['anti_vice', '远离黄赌毒 守护好家庭', ['发现聚众赌博、涉毒线索，请拨打 110 举报，', '举报人信息严格保密。']],
    ['patrol_report', '十二月第一周巡逻情况通报', ['本周巡逻 42 次，检查重点部位 18 处，', '发现并整改隐患 5 处。']],
    ['general', '户籍业务办理时间调整', ['自本月起，派出所户籍窗口周六上午照常办理业务。']],
  ];
  for (const [category, title, lines] of library) {
    const notice = await write(editor as string, { category, title, body: body(lines) });
    await approve(notice.id as string);
    approved[category] = notice.id as string;
  }
  const deadline = new Date(Date.now() + 20 * 86_400_000).toISOString().slice(0, 10);
  const wanted = await write(editor as string, {
    category: 'wanted_clue',
    title: '关于征集城关镇电动车盗窃案线索的通告',
    body: body(['11月28日夜，城关镇多处电动车被盗。', '', '请知情群众提供线索。']),
    wanted: {
      caseSummary: '2026年11月28日夜，城关镇三个小区共被盗电动车 6 辆。',
      suspectDescription: '男，约25岁，身高约170厘米，案发时穿深色外套、戴白色头盔。',
      reward: '提供有效线索者奖励人民币2000元',
      contactName: '赵社区',
      contactPhone: '0372-7881110',
      deadline,
      contactUserId: officerId,
    },
  });
  await approve(wanted.id as string);
  approved.wanted_clue = wanted.id as string;
  // A draft, one waiting for review, one sent back, one archived.
  await write(editor2 as string, { category: 'anti_fraud', title: '防范养老诈骗（草稿）', body: '以“高额返利”为诱饵的养老投资多为诈骗。' });
  const waiting = await write(editor2 as string, { category: 'accident_prevention', title: '寒假学生防溺水提醒', body: '冰面不结实，请家长看护孩子不到河塘冰面玩耍。' });
  await call('POST', `/api/notices/${waiting.id}/submit`, editor2 as string);
  const sentBack = await write(editor2 as string, { category: 'anti_fraud', title: '警惕“刷单返利”', body: '刷单就是诈骗。' });
  await call('POST', `/api/notices/${sentBack.id}/submit`, editor2 as string);
  await call('POST', `/api/notices/${sentBack.id}/reject`, reviewer as string, { reason: '正文太短，请补充典型案例和求助电话' });
  const old = await write(editor as string, { category: 'general', title: '国庆假期出行提示', body: '假期出行注意交通安全。' });
  await approve(old.id as string);
  await call('POST', `/api/notices/${old.id}/archive`, editor as string);

  // ── campaigns: sent now through the doubles, weekly, waiting, draft, cancelled ──
  log('推送');
  const audienceOf = (groups: string[]) => ({ regions: [], tags: [], groups, excludeRegions: [], excludeTags: [], excludeGroups: [] });
  const campaign = (title: string, noticeId: string, groups: string[], schedule: Json, extra: Json = {}) =>
    call('POST', '/api/campaigns', editor as string, { title, noticeId, audience: audienceOf(groups), schedule, cardStyle: 'text', ...extra });
  const sent: string[] = [];
  for (const [title, category, groups] of [
    ['十二月防诈宣传', 'anti_fraud', reach],
    ['协查：城关镇电动车盗窃案', 'wanted_clue', reach],
    ['冬季取暖安全提醒', 'accident_prevention', reach.slice(0, 4)],
  ] as const) {
    const c = await campaign(title, approved[category] as string, [...groups], { kind: 'now' }, category === 'wanted_clue' ? { priority: 'urgent' } : {});
    await call('POST', `/api/campaigns/${c.id}/submit`, editor as string);
    await call('POST', `/api/campaigns/${c.id}/approve`, reviewer as string);
    sent.push(c.id as string);
  }
  const endAt = new Date(Date.now() + 90 * 86_400_000).toISOString();
  const weekly = await campaign('每周一防盗提醒', approved.anti_theft as string, reach.slice(0, 6), { kind: 'cron', cron: '0 9 * * 1', endAt });
  await call('POST', `/api/campaigns/${weekly.id}/submit`, editor as string);
  await call('POST', `/api/campaigns/${weekly.id}/approve`, reviewer as string);
  const inReview = await campaign('拒黄赌毒宣传月', approved.anti_vice as string, reach.slice(0, 3), {
    kind: 'once',
    at: new Date(Date.now() + 3 * 86_400_000).toISOString(),
  });
  await call('POST', `/api/campaigns/${inReview.id}/submit`, editor as string);
  await campaign('巡逻通报（草稿）', approved.patrol_report as string, reach.slice(0, 2), { kind: 'now' });
  const cancelled = await campaign('户籍业务调整通知', approved.general as string, reach.slice(0, 2), {
    kind: 'once',
    at: new Date(Date.now() + 5 * 86_400_000).toISOString(),
  });
  await call('POST', `/api/campaigns/${cancelled.id}/cancel`, editor as string);

  // ── deliveries, then the officer confirms one task and leaves the other open ──
  log('等待发送完成（经机器人模拟服务）');
  const deadlineAt = Date.now() + (options.deliveryTimeoutMs ?? 60_000);
  for (const id of sent) {
    for (;;) {
      const p = await call('GET', `/api/campaigns/${id}/progress`, options.adminToken);
      // Sent by the robots (queued 0); officers' tasks stay open on purpose, so not `finished`.
      if (p.queued === 0 && (p.total as number) > 0) break;
      if (Date.now() > deadlineAt) throw new Error(`campaign ${id} did not finish sending in time (is the engine running?)`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  const tasks = await list('/api/manual-tasks?limit=50', options.adminToken);
  const first = tasks[0];
  if (first) {
    const link = new URL(first.link as string);
    await call('POST', `/api/manual-tasks/${first.id}/confirm${link.search}`, null);
  }

  // ── residents' tips on the wanted notice ──
  log('线索');
  const tipTexts = [
    '28号晚上十一点多看见一个戴白头盔的人推着电动车往北走，很着急。',
    '我家监控拍到一个穿深色外套的人在小区门口转了好几圈，可以提供录像。',
  ];
  for (const [i, text] of tipTexts.entries()) {
    const form = new URLSearchParams({ text, phone: i === 0 ? '13700001234' : '' }).toString();
    const tip = await app.inject({
      method: 'POST',
      remoteAddress: SEED_ADDRESS,
      url: `/n/${wanted.id}/tips`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: form,
    });
    if (tip.statusCode !== 303) throw new Error(`tip: ${tip.statusCode} ${tip.body.slice(0, 200)}`);
  }
  return { created: true, notices: library.length + 5, campaigns: 7, tasks: tasks.length, tips: tipTexts.length, accounts };
}

// WeCom customer groups end to end against the double written from the reference: a
// county's app, a sync of 600 groups matched to villages and officers, a run to three owners
// (one confirms at once, one after an hour and a reminder, one never: escalated, then the
// remainder reported), an expired token, a retraction mid-run, and the receive cap shown
// before approval and refused with the reason. Real engine, database and HTTP; fixed clock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CustomerGroupDouble, type DoubleMember } from '../../src/channels/doubles/wecom-customer-groups.js';
import { buildWecomCapSends } from '../../src/channels/wecom-group/cap-sends.js';
import { WecomItemModel } from '../../src/channels/wecom-group/model.js';
import { BackfillModel } from '../../src/db/backfills.js';
import { fixedClock } from '../../src/lib/clock.js';
import { RegionModel } from '../../src/regions/model.js';
import { GroupModel } from '../../src/audience/model.js';
import { ADMIN_PASSWORD } from '../helpers/app.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  audienceOf,
  campaignItems,
  runUntilIdle,
  startDeliveryWorld,
} from '../helpers/delivery.js';
import { distinctCommonHanzi } from '../helpers/hanzi.js';
import { TREE } from '../helpers/regions.js';

// 10:00 in Shanghai on a Monday in June (30 days): outside quiet hours.
const clock = fixedClock('2026-06-01T02:00:00.000Z');
const MINUTE = 60_000;
const CORP = 'wwcountytianhe0001';
const SECRET = 'tianhe-customer-contact-app-secret-01';
const COUNTY = TREE.countyA.code;
const TOWNSHIP2 = { code: '440106002', name: '石牌街道' };

const double = new CustomerGroupDouble({ clock });

interface Chat {
  chatId: string;
  name: string;
  owner: string;
  village: string;
  residents: number;
}

/** 200 villages under 五山街道, three groups each; one village name repeated under 石牌街道. */
function fixtures() {
  const chars = distinctCommonHanzi(400);
  const villages = Array.from({ length: 200 }, (_, i) => ({
    code: `${TREE.townshipA.code}${String(i + 101).padStart(3, '0')}`,
    name: `${chars[2 * i]}${chars[2 * i + 1]}村`,
  }));
  const chats: Chat[] = [];
  const kinds = ['平安群', '警民联系群', '反诈宣传群'];
  for (const [i, village] of villages.entries()) {
    for (const [k, kind] of kinds.entries()) {
      chats.push({
        chatId: `wrOgQhDgAA${String(i * 3 + k).padStart(4, '0')}`,
        name: k === 1 ? `${village.name.slice(0, -1)}村委会${kind}` : `${village.name}${kind}`,
        owner: `owner-${((i * 3 + k) % 6) + 1}`,
        village: village.code,
        residents: 20 + ((i * 3 + k) % 7),
      });
    }
  }
  return { villages, chats };
}

function members(chat: Chat): DoubleMember[] {
  return [
    { userid: chat.owner, type: 1 },
    { userid: 'cadre-001', type: 1 },
    ...Array.from({ length: chat.residents }, (_, r) => ({ userid: `wm${chat.chatId}${r}`, type: 2 as const })),
  ];
}

describe('WeCom customer groups (企业微信客户群)', () => {
  let w: DeliveryWorld;
  const { villages, chats } = fixtures();
  const officers = new Map<string, string>(); // owner userid → user id
  const groupOf = new Map<string, string>(); // chat id → group id
  const chiefRobot = 'station-robot-chief-wecom-0001';
  const ownerRobots: Record<string, string> = {
    'owner-1': 'station-robot-owner1-000001',
    'owner-2': 'station-robot-owner2-000001',
    'owner-3': 'station-robot-owner3-000001',
  };

  const ok = async (response: { statusCode: number; body: string; json(): unknown }, status = 200) => {
    expect(response.statusCode, response.body).toBe(status);
    return response.json() as Record<string, unknown> & { id: string };
  };

  async function user(displayName: string, phone: string, wecomUserId: string | null): Promise<string> {
    const created = await ok(
      await w.t.request('POST', '/api/users', w.t.adminToken, {
        username: `u${phone}`,
        displayName,
        password: `${ADMIN_PASSWORD}-${phone}`,
        role: 'officer',
        regionCode: COUNTY,
        phone,
      }),
      201,
    );
    if (wecomUserId)
      await ok(await w.t.request('PUT', `/api/users/${created.id}/wecom-userid`, w.t.adminToken, { wecomUserId }));
    return created.id;
  }

  // As the loop runs it (main.ts): the due marker gates every pass.
  const tick = () => w.t.ctx.wecomGroups.tickWhenDue();
  const postsTo = (robot: string) =>
    w.doubles.received({ platform: 'wecom', robot }).map((m) => (m.body.text as { content: string }).content);

  beforeAll(async () => {
    await double.start();
    double.addCorp(CORP, SECRET);
    w = await startDeliveryWorld({
      clock,
      env: { WECOM_API_BASE_URL: double.url, TASK_REMINDER_MINUTES: '30', TOKEN_TTL_HOURS: '720' },
    });
    w.doubles.addRobot({ platform: 'wecom', key: chiefRobot });
    for (const key of Object.values(ownerRobots)) w.doubles.addRobot({ platform: 'wecom', key });
    // The county's villages (the region tree as a seed would make it), and a 东-style twin.
    await RegionModel.insertMany([
      { code: TOWNSHIP2.code, name: TOWNSHIP2.name, level: 'township', parentCode: COUNTY, regionPath: ['000000', '440000', '440100', COUNTY, TOWNSHIP2.code] },
      ...villages.map((v) => ({
        code: v.code,
        name: v.name,
        level: 'village',
        parentCode: TREE.townshipA.code,
        regionPath: ['000000', '440000', '440100', COUNTY, TREE.townshipA.code, v.code],
      })),
      {
        code: `${TOWNSHIP2.code}101`,
        name: villages[5]!.name,
        level: 'village',
        parentCode: TOWNSHIP2.code,
        regionPath: ['000000', '440000', '440100', COUNTY, TOWNSHIP2.code, `${TOWNSHIP2.code}101`],
      },
    ]);
    for (const chat of chats) double.addChat(CORP, { chatId: chat.chatId, name: chat.name, owner: chat.owner, members: members(chat) });
    // One group named after no village at all.
    double.addChat(CORP, { chatId: 'wrOgQhDgAAnoname', name: '群聊', owner: 'owner-1', members: [] });
    const chief = await user('赵所长', '13900000009', null);
    for (const [n, owner] of ['owner-1', 'owner-2', 'owner-3', 'owner-4', 'owner-5'].entries()) {
      officers.set(owner, await user(`民警${n + 1}`, `1390000001${n}`, owner));
    }
    for (const [owner, key] of Object.entries(ownerRobots)) {
      await ok(
        await w.t.request('PUT', `/api/users/${officers.get(owner)}/notify-robot`, w.t.adminToken, {
          channel: { kind: 'wecom', key },
          superiorUserId: chief,
        }),
      );
    }
    await ok(
      await w.t.request('PUT', `/api/users/${chief}/notify-robot`, w.t.adminToken, { channel: { kind: 'wecom', key: chiefRobot } }),
    );
  }, 120_000);
  afterAll(async () => {
    await w?.close();
    await double.close();
  });

  it('keeps the county’s app secret write-only and refuses a malformed corp id by field', async () => {
    const bad = await w.t.request('PUT', `/api/regions/${COUNTY}/wecom-app`, w.t.adminToken, { corpId: 'ww 空格', secret: SECRET });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('企业 ID');
    const set = await ok(await w.t.request('PUT', `/api/regions/${COUNTY}/wecom-app`, w.t.adminToken, { corpId: CORP, secret: SECRET }));
    expect(set).toMatchObject({ corpId: CORP, hasSecret: true, capPolicy: 'month' });
    const read = await w.t.request('GET', `/api/regions/${COUNTY}/wecom-app`, w.t.adminToken);
    expect(read.body).not.toContain(SECRET);
    expect(w.t.logs()).not.toContain(SECRET);
    const editor = await w.t.request('GET', `/api/regions/${COUNTY}/wecom-app`, w.editor);
    expect(editor.statusCode).toBe(403);
  });

  it('syncs 600 groups: villages by name, owners to officers, residents counted apart from staff; a twin and a stranger reported', async () => {
    const report = (await ok(await w.t.request('POST', `/api/regions/${COUNTY}/wecom-sync`, w.t.adminToken))) as unknown as {
      total: number;
      created: number;
      ambiguous: { chatId: string; candidates: { code: string }[] }[];
      unmatched: { chatId: string }[];
      ownersWithoutOfficer: { ownerUserId: string; groups: number }[];
      byOwner: { ownerUserId: string; officerName: string | null; groups: number; villageCount: number; villages: string[] }[];
    };
    expect(report.total).toBe(601);
    // Village 5's three groups: two name only the village (twin under 石牌街道), one says 村委会 too.
    const twinChats = chats.filter((c) => c.village === villages[5]!.code).map((c) => c.chatId);
    expect(report.ambiguous.map((a) => a.chatId).sort()).toEqual(twinChats.sort());
    expect(report.ambiguous[0]!.candidates.map((c) => c.code).sort()).toEqual([villages[5]!.code, `${TOWNSHIP2.code}101`].sort());
    expect(report.unmatched.map((u) => u.chatId)).toEqual(['wrOgQhDgAAnoname']);
    expect(report.created).toBe(597);
    expect(report.ownersWithoutOfficer).toEqual([{ ownerUserId: 'owner-6', groups: 100 }]);
    // The placed groups by owner: 597 in all, the officer named, villages counted.
    expect(report.byOwner.reduce((n, o) => n + o.groups, 0)).toBe(597);
    const unplaced = new Set([...report.ambiguous, ...report.unmatched].map((g) => g.chatId));
    const placedOf6 = chats.filter((c) => c.owner === 'owner-6' && !unplaced.has(c.chatId)).length;
    expect(report.byOwner.find((o) => o.ownerUserId === 'owner-6')).toMatchObject({ officerName: null, groups: placedOf6 });
    expect(report.byOwner.find((o) => o.ownerUserId === 'owner-1')!.officerName).toBe('民警1');
    expect(report.byOwner.every((o) => o.villages.length <= 8 && o.villageCount >= o.villages.length)).toBe(true);

    const groups = await GroupModel.find({ channelKind: 'wecom_group' }).lean();
    expect(groups).toHaveLength(597);
    for (const group of groups) {
      const chat = chats.find((c) => c.name === group.name && c.village === group.regionCode);
      expect(chat, group.name).toBeDefined();
      groupOf.set(chat!.chatId, String(group._id));
      expect(group.memberCount).toBe(chat!.residents); // external members only
      const n = Number(chat!.owner.slice(-1));
      expect(group.officerName).toBe(n <= 5 ? `民警${n}` : null);
    }

    // Picked by hand once; kept by every later sync.
    const pick = await ok(
      await w.t.request('POST', `/api/regions/${COUNTY}/wecom-groups/${twinChats[0]}/village`, w.t.adminToken, {
        villageCode: villages[5]!.code,
      }),
    );
    groupOf.set(twinChats[0]!, String(pick.groupId));
    const wrong = await w.t.request('POST', `/api/regions/${COUNTY}/wecom-groups/${twinChats[1]}/village`, w.t.adminToken, {
      villageCode: '440111002003',
    });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().message).toContain('不是本县');
  }, 120_000);

  it('a later sync refreshes member counts and reports groups that left or changed owner', async () => {
    const [left, moved, grown] = [chats[10]!, chats[11]!, chats[12]!];
    double.removeChat(CORP, left.chatId);
    double.addChat(CORP, { chatId: moved.chatId, name: moved.name, owner: 'owner-4', members: members(moved) });
    double.addChat(CORP, { chatId: grown.chatId, name: grown.name, owner: grown.owner, members: members({ ...grown, residents: 99 }) });
    const report = (await ok(await w.t.request('POST', `/api/regions/${COUNTY}/wecom-sync`, w.t.adminToken))) as unknown as {
      created: number;
      left: { chatId: string }[];
      ownerChanged: { chatId: string; from: string; to: string }[];
      ambiguous: { chatId: string }[];
    };
    expect(report.left.map((l) => l.chatId)).toEqual([left.chatId]);
    expect(report.ownerChanged).toEqual([{ chatId: moved.chatId, name: moved.name, from: moved.owner, to: 'owner-4' }]);
    expect(report.created).toBe(0);
    expect(report.ambiguous).toHaveLength(2); // the picked one is placed
    expect((await GroupModel.findById(groupOf.get(left.chatId)).lean())!.active).toBe(false);
    expect((await GroupModel.findById(groupOf.get(grown.chatId)).lean())!.memberCount).toBe(99);
    expect((await GroupModel.findById(groupOf.get(moved.chatId)).lean())!.officerName).toBe('民警4');
    const last = await ok(await w.t.request('GET', `/api/regions/${COUNTY}/wecom-sync`, w.t.adminToken));
    expect(last.left).toEqual(report.left);
    // The moved group stays with owner 4 (at WeCom and here alike): the runs below take their
    // groups from village 20 on (`groupsOf`), never chats 10–12, so no third sync of the 601
    // chats is needed to move it back.
  }, 120_000);

  /** Groups of an owner that are placed and active, from village `from` on. */
  const groupsOf = (owner: string, count: number, from = 20) =>
    chats
      .filter((c, i) => i >= from * 3 && c.owner === owner && groupOf.has(c.chatId))
      .slice(0, count)
      .map((c) => ({ chatId: c.chatId, groupId: groupOf.get(c.chatId)! }));

  it('a run to three owners: one confirms at once, one after an hour (reminded), one never (escalated, then reported)', async () => {
    double.reset();
    const a = groupsOf('owner-1', 4);
    const b = groupsOf('owner-2', 3);
    const c = groupsOf('owner-3', 2);
    double.ownerConfirms('owner-1', 0);
    double.ownerConfirms('owner-2', 'never');
    double.ownerConfirms('owner-3', 'never');
    const noticeId = await approvedNotice(w, { title: '六月防范电信诈骗' });
    const campaignId = await approvedCampaign(w, {
      title: '六月客户群防诈宣传',
      noticeId,
      audience: audienceOf([], [...a, ...b, ...c].map((g) => g.groupId)),
      schedule: { kind: 'now' },
    });
    await runUntilIdle(w);
    const items = await campaignItems(campaignId);
    expect(items.map((i) => i.status)).toEqual(Array(9).fill('awaiting'));
    expect(double.tasks()).toHaveLength(0); // nothing at WeCom while the owners' groups still arrive

    // The token expired meanwhile: refreshed, and each owner's task made exactly once.
    double.expireTokens();
    clock.advance(MINUTE + 1);
    expect((await tick()).created).toBe(3);
    expect((await tick()).created).toBe(0);
    const tasks = double.tasks();
    expect(tasks.map((t) => t.sender).sort()).toEqual(['owner-1', 'owner-2', 'owner-3']);
    expect(tasks.find((t) => t.sender === 'owner-1')!.chatIds.sort()).toEqual(a.map((g) => g.chatId).sort());
    expect(double.calls.filter((call) => call.api === 'add_msg_template')).toHaveLength(4); // one refused for its token
    expect(double.calls.filter((call) => call.api === 'gettoken')).toHaveLength(1); // the cached one had expired

    // The first poll finds owner 1's groups sent; the deliveries become sent with WeCom's time.
    clock.advance(MINUTE);
    await tick();
    await runUntilIdle(w);
    const sentAt = new Date(clock.now().getTime() - MINUTE).toISOString().slice(0, 16);
    let now = await campaignItems(campaignId);
    for (const g of a) {
      const item = now.find((i) => i.groupId === g.groupId)!;
      expect(item.status).toBe('sent');
      expect(item.sentAt!.toISOString().slice(0, 16)).toBe(sentAt);
    }
    expect(now.filter((i) => i.status === 'awaiting')).toHaveLength(5);

    // Digests name the task: 去企业微信群发助手确认.
    await w.t.ctx.notifier.tick();
    const digest = postsTo(ownerRobots['owner-2']!);
    expect(digest).toHaveLength(1);
    expect(digest[0]).toContain('去企业微信群发助手确认');
    expect(digest[0]).toContain('企业微信客户群');
    expect(postsTo(ownerRobots['owner-1']!)).toHaveLength(0); // all sent before the digest was due

    // 30 minutes on: the reminder, through WeCom (remind_groupmsg_send) and the officer's robot.
    clock.advance(30 * MINUTE);
    await tick();
    await w.t.ctx.notifier.tick();
    expect(double.tasks().find((t) => t.sender === 'owner-2')!.reminders).toBe(1);
    expect(double.tasks().find((t) => t.sender === 'owner-3')!.reminders).toBe(1);
    expect(postsTo(ownerRobots['owner-2']!)[1]).toContain('【提醒】');

    // An hour after the task: owner 2 sends.
    clock.advance(28 * MINUTE);
    expect(double.confirm('owner-2')).toBe(1);
    clock.advance(MINUTE);
    await tick();
    await runUntilIdle(w);
    now = await campaignItems(campaignId);
    for (const g of b) expect(now.find((i) => i.groupId === g.groupId)!.status).toBe('sent');

    // Another period: owner 3's superior is told; owner 2's groups are done and not escalated.
    clock.advance(2 * MINUTE);
    await tick();
    await w.t.ctx.notifier.tick();
    const escalations = postsTo(chiefRobot);
    expect(escalations).toHaveLength(1);
    expect(escalations[0]).toContain('民警3');
    for (const g of c) expect(escalations[0]).toContain(chats.find((x) => x.chatId === g.chatId)!.name);
    const steps = (await ok(await w.t.request('GET', `/api/campaigns/${campaignId}/notifications`, w.t.adminToken))) as unknown as {
      kind: string;
      officerName: string;
      detail: string | null;
    }[];
    expect(steps.filter((s) => s.kind === 'reminder').map((s) => s.detail)).toContain('已通过企业微信再次提醒群主（1 个群发任务）');

    // Three days on, the task is closed and its groups are reported with the reason.
    clock.advance(3 * 24 * 60 * MINUTE);
    await tick();
    await runUntilIdle(w);
    now = await campaignItems(campaignId);
    for (const g of c) {
      const item = now.find((i) => i.groupId === g.groupId)!;
      expect(item.status).toBe('failed');
      expect(item.lastError).toContain('未在企业微信群发助手确认发送');
    }
    const report = (await ok(await w.t.request('GET', `/api/campaigns/${campaignId}/wecom-tasks`, w.t.adminToken))) as unknown as {
      ownerUserId: string;
      state: string;
      groups: { state: string }[];
    }[];
    expect(report.map((r) => [r.ownerUserId, r.state]).sort()).toEqual([
      ['owner-1', 'sent'],
      ['owner-2', 'sent'],
      ['owner-3', 'closed'],
    ]);
    // Exactly once to each group that was sent; never to owner 3's.
    for (const g of [...a, ...b]) expect(double.delivered({ chatId: g.chatId })).toHaveLength(1);
    for (const g of c) expect(double.delivered({ chatId: g.chatId })).toHaveLength(0);
    // Reach counts them like robot groups: sent = reached.
    const progress = await ok(await w.t.request('GET', `/api/campaigns/${campaignId}/progress`, w.t.adminToken));
    expect(progress).toMatchObject({ sent: 7, failed: 2 });
  }, 120_000);

  it('a retraction mid-run cancels the unsent task, and the follow-up goes to exactly the groups WeCom reported sent', async () => {
    double.reset();
    clock.advance(24 * 60 * MINUTE);
    const a = groupsOf('owner-1', 3, 40);
    const b = groupsOf('owner-2', 3, 40);
    double.ownerConfirms('owner-1', 0);
    double.ownerConfirms('owner-2', 'never');
    const noticeId = await approvedNotice(w, { title: '协查通报：嫌疑人乙' });
    const campaignId = await approvedCampaign(w, {
      title: '协查通报客户群',
      noticeId,
      audience: audienceOf([], [...a, ...b].map((g) => g.groupId)),
      schedule: { kind: 'now' },
    });
    await runUntilIdle(w);
    clock.advance(MINUTE + 1);
    await tick();
    clock.advance(MINUTE);
    await tick(); // owner 1's results are in
    const correction = await approvedNotice(w, { title: '更正：协查通报有误' });
    const retract = await ok(
      await w.t.request('POST', `/api/campaigns/${campaignId}/retract`, w.editor, { followUpNoticeId: correction }),
    );
    const followUp = (retract.followUp as { id: string }).id;
    await tick(); // the stop reaches WeCom
    expect(double.tasks().find((t) => t.sender === 'owner-2')!.status).toBe('cancelled');
    double.confirm('owner-2'); // too late: the cancelled task sends nothing
    for (const g of b) expect(double.delivered({ chatId: g.chatId })).toHaveLength(0);
    await runUntilIdle(w);
    const items = await campaignItems(campaignId);
    for (const g of a) expect(items.find((i) => i.groupId === g.groupId)!.status).toBe('sent');
    for (const g of b) {
      const item = items.find((i) => i.groupId === g.groupId)!;
      expect(item.status).toBe('skipped');
      expect(item.lastError).toContain('群发任务已取消');
    }
    expect((await w.t.request('POST', `/api/campaigns/${followUp}/approve`, w.reviewer)).statusCode).toBe(200);
    await runUntilIdle(w);
    await runUntilIdle(w);
    const followed = (await campaignItems(followUp)).map((i) => i.groupId).sort();
    expect(followed).toEqual(a.map((g) => g.groupId).sort());
  }, 120_000);

  it('the receive cap: over-cap groups are shown in the totals before approval and refused with the reason', async () => {
    double.reset();
    clock.advance(24 * 60 * MINUTE);
    const groups = groupsOf('owner-4', 3, 60);
    const [full, fine, elsewhere] = groups as [(typeof groups)[0], (typeof groups)[0], (typeof groups)[0]];
    // This month `full` already had June's 30 sends through us; `elsewhere` had 30 from others.
    await WecomItemModel.insertMany(
      Array.from({ length: 30 }, (_, n) => ({
        _id: `history-${n}/${full.groupId}`,
        occurrenceId: `history-${n}`,
        campaignId: 'history',
        countyCode: COUNTY,
        ownerUserId: 'owner-4',
        chatId: full.chatId,
        groupId: full.groupId,
        groupName: 'x',
        regionPath: [],
        period: '2026-06',
        state: 'sent',
        createdAt: new Date('2026-06-01T03:00:00Z'),
      })),
    );
    // Written straight into the items, as an install from before the cap list left them: listed once at start.
    await BackfillModel.deleteOne({ _id: 'wecom-group-cap-sends' });
    await buildWecomCapSends(clock.now());
    for (let n = 0; n < 30; n++) double.receivedElsewhere(elsewhere.chatId, new Date('2026-06-02T03:00:00Z'));
    const audience = audienceOf([], groups.map((g) => g.groupId));
    const preview = await ok(await w.t.request('POST', '/api/audience/preview', w.editor, audience));
    expect(preview).toMatchObject({ wecomOverCap: 1 });
    expect(preview.capWarning).toContain('这次推送将有 1 个群超出本月接收上限');
    double.ownerConfirms('owner-4', 0);
    const noticeId = await approvedNotice(w, { title: '防范养老诈骗' });
    const created = await ok(
      await w.t.request('POST', '/api/campaigns', w.editor, { title: '养老防诈', noticeId, audience, schedule: { kind: 'now' } }),
      201,
    );
    expect(created.audienceSummary).toMatchObject({ wecomOverCap: 1 });
    await ok(await w.t.request('POST', `/api/campaigns/${created.id}/submit`, w.editor));
    await ok(await w.t.request('POST', `/api/campaigns/${created.id}/approve`, w.reviewer));
    await runUntilIdle(w);
    clock.advance(MINUTE + 1);
    await tick();
    clock.advance(MINUTE);
    await tick();
    await runUntilIdle(w);
    const items = await campaignItems(created.id);
    const of = (g: { groupId: string }) => items.find((i) => i.groupId === g.groupId)!;
    expect(of(full).status).toBe('failed');
    expect(of(full).lastError).toContain('达到企业微信接收上限（30 次）');
    expect(double.tasks()[0]!.chatIds).not.toContain(full.chatId);
    expect(of(fine).status).toBe('sent');
    expect(of(elsewhere).status).toBe('failed');
    expect(of(elsewhere).lastError).toContain('接收上限');
    expect(double.delivered({ chatId: elsewhere.chatId })).toHaveLength(0);
  }, 120_000);
  it('a pause cancels the owner’s unsent task and a resume makes a new one for the same groups, each sent once', async () => {
    double.reset();
    clock.advance(24 * 60 * MINUTE);
    const groups = groupsOf('owner-5', 3, 80);
    double.ownerConfirms('owner-5', 'never');
    const noticeId = await approvedNotice(w, { title: '防范冒充客服退款' });
    const campaignId = await approvedCampaign(w, {
      title: '客服退款防诈',
      noticeId,
      audience: audienceOf([], groups.map((g) => g.groupId)),
      schedule: { kind: 'now' },
    });
    await runUntilIdle(w);
    clock.advance(MINUTE + 1);
    expect((await tick()).created).toBe(1);
    const first = double.tasks()[0]!;
    expect(first.chatIds.sort()).toEqual(groups.map((g) => g.chatId).sort());

    await ok(await w.t.request('POST', `/api/campaigns/${campaignId}/pause`, w.editor));
    await tick(); // the pause reaches WeCom: cancelled, the groups wait in the queue
    expect(double.tasks().find((t) => t.msgid === first.msgid)!.status).toBe('cancelled');
    expect(double.confirm('owner-5', first.msgid)).toBe(0); // the cancelled task sends nothing
    clock.advance(2 * MINUTE);
    expect((await tick()).created).toBe(0); // paused: no new task
    expect((await campaignItems(campaignId)).map((i) => i.status)).toEqual(Array(3).fill('awaiting'));

    await ok(await w.t.request('POST', `/api/campaigns/${campaignId}/resume`, w.editor));
    await runUntilIdle(w);
    clock.advance(MINUTE + 1);
    expect((await tick()).created).toBe(1);
    const tasks = double.tasks();
    expect(tasks).toHaveLength(2);
    const second = tasks.find((t) => t.msgid !== first.msgid)!;
    expect(second.chatIds.sort()).toEqual(first.chatIds.sort());
    expect(double.confirm('owner-5', second.msgid)).toBe(1);
    clock.advance(MINUTE);
    await tick();
    await runUntilIdle(w);
    const items = await campaignItems(campaignId);
    expect(items.map((i) => i.status)).toEqual(Array(3).fill('sent'));
    for (const g of groups) expect(double.delivered({ chatId: g.chatId })).toHaveLength(1);
    const report = (await ok(await w.t.request('GET', `/api/campaigns/${campaignId}/wecom-tasks`, w.t.adminToken))) as unknown as {
      state: string;
    }[];
    expect(report.map((r) => r.state).sort()).toEqual(['cancelled', 'sent']);
  }, 120_000);

  /** Moves the clock on to the next hh:mm in Shanghai (UTC+8). */
  const advanceToShanghai = (hour: number, minute = 0) => {
    const now = clock.now().getTime();
    const day = 24 * 60 * MINUTE;
    const target = (((hour - 8 + 24) % 24) * 60 + minute) * MINUTE;
    const sinceMidnightUtc = now % day;
    clock.advance((target - sinceMidnightUtc + day) % day || day);
  };

  it('quiet hours hold a normal run’s task until morning; an urgent run’s task is made at once', async () => {
    double.reset();
    advanceToShanghai(22, 30);
    const normal = groupsOf('owner-1', 2, 100);
    const urgent = groupsOf('owner-2', 2, 100);
    double.ownerConfirms('owner-1', 0);
    double.ownerConfirms('owner-2', 0);
    const noticeId = await approvedNotice(w, { title: '夜间防盗提醒' });
    const normalRun = await approvedCampaign(w, {
      title: '夜间防盗（普通）',
      noticeId,
      audience: audienceOf([], normal.map((g) => g.groupId)),
      schedule: { kind: 'now' },
    });
    const urgentRun = await approvedCampaign(w, {
      title: '夜间协查（紧急）',
      noticeId,
      audience: audienceOf([], urgent.map((g) => g.groupId)),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    await runUntilIdle(w);
    clock.advance(MINUTE + 1);
    await tick();
    // Only the urgent run's owner has a task at 22:31; the normal run's groups wait.
    expect(double.tasks().map((t) => t.sender)).toEqual(['owner-2']);
    expect((await campaignItems(normalRun)).filter((i) => i.status === 'sent')).toHaveLength(0);

    // 06:59: still quiet.
    advanceToShanghai(6, 58);
    await runUntilIdle(w);
    clock.advance(MINUTE + 1);
    await tick();
    expect(double.tasks().filter((t) => t.sender === 'owner-1')).toHaveLength(0);
    // 07:00, the end of quiet hours: the normal run's groups reach WeCom as one task.
    advanceToShanghai(7, 0);
    await runUntilIdle(w);
    clock.advance(MINUTE + 1);
    await tick();
    await runUntilIdle(w);
    clock.advance(MINUTE + 1);
    await tick();
    const morning = double.tasks().filter((t) => t.sender === 'owner-1');
    expect(morning).toHaveLength(1);
    expect(morning[0]!.chatIds.sort()).toEqual(normal.map((g) => g.chatId).sort());
    clock.advance(MINUTE);
    await tick();
    await runUntilIdle(w);
    expect((await campaignItems(normalRun)).map((i) => i.status)).toEqual(['sent', 'sent']);
    expect((await campaignItems(urgentRun)).map((i) => i.status)).toEqual(['sent', 'sent']);
  }, 120_000);
});

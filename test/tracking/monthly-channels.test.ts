// The monthly table shows the channel (issue 24, build 6): each township's 发送消息数 by the
// channel it went through — robots (企业微信), officers forwarding by hand (人工转发) and WeCom
// customer groups (企业微信客户群, counted like robot groups: sent = reached) — with 合计 equal
// to the table's own totals, over a mixed run: robot groups sent, manual tasks confirmed and
// awaiting, customer groups sent, awaiting their owner and refused over the receive cap.
// Against the WeCom double, the real engine, roll-ups and HTTP; fixed clock. Also: roll-ups
// written in the layout before the channel (layout 2) are rebuilt by the sweep, so an
// existing install gets the channel figures.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupModel } from '../../src/audience/model.js';
import { CustomerGroupDouble } from '../../src/channels/doubles/wecom-customer-groups.js';
import { buildWecomCapSends } from '../../src/channels/wecom-group/cap-sends.js';
import { WecomItemModel } from '../../src/channels/wecom-group/model.js';
import { BackfillModel } from '../../src/db/backfills.js';
import { collectionChanged } from '../../src/db/versions.js';
import { fixedClock } from '../../src/lib/clock.js';
import { RegionModel } from '../../src/regions/model.js';
import { COUNTY_YEARS_LOG } from '../../src/tracking/kept-county-years.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { forgetMonthsReady, MONTHS_BACKFILL } from '../../src/tracking/reach-months.js';
import { STATE_ID } from '../../src/tracking/rollup-lease.js';
import {
  ReachCountyYearModel,
  ReachLedgerModel,
  ReachMonthModel,
  RollupStateModel,
} from '../../src/tracking/rollup-model.js';
import { ADMIN_PASSWORD } from '../helpers/app.js';
import {
  approvedCampaign,
  approvedNotice,
  audienceOf,
  campaignItems,
  type DeliveryWorld,
  manualGroup,
  runUntilIdle,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

// 10:00 in Shanghai, a Monday in June: outside quiet hours.
const clock = fixedClock('2026-06-01T02:00:00.000Z');
const MINUTE = 60_000;
const CORP = 'wwmonthlychannels0001';
const SECRET = 'monthly-channels-customer-contact-secret';
const COUNTY = TREE.countyA.code;
const TOWNSHIP2 = { code: '440106002', name: '石牌街道' };
const VILLAGE2 = { code: '440106002001', name: '石牌村' };
const CHATS = [
  { chatId: 'wrMonthly0001', name: '华工社区警民联系群', owner: 'owner-1', residents: 30 }, // sent
  { chatId: 'wrMonthly0002', name: '华工社区平安群', owner: 'owner-1', residents: 20 }, // over the cap
  { chatId: 'wrMonthly0003', name: '石牌村反诈宣传群', owner: 'owner-2', residents: 25 }, // owner never sends
  { chatId: 'wrMonthly0004', name: '石牌村警民联系群', owner: 'owner-1', residents: 15 }, // sent
];

const double = new CustomerGroupDouble({ clock });

interface Monthly {
  channels: { channel: string; channelLabel: string }[];
  rows: { townshipCode: string; townshipName: string; messages: number; channelMessages: number[] }[];
  total: { messages: number; channelMessages: number[] };
  categories: { messages: number; channelMessages: number[] }[];
}

/** Messages (sent or confirmed) per township and channel, straight from the delivery items. */
async function rawByTownshipAndChannel(): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>();
  for (const batch of await DeliveryBatchModel.find({}).lean()) {
    const row = out.get(batch.townshipCode) ?? {};
    for (const item of batch.items) {
      const reached = item.status === 'sent' || item.status === 'confirmed';
      row[item.channel] = (row[item.channel] ?? 0) + (reached ? 1 : 0);
    }
    out.set(batch.townshipCode, row);
  }
  return out;
}

describe('the monthly table by channel', () => {
  let w: DeliveryWorld;
  const groupOf = new Map<string, string>();

  const ok = async (response: { statusCode: number; body: string; json(): unknown }, status = 200) => {
    expect(response.statusCode, response.body).toBe(status);
    return response.json() as Record<string, unknown> & { id: string };
  };
  const monthly = async () =>
    (await ok(await w.t.request('GET', '/api/reach/monthly?period=2026-06', w.t.adminToken))) as unknown as Monthly;
  const tick = () => w.t.ctx.wecomGroups.tick();

  beforeAll(async () => {
    await double.start();
    double.addCorp(CORP, SECRET);
    w = await startDeliveryWorld({ clock, env: { WECOM_API_BASE_URL: double.url, TOKEN_TTL_HOURS: '720' } });
    await RegionModel.insertMany([
      {
        ...TOWNSHIP2,
        level: 'township',
        parentCode: COUNTY,
        regionPath: ['000000', '440000', '440100', COUNTY, TOWNSHIP2.code],
      },
      {
        ...VILLAGE2,
        level: 'village',
        parentCode: TOWNSHIP2.code,
        regionPath: ['000000', '440000', '440100', COUNTY, TOWNSHIP2.code, VILLAGE2.code],
      },
    ]);
    for (const chat of CHATS) {
      double.addChat(CORP, {
        chatId: chat.chatId,
        name: chat.name,
        owner: chat.owner,
        members: [
          { userid: chat.owner, type: 1 },
          ...Array.from({ length: chat.residents }, (_, r) => ({ userid: `wm${chat.chatId}${r}`, type: 2 as const })),
        ],
      });
    }
    for (const [n, owner] of ['owner-1', 'owner-2'].entries()) {
      const phone = `1390000300${n}`;
      const created = await ok(
        await w.t.request('POST', '/api/users', w.t.adminToken, {
          username: `u${phone}`,
          displayName: `民警${n + 1}`,
          password: `${ADMIN_PASSWORD}-${phone}`,
          role: 'officer',
          regionCode: COUNTY,
          phone,
        }),
        201,
      );
      await ok(
        await w.t.request('PUT', `/api/users/${created.id}/wecom-userid`, w.t.adminToken, { wecomUserId: owner }),
      );
    }
    await ok(
      await w.t.request('PUT', `/api/regions/${COUNTY}/wecom-app`, w.t.adminToken, { corpId: CORP, secret: SECRET }),
    );
    await ok(await w.t.request('POST', `/api/regions/${COUNTY}/wecom-sync`, w.t.adminToken));
    for (const group of await GroupModel.find({ channelKind: 'wecom_group' }).lean()) {
      groupOf.set(CHATS.find((c) => c.name === group.name)!.chatId, String(group._id));
    }
    expect(groupOf.size).toBe(CHATS.length);
  }, 120_000);
  afterAll(async () => {
    await w?.close();
    await double.close();
  });

  it('per channel, each township’s 发送消息数 equals the raw counts, and the channels add up to the totals', async () => {
    const robots = [...(await wecomGroups(w, 1)), ...(await wecomGroups(w, 1, VILLAGE2.code))];
    const officer = { name: '王警官', phone: '13900003009' };
    const manual = [
      await manualGroup(w, '石牌村一队群', { regionCode: VILLAGE2.code, officer }),
      await manualGroup(w, '石牌村二队群', { regionCode: VILLAGE2.code, officer }),
    ];
    // 华工社区平安群 had June's 30 sends already: over its receive cap.
    const full = groupOf.get('wrMonthly0002')!;
    await WecomItemModel.insertMany(
      Array.from({ length: 30 }, (_, n) => ({
        _id: `history-${n}/${full}`,
        occurrenceId: `history-${n}`,
        campaignId: 'history',
        countyCode: COUNTY,
        ownerUserId: 'owner-1',
        chatId: 'wrMonthly0002',
        groupId: full,
        groupName: '华工社区平安群',
        regionPath: [],
        period: '2026-06',
        state: 'sent',
        createdAt: new Date('2026-06-01T01:00:00Z'),
      })),
    );
    // Written straight into the items, as an install from before the cap list left them: listed once at start.
    await BackfillModel.deleteOne({ _id: 'wecom-group-cap-sends' });
    await buildWecomCapSends(clock.now());
    double.ownerConfirms('owner-1', 0);
    double.ownerConfirms('owner-2', 'never');
    const noticeId = await approvedNotice(w, { title: '六月防范电信诈骗' });
    const campaignId = await approvedCampaign(w, {
      title: '六月各渠道防诈宣传',
      noticeId,
      audience: audienceOf([], [...robots.map((g) => g.id), ...manual, ...groupOf.values()]),
      schedule: { kind: 'now' },
    });
    await runUntilIdle(w);
    clock.advance(MINUTE + 1);
    await tick();
    clock.advance(MINUTE);
    await tick();
    await runUntilIdle(w);
    // One officer task confirmed, one still awaiting.
    const [task] = (await w.t.request('GET', '/api/manual-tasks', w.t.adminToken)).json() as { link: string }[];
    const url = new URL(task!.link);
    await ok(await w.t.request('POST', `${url.pathname.replace('/task/', '/api/manual-tasks/')}/confirm${url.search}`));
    await w.scheduler.sweep();
    await runUntilIdle(w);

    const statuses = (await campaignItems(campaignId)).map((i) => `${i.channel}:${i.status}`).sort();
    expect(statuses).toEqual([
      'manual:awaiting',
      'manual:confirmed',
      'wecom:sent',
      'wecom:sent',
      'wecom_group:awaiting',
      'wecom_group:failed',
      'wecom_group:sent',
      'wecom_group:sent',
    ]);

    await w.t.ctx.tracking.rollups.refreshAll('test');
    const table = await monthly();
    expect(table.channels).toEqual([
      { channel: 'wecom', channelLabel: '企业微信' },
      { channel: 'manual', channelLabel: '人工转发' },
      { channel: 'wecom_group', channelLabel: '企业微信客户群' },
    ]);
    const raw = await rawByTownshipAndChannel();
    expect(table.rows.map((r) => r.townshipCode).sort()).toEqual([...raw.keys()].sort());
    for (const row of table.rows) {
      expect(row.channelMessages, row.townshipName).toEqual(
        table.channels.map((c) => raw.get(row.townshipCode)![c.channel] ?? 0),
      );
      expect(row.channelMessages.reduce((a, b) => a + b, 0)).toBe(row.messages);
    }
    // 华工社区: a robot and a customer group; 石牌村: a robot, the confirmed task, a customer group.
    expect(table.rows.find((r) => r.townshipCode === TREE.townshipA.code)!.channelMessages).toEqual([1, 0, 1]);
    expect(table.rows.find((r) => r.townshipCode === TOWNSHIP2.code)!.channelMessages).toEqual([1, 1, 1]);
    expect(table.total).toMatchObject({ messages: 5, channelMessages: [2, 1, 2] });
    const categoryTotal = table.channels.map((_, i) => table.categories.reduce((n, c) => n + c.channelMessages[i]!, 0));
    expect(categoryTotal).toEqual(table.total.channelMessages);
  }, 120_000);

  it('roll-ups of the layout before the channel are rebuilt by the sweep, with the same figures and the channels', async () => {
    await w.t.ctx.tracking.rollups.sweep('test');
    await w.t.ctx.tracking.rollups.refreshAll('test');
    const before = await monthly();
    // An existing install: its documents hold no channel figures and its state says layout 2.
    const strip = (packed: unknown[]) => packed.map((entry) => (entry as unknown[]).slice(0, -1));
    for (const doc of await ReachCountyYearModel.find({}).lean()) {
      const cells = JSON.parse(doc.cells as string) as { cells: unknown[] };
      await ReachCountyYearModel.collection.updateOne(
        { _id: doc._id as never },
        { $set: { cells: JSON.stringify({ ...cells, cells: strip(cells.cells) }) } },
      );
    }
    for (const doc of await ReachLedgerModel.find({}).lean()) {
      await ReachLedgerModel.collection.updateOne(
        { _id: doc._id as never },
        { $set: { parts: JSON.stringify(strip(JSON.parse(doc.parts as string) as unknown[])) } },
      );
    }
    // Nor any month summary (reach-months.ts came later): its tables read the county-years.
    await ReachMonthModel.deleteMany({});
    await BackfillModel.deleteOne({ _id: MONTHS_BACKFILL });
    forgetMonthsReady();
    // Written around the fold: as a process started on that install would, keep none of them.
    await collectionChanged(COUNTY_YEARS_LOG);
    const state = await RollupStateModel.collection.updateOne({ _id: STATE_ID as never }, { $set: { layout: 2 } });
    expect(state.modifiedCount).toBe(1);
    // Long after the batches were written: only the layout makes the sweep look at them again.
    clock.advance(60 * MINUTE);
    const old = await monthly();
    expect(old.channels).toEqual([]);
    expect(old.total.messages).toBe(before.total.messages);

    await w.t.ctx.tracking.rollups.sweep('test');
    await w.t.ctx.tracking.rollups.refreshAll('test');
    expect(await monthly()).toEqual(before);
  }, 120_000);
});

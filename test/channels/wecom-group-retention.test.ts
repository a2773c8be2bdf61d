// Retention of the WeCom customer-group service's lists (issue 25, docs/retention.md): a
// group's cap list of a period that is over (`wecomgroupcapsends` `<group>|<period>`) is
// deleted by retention's daily sweep, since the cap reads only the present period's
// (channels/wecom-group/cap-sends.ts); the present periods' lists stay and every cap decision
// and the run report are exactly as before. The campaigns' task lists
// (`wecomgroupcampaigntasks` `c:<campaign>|<n>`) stay: the run report reads them for ever. A
// sweep killed between its delete commands leaves only lists nobody reads, deleted by the
// next. And an officer task's campaign state (notifications/task-state.ts, read on every task
// read) reads campaigns and notices one `_id` each, not `{_id: {$in}}` (a scan on FerretDB).
// Real FerretDB, the WeCom double, command monitoring.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CampaignModel } from '../../src/campaigns/model.js';
import { CustomerGroupDouble } from '../../src/channels/doubles/wecom-customer-groups.js';
import { campaignTaskIds, WecomCampaignTasksModel } from '../../src/channels/wecom-group/campaign-tasks.js';
import { addCapSends, WecomCapSendsModel } from '../../src/channels/wecom-group/cap-sends.js';
import { WecomAppModel } from '../../src/channels/wecom-group/model.js';
import { Retention } from '../../src/engine/retention.js';
import { fixedClock } from '../../src/lib/clock.js';
import { campaignTaskStates } from '../../src/notifications/task-state.js';
import { ADMIN_PASSWORD } from '../helpers/app.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';
import {
  approvedNotice,
  type DeliveryWorld,
  startDeliveryWorld,
  urgentNowCampaign,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

// June 30, 10:00 in Shanghai: outside quiet hours, the last day of the month.
const clock = fixedClock('2026-06-30T02:00:00.000Z');
const DAY = 24 * 3600_000;
const CORP = 'wwcountytianhe0003';
const SECRET = 'tianhe-customer-contact-app-secret-03';
const COUNTY = TREE.countyA.code;
const OWNER = 'owner-r';
const CHATS = ['wrRetChat0001', 'wrRetChat0002', 'wrRetChat0003'];
const GROUPS = CHATS.map((_, i) => `grp-ret-${i}`);

const double = new CustomerGroupDouble({ clock });

describe('retention of the WeCom customer-group lists', () => {
  let w: DeliveryWorld;
  let noticeId: string;
  let robot: { id: string };
  const wecom = () => w.t.ctx.wecomGroups;
  const retention = () => new Retention(clock, { keepDays: 7, everyMs: 60_000 });
  const capIds = async () =>
    (await WecomCapSendsModel.find({}, { _id: 1 }).lean<{ _id: string }[]>()).map((d) => d._id).sort();
  // (Straight into the app's settings: the test's sessions end while its clock moves days.)
  const setPolicy = async (capPolicy: string) => {
    expect((await WecomAppModel.updateOne({ _id: COUNTY }, { $set: { capPolicy } })).matchedCount).toBe(1);
  };
  /** The cap figures of the present period: each group's count and how many are over. */
  const capFigures = async () => {
    const { limit, words, used } = await wecom().capUsage(COUNTY, GROUPS);
    const over = await wecom().overCap(GROUPS.map((groupId) => ({ groupId, countyCode: COUNTY })));
    return { limit, words, used: GROUPS.map((g) => used.get(g) ?? 0), over };
  };

  /** A run of a campaign to the owner's three groups: queued, its task created, sent by the owner, recorded. */
  async function run(title: string | null): Promise<string> {
    // (Without a title: an id of a campaign made earlier, its document not needed to queue.)
    const campaignId = title
      ? await urgentNowCampaign(w, noticeId, [robot], title)
      : new mongoose.Types.ObjectId().toHexString();
    const runAt = clock.now().toISOString();
    for (const [i, chatId] of CHATS.entries()) {
      const outcome = await wecom().enqueue(
        {
          groupId: GROUPS[i]!,
          groupName: `平安群${i}`,
          regionPath: ['000000', '440000', '440100', COUNTY],
          officer: { name: '民警乙', phone: null },
          credentials: { kind: 'wecom_group', countyCode: COUNTY, chatId, ownerUserId: OWNER },
        },
        {
          type: 'text',
          card: { format: 'text', title: '通告', content: '请注意防范电信诈骗', url: '', pictureUrl: null },
        },
        `${campaignId}@${runAt}/${GROUPS[i]}`,
      );
      expect(outcome.status).toBe('sent');
    }
    clock.advance(61_000);
    await wecom().tick();
    double.confirm(OWNER);
    clock.advance(61_000);
    await wecom().tick();
    return campaignId;
  }

  beforeAll(async () => {
    await double.start();
    double.addCorp(CORP, SECRET);
    for (const chatId of CHATS)
      double.addChat(CORP, {
        chatId,
        name: chatId,
        owner: OWNER,
        members: [
          { userid: OWNER, type: 1 },
          { userid: `wm${chatId}`, type: 2 },
        ],
      });
    w = await startDeliveryWorld({ clock, env: { WECOM_API_BASE_URL: double.url } });
    const app = await w.t.request('PUT', `/api/regions/${COUNTY}/wecom-app`, w.t.adminToken, {
      corpId: CORP,
      secret: SECRET,
    });
    expect(app.statusCode, app.body).toBe(200);
    noticeId = await approvedNotice(w);
    robot = (await wecomGroups(w, 1))[0]!;
  }, 120_000);
  afterAll(async () => {
    await w?.close();
    await double.close();
  });

  it('an officer task’s campaign state reads campaigns and notices one _id each', async () => {
    const first = await urgentNowCampaign(w, noticeId, [robot], '状态一');
    const other = await approvedNotice(w);
    const second = await urgentNowCampaign(w, other, [robot], '状态二');
    await CampaignModel.updateOne({ _id: new mongoose.Types.ObjectId(second) }, { $set: { status: 'paused' } });
    let states = new Map();
    const seen = await commandsDuring(async () => {
      states = await campaignTaskStates([first, second, '0123456789abcdef01234567']);
    });
    expect(states.get(first)).toEqual({ state: 'live' });
    expect(states.get(second)).toEqual({ state: 'paused' });
    expect(states.size).toBe(2);
    const reads = seen.filter((c) => c.collection === 'campaigns' || c.collection === 'notices');
    expect(reads.filter((c) => !c.statements.every(byIdOnly))).toEqual([]);
    expect(reads.map((c) => c.collection).sort()).toEqual([
      'campaigns',
      'campaigns',
      'campaigns',
      'notices',
      'notices',
    ]);
  }, 120_000);

  it('cap lists of periods that are over go in the daily sweep; the present periods’ cap decisions, the run report and the task lists stay exact', async () => {
    // June 30 (a Tuesday in Shanghai): one run counted by the month, one by the week, one by the day.
    await setPolicy('month');
    const monthly = await run('六月月度');
    await setPolicy('week');
    const weekly = await run('本周');
    await setPolicy('day');
    const daily = await run('今天');
    const lists = GROUPS.flatMap((g) => [`${g}|2026-06`, `${g}|2026-06-30`, `${g}|W2026-06-29`]).sort();
    expect(await capIds()).toEqual(lists);
    const campaigns = [monthly, weekly, daily];
    const reports = async () => Promise.all(campaigns.map((c) => wecom().report(c)));
    const reported = await reports();
    expect(reported.map((r) => r.map((t) => [t.state, t.groups.map((g) => g.state)]))).toEqual(
      campaigns.map(() => [['sent', ['sent', 'sent', 'sent']]]),
    );
    const taskLists = await WecomCampaignTasksModel.find({}).sort({ _id: 1 }).lean();
    expect(taskLists.length).toBeGreaterThanOrEqual(3);

    // July 1, 10:00 in Shanghai: June is over there, but not a day past its end in every zone: kept.
    clock.advance(DAY);
    await setPolicy('week');
    const week = await capFigures();
    expect(week).toEqual({ limit: 7, words: '本周', used: [1, 1, 1], over: 0 });
    expect(await retention().runOnce()).toMatchObject({ capLists: 0 });
    expect(await capIds()).toEqual(lists);

    // July 2: the day and the month are over, the week (Monday June 29 to Sunday July 5) is not.
    // The sweep is daily: the next one comes a day after the last.
    clock.advance(DAY);
    const seen = await commandsDuring(async () => {
      expect(await retention().runOnce()).toMatchObject({ capLists: 6 });
    });
    expect(await capIds()).toEqual(GROUPS.map((g) => `${g}|W2026-06-29`).sort());
    // Read once by `_id`s (the ids only), deleted by `_id`.
    const capCommands = seen.filter((c) => c.collection === 'wecomgroupcapsends');
    expect(capCommands.map((c) => c.name)).toEqual(['find', 'delete']);
    expect(capCommands[0]!.projection).toEqual({ _id: 1 });
    expect(capCommands[1]!.statements.every(byIdOnly)).toBe(true);
    // Every figure as before: the week's cap, the reports, the task lists (kept for the report).
    expect(await capFigures()).toEqual(week);
    expect(await reports()).toEqual(reported);
    expect(await WecomCampaignTasksModel.find({}).sort({ _id: 1 }).lean()).toEqual(taskLists);
    for (const c of campaigns) expect((await campaignTaskIds(c)).length).toBe(1);
    const token = await w.t.login('admin', ADMIN_PASSWORD);
    const http = await w.t.request('GET', `/api/campaigns/${monthly}/wecom-tasks`, token);
    expect(http.statusCode, http.body).toBe(200);
    expect(http.json()).toEqual(JSON.parse(JSON.stringify(reported[0])));
    // The month and the day start again from nothing: July's first send goes and is counted.
    await setPolicy('day');
    expect(await capFigures()).toEqual({ limit: 1, words: '今天', used: [0, 0, 0], over: 0 });
    await setPolicy('month');
    expect(await capFigures()).toMatchObject({ limit: 31, used: [0, 0, 0], over: 0 });
    await run(null);
    expect(await capFigures()).toMatchObject({ limit: 31, used: [1, 1, 1], over: 0 });
    expect(await capIds()).toEqual(GROUPS.flatMap((g) => [`${g}|2026-07`, `${g}|W2026-06-29`]).sort());
  }, 180_000);

  it('a sweep killed between its delete commands leaves lists nobody reads; the next deletes them and the cap is unchanged', async () => {
    const stale = Array.from({ length: 25 }, (_, i) => ({
      groupId: `grp-old-${i}`,
      period: '2026-05',
      reference: `old${i}`,
    }));
    const present = await capIds();
    await addCapSends(stale);
    await setPolicy('month');
    const figures = await capFigures();
    clock.advance(DAY); // a day after the last sweep
    const original = WecomCapSendsModel.bulkWrite.bind(WecomCapSendsModel);
    const dies = vi.spyOn(WecomCapSendsModel, 'bulkWrite').mockImplementationOnce((async (
      ops: never,
      options: never,
    ) => {
      await original(ops, options);
      throw new Error('process died');
    }) as never);
    await expect(retention().runOnce()).rejects.toThrow('process died');
    dies.mockRestore();
    const left = (await capIds()).filter((id) => !present.includes(id));
    expect(left).toHaveLength(5);
    expect(left.every((id) => id.endsWith('|2026-05'))).toBe(true);
    expect(await capFigures()).toEqual(figures);
    // The next pass sweeps again (the dead one did not record its sweep).
    expect(await retention().runOnce()).toMatchObject({ capLists: 5 });
    expect(await capIds()).toEqual(present.filter((id) => !id.startsWith('grp-old-')));
    expect(await capFigures()).toEqual(figures);
  }, 120_000);
});

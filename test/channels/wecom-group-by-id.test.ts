// The WeCom customer-group service at province scale reads its items and tasks one `_id` at a
// time (issue 25): a group queued (its receive cap counted with `{groupId: $in, period, state}`,
// now through cap-sends.ts), a task's creation (it read `wecomgroupitems {_id: $in}`), the owner's
// reminder (`wecomgrouptasks {_id: $in, state}`), the run report (`{campaignId}`, now through
// the campaign's task list, channels/wecom-group/campaign-tasks.ts) and the recording of what
// WeCom reports sent. On FerretDB 1.24 every other filter reads the whole collection, which
// keeps every customer-group delivery and task ever made: the commands must not grow with
// other campaigns' tasks (10, then 200). Real FerretDB, the WeCom double, command monitoring.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CustomerGroupDouble } from '../../src/channels/doubles/wecom-customer-groups.js';
import {
  WecomCampaignTasksModel,
  buildWecomCampaignTasks,
  campaignTaskIds,
  listCampaignTasks,
} from '../../src/channels/wecom-group/campaign-tasks.js';
import { WecomItemModel } from '../../src/channels/wecom-group/model.js';
import { BackfillModel } from '../../src/db/backfills.js';
import { fixedClock } from '../../src/lib/clock.js';
import { type SeenCommand, byIdOnly, commandsDuring } from '../helpers/commands.js';
import { type DeliveryWorld, approvedNotice, startDeliveryWorld, urgentNowCampaign, wecomGroups } from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';
import { wecomItem, wecomTask } from '../helpers/wecom-history.js';

// 10:00 in Shanghai: outside quiet hours.
const clock = fixedClock('2026-06-01T02:00:00.000Z');
const CORP = 'wwcountytianhe0002';
const SECRET = 'tianhe-customer-contact-app-secret-02';
const COUNTY = TREE.countyA.code;
const OWNER = 'owner-a';
const CHATS = ['wrByIdChat0001', 'wrByIdChat0002', 'wrByIdChat0003'];
const MODULE = ['wecomgroupitems', 'wecomgrouptasks', 'wecomgroupcampaigntasks', 'wecomgroupcapsends'];

const double = new CustomerGroupDouble({ clock });

/** The module's commands whose statements do not all pick one `_id` (an insert names its documents). */
const notById = (commands: SeenCommand[]) =>
  commands.filter(
    (c) => MODULE.includes(c.collection) && c.name !== 'insert' && !(c.statements.length > 0 && c.statements.every(byIdOnly)),
  );
/** The module's commands by kind and collection, in order. */
const shapes = (commands: SeenCommand[]) =>
  commands.filter((c) => MODULE.includes(c.collection)).map((c) => `${c.name} ${c.collection}`);

describe('the WeCom customer-group service reads items and tasks by _id', () => {
  let w: DeliveryWorld;
  let noticeId: string;
  let robot: { id: string };
  const wecom = () => w.t.ctx.wecomGroups;

  /** Other campaigns' finished tasks and items (each task on its campaign's list, as flush lists it). */
  async function others(n: number, from: number) {
    for (let i = from; i < from + n; i++) {
      await listCampaignTasks(new Map([[`other${i}`, [`other${i}@${i}|440106|owner|1`]]]));
      await wecomTask(`other${i}`, i, i % 2 ? 'sent' : 'closed', clock.now());
      await wecomItem(`other${i}`, i, i % 2 ? 'sent' : 'failed', clock.now());
    }
  }

  /** A run of the campaign to the owner's three groups: queued, then the tick that creates its task. */
  async function run(campaignId: string) {
    const runAt = clock.now().toISOString();
    const enqueuing: SeenCommand[] = [];
    for (const [i, chatId] of CHATS.entries()) {
      const groupId = `grp-${campaignId.slice(-6)}-${i}`;
      let outcome: Awaited<ReturnType<ReturnType<typeof wecom>['enqueue']>> | null = null;
      const seen = await commandsDuring(async () => {
        outcome = await wecom().enqueue(
        {
          groupId,
          groupName: `平安群${i}`,
          regionPath: ['000000', '440000', '440100', COUNTY],
          officer: { name: '民警甲', phone: null },
          credentials: { kind: 'wecom_group', countyCode: COUNTY, chatId, ownerUserId: OWNER },
        },
        { type: 'text', card: { format: 'text', title: '通告', content: '请注意防范电信诈骗', url: '', pictureUrl: null } },
        `${campaignId}@${runAt}/${groupId}`,
        );
      });
      if (i === 0) enqueuing.push(...seen);
      expect(outcome!.status).toBe('sent');
    }
    clock.advance(61_000);
    const creating = await commandsDuring(() => wecom().tick());
    const taskId = `${campaignId}@${runAt}|${COUNTY}|${OWNER}|1`;
    return { enqueuing, creating, taskId };
  }

  beforeAll(async () => {
    await double.start();
    double.addCorp(CORP, SECRET);
    for (const chatId of CHATS)
      double.addChat(CORP, { chatId, name: chatId, owner: OWNER, members: [{ userid: OWNER, type: 1 }, { userid: `wm${chatId}`, type: 2 }] });
    w = await startDeliveryWorld({ clock, env: { WECOM_API_BASE_URL: double.url } });
    const app = await w.t.request('PUT', `/api/regions/${COUNTY}/wecom-app`, w.t.adminToken, { corpId: CORP, secret: SECRET });
    expect(app.statusCode, app.body).toBe(200);
    noticeId = await approvedNotice(w);
    robot = (await wecomGroups(w, 1))[0]!;
  }, 120_000);
  afterAll(async () => {
    await w?.close();
    await double.close();
  });

  it('queueing a group, creating a task, reminding its owner, the run report and the results: by _id, the same commands with 10 or 200 other tasks', async () => {
    const measured: Record<string, SeenCommand[]>[] = [];
    for (const [round, more] of [
      [0, 10],
      [10, 190],
    ] as const) {
      await others(more, round);
      const campaignId = await urgentNowCampaign(w, noticeId, [robot], `群发任务 ${round}`);
      const { enqueuing, creating, taskId } = await run(campaignId);
      expect(double.tasks().filter((t) => t.status === 'unsent').map((t) => t.chatIds.sort())).toEqual([CHATS]);

      let reminded: { reminded: number } = { reminded: 0 };
      const reminding = await commandsDuring(async () => {
        reminded = await wecom().remind([taskId, taskId]);
      });
      expect(reminded.reminded).toBe(1);
      expect(double.tasks().find((t) => t.status === 'unsent')!.reminders).toBe(1);

      let report: Awaited<ReturnType<ReturnType<typeof wecom>['report']>> = [];
      const reporting = await commandsDuring(async () => {
        report = await wecom().report(campaignId);
      });
      expect(report).toHaveLength(1);
      expect(report[0]).toMatchObject({ id: taskId, ownerUserId: OWNER, state: 'open', reminders: 1 });
      expect(report[0]!.groups.map((g) => [g.chatId, g.state])).toEqual(CHATS.map((c) => [c, 'tasked']));
      const http = await w.t.request('GET', `/api/campaigns/${campaignId}/wecom-tasks`, w.t.adminToken);
      expect(http.statusCode, http.body).toBe(200);
      expect(http.json().map((t: { id: string }) => t.id)).toEqual([taskId]);

      // The owner sends: the next look records every group sent (no cap reason needed).
      double.confirm(OWNER);
      clock.advance(61_000);
      const recording = await commandsDuring(() => wecom().tick());
      expect((await wecom().report(campaignId))[0]!.groups.map((g) => g.state)).toEqual(['sent', 'sent', 'sent']);

      for (const [name, commands] of Object.entries({ enqueuing, creating, reminding, reporting, recording }))
        expect(notById(commands), name).toEqual([]);
      measured.push({ enqueuing, creating, reminding, reporting, recording });
    }
    const [small, large] = measured as [Record<string, SeenCommand[]>, Record<string, SeenCommand[]>];
    for (const name of Object.keys(small)) expect(shapes(large[name]!), name).toEqual(shapes(small[name]!));
  }, 180_000);

  it('a listed id with no task (killed between listing and inserting) is skipped; an older install is listed once', async () => {
    const campaignId = await urgentNowCampaign(w, noticeId, [robot], '被中断的创建');
    const { taskId } = await run(campaignId);
    await listCampaignTasks(new Map([[campaignId, [`${campaignId}@never|${COUNTY}|${OWNER}|1`, taskId]]]));
    expect((await wecom().report(campaignId)).map((t) => t.id)).toEqual([taskId]);

    // Written before the lists existed: not on any list until the backfill.
    await wecomTask('older', 1, 'sent', clock.now());
    expect(await wecom().report('older')).toEqual([]);
    await BackfillModel.deleteOne({ _id: 'wecom-group-campaign-tasks' });
    await buildWecomCampaignTasks();
    expect((await wecom().report('older')).map((t) => t.id)).toEqual(['older@1|440106|owner|1']);
    const items = await WecomCampaignTasksModel.countDocuments({});
    await buildWecomCampaignTasks(); // finished once: nothing more
    expect(await WecomCampaignTasksModel.countDocuments({})).toBe(items);
    // A start killed after listing, before marking it finished: listed again, read once.
    await BackfillModel.deleteOne({ _id: 'wecom-group-campaign-tasks' });
    await buildWecomCampaignTasks();
    expect(await campaignTaskIds('older')).toEqual(['older@1|440106|owner|1']);
    expect((await wecom().report('older')).map((t) => t.id)).toEqual(['older@1|440106|owner|1']);
  }, 120_000);

  it('the receive cap counted from the list: a group at its limit refused with the count, a failed send not counted', async () => {
    const app = await w.t.request('PUT', `/api/regions/${COUNTY}/wecom-app`, w.t.adminToken, { corpId: CORP, capPolicy: 'day' });
    expect(app.statusCode, app.body).toBe(200);
    const send = (campaignId: string) =>
      wecom().enqueue(
        {
          groupId: 'grp-capped',
          groupName: '平安群',
          regionPath: ['000000', '440000', '440100', COUNTY],
          officer: null,
          credentials: { kind: 'wecom_group', countyCode: COUNTY, chatId: CHATS[0]!, ownerUserId: OWNER },
        },
        { type: 'text', card: { format: 'text', title: '通告', content: '今天的提醒', url: '', pictureUrl: null } },
        `${campaignId}@${clock.now().toISOString()}/grp-capped`,
      );
    expect((await send('capone')).status).toBe('sent');
    const refused = await send('captwo');
    expect(refused).toMatchObject({ status: 'permanent', code: 'wecom_group_cap' });
    expect((refused as { message: string }).message).toContain('今天已收到 1 次群发');
    expect(await wecom().overCap([{ groupId: 'grp-capped', countyCode: COUNTY }])).toBe(1);
    // The first send failed (as settleItems writes it): no longer counted.
    await WecomItemModel.updateOne({ _id: `capone@${clock.now().toISOString()}/grp-capped` }, { $set: { state: 'failed' } });
    expect(await wecom().overCap([{ groupId: 'grp-capped', countyCode: COUNTY }])).toBe(0);
    expect((await send('capthree')).status).toBe('sent');
  });
});

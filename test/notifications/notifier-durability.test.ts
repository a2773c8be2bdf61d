// The officer path survives a crash (issue 20, defect 2, officer side): a notification step
// left `sending` by a process that died is posted after its lease; one officer whose step
// throws does not stop the others; a confirmation whose process died after its claim is
// finished, so the delivery does not stay `awaiting` for ever.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualConfirmationModel, ManualTaskModel } from '../../src/channels/manual/model.js';
import { fixedClock } from '../../src/lib/clock.js';
import { NotificationStepModel } from '../../src/notifications/model.js';
import { OfficerNotifier, SENDING_LEASE_MS } from '../../src/notifications/notifier.js';
import { activeOfficerFor, activeUserById } from '../../src/notifications/officers.js';
import {
  type DeliveryWorld,
  campaignItems,
  manualGroup,
  pushedNow,
  runUntilIdle,
  startDeliveryWorld,
} from '../helpers/delivery.js';
import { officerWithRobot } from '../helpers/officers.js';

const clock = fixedClock('2026-06-12T02:00:00.000Z'); // 10:00 in Shanghai
const MINUTE = 60_000;

describe('the officer path after a crash', () => {
  let w: DeliveryWorld;
  let seq = 0;

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
  });
  afterAll(() => w.close());

  async function officerWithGroup(name: string) {
    seq += 1;
    const phone = `1350000${String(seq).padStart(4, '0')}`;
    const robot = `durable-${seq}-${Math.random().toString(36).slice(2, 10)}`;
    await officerWithRobot(w, { name, phone, robot, username: `d${phone}` });
    const groupId = await manualGroup(w, `${name}的村群`, { memberCount: 80, officer: { name, phone } });
    return { phone, robot, groupId };
  }

  const posts = (robot: string) => w.doubles.received({ platform: 'wecom', robot });

  const sendTo = (groupIds: string[], title: string) => pushedNow(w, title, groupIds);

  it('when the process died after claiming a digest and before posting it, then the next pass posts it once its lease lapsed', async () => {
    const o = await officerWithGroup('周警官');
    const campaignId = await sendTo([o.groupId], '断点续发测试');
    clock.advance(MINUTE + 1);
    // The process dies right after the claim: the robot answers only after the process is gone.
    const robotsPost = w.t.ctx.channels.adapterFor('wecom');
    const original = robotsPost.send;
    let reached = false;
    robotsPost.send = () => {
      reached = true;
      return new Promise(() => {}); // never answers: the "process" stops here
    };
    void w.t.ctx.notifier.tick();
    await expect.poll(() => reached).toBe(true);
    expect((await NotificationStepModel.findOne({ campaignId, kind: 'digest' }).lean())?.status).toBe('sending');
    robotsPost.send = original;
    expect(posts(o.robot)).toHaveLength(0);
    await w.t.ctx.notifier.tick(); // within the lease: not yet
    expect(posts(o.robot)).toHaveLength(0);
    clock.advance(SENDING_LEASE_MS + 1);
    await w.t.ctx.notifier.tick();
    expect(posts(o.robot)).toHaveLength(1);
    expect((await NotificationStepModel.findOne({ campaignId, kind: 'digest' }).lean())?.status).toBe('sent');
    await w.t.ctx.notifier.tick();
    expect(posts(o.robot)).toHaveLength(1);
  });

  it('when one officer’s step throws, then the officers after it are still told', async () => {
    const a = await officerWithGroup('吴警官');
    const b = await officerWithGroup('郑警官');
    await sendTo([a.groupId, b.groupId], '隔离测试');
    clock.advance(MINUTE + 1);
    const failures: string[] = [];
    const notifier = new OfficerNotifier(
      {
        tasksOf: (ids) => w.t.ctx.manualTasks.notifierTasks(ids),
        markTold: (ids) => w.t.ctx.manualTasks.markTold(ids),
        withdrawTasks: (ids, reason) => w.t.ctx.manualTasks.withdrawTasks(ids, reason),
        repairConfirmations: (ids) => w.t.ctx.manualTasks.repairConfirmations(ids),
        // A database hiccup for one officer (both orders: whichever comes first fails).
        officerFor: async (phone, regionPath) => {
          if (phone === a.phone) throw new Error('connection reset');
          return activeOfficerFor(phone, regionPath);
        },
        userById: activeUserById,
        campaign: async (id) => {
          const campaign = await w.t.ctx.campaigns.findForEngine(id);
          return campaign ? { title: campaign.title, priority: campaign.priority } : null;
        },
      },
      w.t.ctx.officerRobots,
      w.t.ctx.channels,
      {
        reminderMinutes: { normal: 120, urgent: 30 },
        quietHours: w.t.ctx.config.quietHours,
        timeZone: w.t.ctx.config.timeZone,
        publicBaseUrl: w.t.ctx.config.publicBaseUrl,
      },
      clock,
      (message) => failures.push(message),
    );
    await notifier.tick();
    expect(posts(b.robot)).toHaveLength(1);
    expect(posts(a.robot)).toHaveLength(0);
    expect(failures.some((f) => f.includes('吴警官'))).toBe(true);
    // The failed one is tried again on the next pass.
    await w.t.ctx.notifier.tick();
    expect(posts(a.robot)).toHaveLength(1);
  });

  it('when the process died after claiming a confirmation, then the sweep finishes it and the delivery is confirmed', async () => {
    const o = await officerWithGroup('冯警官');
    const campaignId = await sendTo([o.groupId], '确认断点测试');
    expect((await campaignItems(campaignId)).map((item) => item.status)).toEqual(['awaiting']);
    const task = (await ManualTaskModel.find({ groupId: o.groupId }).lean())[0]!;
    // Only the claim was written: neither the task nor the engine's copy.
    await ManualConfirmationModel.create({ _id: String(task._id), at: clock.now() });
    clock.advance(MINUTE);
    await w.t.ctx.notifier.tick();
    await w.scheduler.sweep();
    await runUntilIdle(w);
    expect((await campaignItems(campaignId)).map((item) => item.status)).toEqual(['confirmed']);
    expect((await ManualTaskModel.findById(task._id).lean())?.confirmedAt).toBeInstanceOf(Date);
  });
});

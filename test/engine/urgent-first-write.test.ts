// An urgent run's first batch is written after a bounded amount of reading, whatever the size
// of the province (issue 25: the first post of an urgent province push within 5 s of approval;
// at 50,000 groups the first chunk took 57.7 s). Counted, not timed: the database commands and
// the documents they return between the start of planning and the first batch insert are the
// same for 300 groups as for 1,500 (in two counties, many villages), and the whole plan still
// puts every selected group in exactly one batch, one post per robot.
import mongoose from 'mongoose';
import type { CommandStartedEvent, CommandSucceededEvent } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { robotKeyOf } from '../../src/audience/groups.js';
import { GroupModel, groupListing } from '../../src/audience/model.js';
import { ENGINE_GROUP_FIELDS } from '../../src/audience/selection.js';
import { RegionNamePartModel, forgetRegionNames, warmRegionNames } from '../../src/audience/region-names.js';
import { engineDeps, prepareDatabase } from '../../src/context.js';
import { OccurrenceModel } from '../../src/engine/model.js';
import { Planner } from '../../src/engine/planner.js';
import { createDueOccurrences } from '../../src/engine/tick.js';
import { fixedClock } from '../../src/lib/clock.js';
import { RegionModel, regionsChanged } from '../../src/regions/model.js';
import { withFixedItemsAll } from '../../src/tracking/batch-fixed.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { type DeliveryWorld, approvedCampaign, approvedNotice, audienceOf, startDeliveryWorld } from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

// 10:00 Beijing time.
const clock = fixedClock('2026-11-29T02:00:00Z');
const settings = { timeZone: 'Asia/Shanghai', quietHours: { start: '22:00', end: '07:00' } };

interface Seen {
  commands: number;
  docs: number;
  /** `collection.command` of each command, in order. */
  names: string[];
}

/**
 * Watches the commands the driver sends from now on; `cut` freezes the figures at the first
 * insert into `deliverybatches` (what was read before the first batch was written).
 */
function watch() {
  const client = mongoose.connection.getClient();
  const before: Seen = { commands: 0, docs: 0, names: [] };
  let firstWriteSeen = false;
  const requests = new Set<number>();
  const started = (event: CommandStartedEvent) => {
    const command = event.command as Record<string, unknown>;
    const collection = event.commandName === 'getMore' ? String(command.collection) : String(command[event.commandName]);
    if (event.commandName === 'insert' && collection === 'deliverybatches') firstWriteSeen = true;
    if (firstWriteSeen) return;
    before.commands += 1;
    before.names.push(`${collection}.${event.commandName}`);
    requests.add(event.requestId);
  };
  const succeeded = (event: CommandSucceededEvent) => {
    if (!requests.has(event.requestId)) return;
    const reply = event.reply as { cursor?: { firstBatch?: unknown[]; nextBatch?: unknown[] }; n?: number };
    before.docs += reply.cursor?.firstBatch?.length ?? reply.cursor?.nextBatch?.length ?? 0;
  };
  client.on('commandStarted', started);
  client.on('commandSucceeded', succeeded);
  return {
    before,
    stop() {
      client.off('commandStarted', started);
      client.off('commandSucceeded', succeeded);
    },
  };
}

const PATH_A = ['000000', TREE.province.code, TREE.city.code, TREE.countyA.code, TREE.townshipA.code];
const PATH_B = ['000000', TREE.province.code, TREE.city.code, TREE.countyB.code, TREE.townshipB.code];

describe('an urgent run’s first batch', () => {
  let w: DeliveryWorld;
  /** The world with province staff (the push goes to the whole province). */
  let province: DeliveryWorld;
  let noticeId: string;
  let villages = 0;

  /** `count` more groups, one village each, alternating between the two counties; every fifth shares a robot. */
  async function addGroups(count: number): Promise<void> {
    const regions = [];
    const groups = [];
    for (let i = 0; i < count; i += 1) {
      villages += 1;
      const path = villages % 2 ? PATH_A : PATH_B;
      const code = `${path[4]}${String(villages).padStart(4, '0')}`;
      regions.push({ code, name: `村${villages}`, level: 'village', parentCode: path[4], regionPath: [...path, code] });
      const key = villages % 5 === 0 ? `robot-${villages - 1}` : `robot-${villages}`;
      groups.push({
        name: `平安群${villages}`,
        regionCode: code,
        regionPath: [...path, code],
        channelKind: 'wecom',
        credentialsSealed: w.t.ctx.groups.sealCredentials({ kind: 'wecom', key }),
        robotKey: key,
        memberCount: 10,
        officerName: '张警官',
      });
    }
    await RegionModel.insertMany(regions);
    await regionsChanged();
    await GroupModel.insertMany(groups);
  }

  async function urgentRun(title: string) {
    const campaignId = await approvedCampaign(province, {
      title,
      noticeId,
      audience: audienceOf([TREE.province.code]),
      schedule: { kind: 'now' },
      priority: 'urgent',
    });
    await createDueOccurrences(w.t.ctx.campaigns, settings, clock.now());
    return { campaignId, occurrence: (await OccurrenceModel.findOne({ campaignId }).lean())! };
  }

  /**
   * Plans an urgent province run; what was read before its first batch insert, and its
   * batches. `cold`: by a scheduler process just started (nothing read yet by the process).
   */
  async function planUrgent(title: string, { cold = false } = {}) {
    const { campaignId, occurrence } = await urgentRun(title);
    if (cold) {
      // A process start: the database prepared as at every start (main.ts), nothing read yet.
      await prepareDatabase(w.t.ctx);
      forgetRegionNames();
    } else {
      // As in a scheduler running for a while: the region names read at its start (main.ts)
      // and the per-county listings current (any groups list call folds them); what a group
      // write since then costs is its own change-log records, not the province's size.
      await warmRegionNames();
      await groupListing.candidates([TREE.province.code]);
    }
    const seen = watch();
    try {
      expect(await new Planner(engineDeps(w.t.ctx)).plan(occurrence, `planner-${title}`)).toBe('planned');
    } finally {
      seen.stop();
    }
    const batches = await withFixedItemsAll(await DeliveryBatchModel.find({ campaignId }).lean());
    return { before: seen.before, items: batches.flatMap((b) => b.items) };
  }

  /** What the scan selects (active, not flagged, in the province), by id. */
  async function selection(): Promise<string[]> {
    const docs = await GroupModel.find({ regionPath: TREE.province.code, active: true, flaggedAt: null }, { _id: 1 }).lean();
    return docs.map((d) => String(d._id)).sort();
  }

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
    const editor = (await w.t.userToken('editor', TREE.province.code)).token;
    const reviewer = (await w.t.userToken('reviewer', TREE.province.code)).token;
    province = { ...w, editor, reviewer };
    noticeId = await approvedNotice(province);
  }, 600_000);
  afterAll(() => w?.close());

  it('reads as much before its first batch insert for 1,500 groups as for 300, and plans them all exactly', async () => {
    await addGroups(300);
    const small = await planUrgent('紧急 300');
    await addGroups(1_200);
    // One group flagged and one inactive: left out of the plan.
    const [flagged, inactive] = await GroupModel.find({ regionPath: TREE.province.code }, { _id: 1 }).limit(2).lean();
    await GroupModel.updateOne({ _id: flagged!._id }, { $set: { flaggedAt: clock.now(), flagReason: '测试' } });
    await GroupModel.updateOne({ _id: inactive!._id }, { $set: { active: false } });
    const large = await planUrgent('紧急 1500');

    // Bounded: the same reads before the first write (a few commands may differ, e.g. a
    // listing's change-log walk), never in proportion to the groups.
    expect(large.before.commands, large.before.names.join('\n')).toBeLessThanOrEqual(small.before.commands + 5);
    expect(large.before.docs, large.before.names.join('\n')).toBeLessThanOrEqual(small.before.docs + 20);
    expect(large.before.docs).toBeLessThan(200);

    // Exact: every selected group in exactly one batch, one post per robot.
    const ids = large.items.map((item) => item.groupId);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(await selection());
    expect(ids).not.toContain(String(flagged!._id));
    expect(ids).not.toContain(String(inactive!._id));
    const posting = large.items.filter((item) => !item.via);
    const robots = posting.map((item) => item.robotKey);
    expect(new Set(robots).size).toBe(robots.length);
    const followers = large.items.filter((item) => item.via);
    expect(followers.length).toBeGreaterThan(0);
    for (const item of followers) expect(robots).toContain(item.robotKey);
  }, 600_000);

  /** Every planned item carries its village's and township's names as the regions have them. */
  async function expectNamesExact(items: { villageCode: string; villageName: string; townshipName: string | null }[]) {
    const names = new Map((await RegionModel.find({}, { code: 1, name: 1 }).lean()).map((r) => [r.code, r.name]));
    for (const item of items) {
      expect(item.villageName).toBe(names.get(item.villageCode));
      expect(item.townshipName).toBe(names.get(item.villageCode.slice(0, 9)));
    }
  }

  it('writes a freshly started scheduler’s first urgent batch without reading every region, with the same names', async () => {
    if (villages === 0) await addGroups(1_500); // run alone
    // The scheduler before the restart read the names at its start (main.ts): their parts by
    // `_id` are kept. The new process has read nothing.
    await warmRegionNames();
    const cold = await planUrgent('紧急 冷启动', { cold: true });
    const regionReads = cold.before.names.filter((name) => name.startsWith('regions.'));
    expect(regionReads, cold.before.names.join('\n')).toEqual([]);
    expect(cold.before.docs, cold.before.names.join('\n')).toBeLessThan(200);
    expect(cold.items.length).toBe((await selection()).length);
    await expectNamesExact(cold.items as never);
  }, 600_000);

  it('plans exactly in a just started scheduler of an install from before the names’ parts, and keeps them then', async () => {
    if (villages === 0) await addGroups(1_500); // run alone
    await RegionNamePartModel.deleteMany({});
    const older = await planUrgent('紧急 旧数据', { cold: true });
    expect(older.items.length).toBe((await selection()).length);
    await expectNamesExact(older.items as never);
    // The whole read made for that run keeps the parts: the next process reads them by `_id`.
    await warmRegionNames();
    expect(await RegionNamePartModel.countDocuments({ _id: { $in: ['_upper', TREE.countyA.code, TREE.countyB.code] } })).toBe(3);
    const next = await planUrgent('紧急 再次冷启动', { cold: true });
    expect(next.before.names.filter((name) => name.startsWith('regions.'))).toEqual([]);
    await expectNamesExact(next.items as never);
  }, 600_000);

  it('plans robot groups without opening their credentials or sealing them again', async () => {
    if (villages === 0) await addGroups(300); // run alone
    // Twenty groups whose robot key is on the group as the service writes it (kind:hash).
    await addGroups(20);
    const recent = await GroupModel.find({ regionPath: TREE.province.code }).sort({ _id: -1 }).limit(20).lean();
    for (const group of recent) {
      const key = robotKeyOf(w.t.ctx.groups.openCredentials(group.credentialsSealed), '');
      await GroupModel.collection.updateOne({ _id: group._id }, { $set: { robotKey: key } });
    }
    const opened = vi.spyOn(w.t.ctx.groups, 'openCredentials');
    const sealed = vi.spyOn(w.t.ctx.groups, 'sealCredentials');
    try {
      const { items } = await planUrgent('紧急 不开封');
      const groups = await GroupModel.find({ regionPath: TREE.province.code, active: true, flaggedAt: null }).lean();
      const stored = new Map(groups.map((g) => [String(g._id), g]));
      expect(sealed).not.toHaveBeenCalled();
      // Opened only where the group holds no robot key of its kind (the test's other groups).
      expect(opened).toHaveBeenCalledTimes(groups.filter((g) => !String(g.robotKey).startsWith('wecom:')).length);
      for (const item of items) {
        const group = stored.get(item.groupId)!;
        expect(item.credentialsSealed).toBe(group.credentialsSealed);
        expect(item.robotKey).toBe(robotKeyOf(w.t.ctx.groups.openCredentials(group.credentialsSealed), item.groupId));
      }
    } finally {
      opened.mockRestore();
      sealed.mockRestore();
    }
  }, 600_000);

  it('decodes of each selected group only the fields a batch needs, urgent and normal runs alike', async () => {
    if (villages === 0) await addGroups(300); // run alone
    // Groups as a ledger import leaves them: notes and tags (neither is needed by a batch).
    await GroupModel.collection.updateMany(
      { regionPath: TREE.province.code },
      { $set: { note: '村委会主任负责转发，周末由副主任代发'.repeat(4), tags: ['重点村', '边境村'] } },
    );
    // The listings current (their rows re-read the changed groups: the groups list's fields).
    await groupListing.candidates([TREE.province.code]);
    const client = mongoose.connection.getClient();
    const fields = new Set<string>();
    let groupDocs = 0;
    const succeeded = (event: CommandSucceededEvent) => {
      const cursor = (event.reply as { cursor?: { ns?: string; firstBatch?: object[]; nextBatch?: object[] } }).cursor;
      if (!cursor?.ns?.endsWith('.groups')) return;
      for (const doc of cursor.firstBatch ?? cursor.nextBatch ?? []) {
        groupDocs += 1;
        for (const key of Object.keys(doc)) fields.add(key);
      }
    };
    client.on('commandSucceeded', succeeded);
    try {
      // An urgent run (its groups read by `_id`) and a normal one (one cursor over the selection).
      await planUrgent('紧急 字段');
      const campaignId = await approvedCampaign(province, {
        title: '常规 字段',
        noticeId,
        audience: audienceOf([TREE.province.code]),
        schedule: { kind: 'now' },
        priority: 'normal',
      });
      await createDueOccurrences(w.t.ctx.campaigns, settings, clock.now());
      const occurrence = (await OccurrenceModel.findOne({ campaignId }).lean())!;
      expect(await new Planner(engineDeps(w.t.ctx)).plan(occurrence, 'planner-normal-fields')).toBe('planned');
    } finally {
      client.off('commandSucceeded', succeeded);
    }
    expect(groupDocs).toBeGreaterThanOrEqual(2 * (await selection()).length);
    const needed = Object.keys(ENGINE_GROUP_FIELDS);
    expect([...fields].filter((field) => !needed.includes(field))).toEqual([]);
    for (const unneeded of ['note', 'tags', 'createdAt', 'updatedAt', 'active', 'flaggedAt']) expect(fields).not.toContain(unneeded);
  }, 600_000);
});

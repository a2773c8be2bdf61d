// A county with robot doubles, an approved notice and a campaign workflow, for engine tests.
// The engine parts are driven directly (tick, drain) so tests never sleep for the scheduler.
import { sharedRobotKey } from '../../src/audience/groups.js';
import { GroupModel } from '../../src/audience/model.js';
import { RobotDoubles } from '../../src/channels/doubles/server.js';
import { engineDeps } from '../../src/context.js';
import type { EnginePorts } from '../../src/engine/ports.js';
import { createWorker, Scheduler } from '../../src/engine/runner.js';
import type { Worker } from '../../src/engine/worker.js';
import type { Clock } from '../../src/lib/clock.js';
import { RegionModel } from '../../src/regions/model.js';
import { withFixedItemsAll } from '../../src/tracking/batch-fixed.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { startTestApp, type TestApp } from './app.js';
import { groupBody } from './groups.js';
import { noticeBody } from './notices.js';
import { createRegionTree, TREE } from './regions.js';

export interface DeliveryWorld {
  t: TestApp;
  doubles: RobotDoubles;
  editor: string;
  reviewer: string;
  scheduler: Scheduler;
  worker: Worker;
  close(): Promise<void>;
}

export async function startDeliveryWorld(options: { clock?: Clock; env?: Record<string, string> } = {}) {
  const doubles = await new RobotDoubles({ clock: options.clock, dingtalkPenaltyMs: 2_000 }).start();
  const t = await startTestApp({
    clock: options.clock,
    env: {
      WECOM_BASE_URL: doubles.url,
      DINGTALK_BASE_URL: doubles.url,
      FEISHU_BASE_URL: doubles.url,
      OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
      CHANNEL_TIMEOUT_MS: '1500',
      ...options.env,
    },
  });
  await createRegionTree(t);
  const editor = (await t.userToken('editor', TREE.countyA.code)).token;
  const reviewer = (await t.userToken('reviewer', TREE.countyA.code)).token;
  const deps = engineDeps(t.ctx);
  const world: DeliveryWorld = {
    t,
    doubles,
    editor,
    reviewer,
    scheduler: new Scheduler(deps),
    worker: createWorker({ ...deps, worker: { ...deps.worker, pollMs: 10, maxInlineWaitMs: 0 } }),
    async close() {
      await t.close();
      await doubles.close();
    },
  };
  return world;
}

async function ok(response: { statusCode: number; body: string; json(): unknown }, expected = 200) {
  if (response.statusCode !== expected)
    throw new Error(`expected ${expected}, got ${response.statusCode}: ${response.body}`);
  return response.json() as { id: string } & Record<string, unknown>;
}

/** A notice written by the editor and approved by the reviewer. */
export async function approvedNotice(w: DeliveryWorld, overrides: Record<string, unknown> = {}): Promise<string> {
  const notice = await ok(await w.t.request('POST', '/api/notices', w.editor, noticeBody(overrides)), 201);
  await ok(await w.t.request('POST', `/api/notices/${notice.id}/submit`, w.editor));
  await ok(await w.t.request('POST', `/api/notices/${notice.id}/approve`, w.reviewer, {}));
  return notice.id;
}

/** Groups with WeCom robots registered at the doubles; returns their ids and keys. */
export async function wecomGroups(w: DeliveryWorld, count: number, regionCode: string = TREE.villageA.code) {
  const groups: { id: string; key: string; memberCount: number }[] = [];
  for (let i = 0; i < count; i++) {
    const key = `robot-${regionCode}-${i}-${Math.random().toString(36).slice(2, 8)}`;
    w.doubles.addRobot({ platform: 'wecom', key });
    const memberCount = 50 + i;
    const group = await ok(
      await w.t.request(
        'POST',
        '/api/groups',
        w.t.adminToken,
        groupBody({ regionCode, channel: { kind: 'wecom', key }, memberCount }),
      ),
      201,
    );
    groups.push({ id: group.id, key, memberCount });
  }
  return groups;
}

/**
 * `count` groups as `wecomGroups` makes them (one robot each, registered at the doubles), written
 * in one insert with the fields the groups API writes (credentials sealed, robot key, the
 * village's path): for tests about what happens to many groups, not about making one. Inserts
 * through mongoose report the groups to the audience read model as the API's writes do
 * (write-hooks.ts). `fields` are set on every group (an officer, tags).
 */
export async function insertWecomGroups(
  w: DeliveryWorld,
  count: number,
  regionCode: string = TREE.villageA.code,
  fields: Record<string, unknown> = {},
) {
  const village = await RegionModel.findOne({ code: regionCode }, { regionPath: 1 }).lean();
  if (!village) throw new Error(`no region ${regionCode}`);
  const now = w.t.ctx.clock.now();
  const keys = Array.from(
    { length: count },
    (_, i) => `robot-${regionCode}-${i}-${Math.random().toString(36).slice(2, 8)}`,
  );
  const docs = keys.map((key, i) => {
    w.doubles.addRobot({ platform: 'wecom', key });
    const credentials = { kind: 'wecom' as const, key };
    return {
      name: `平安群-${key}`,
      regionCode,
      regionPath: village.regionPath,
      channelKind: 'wecom',
      credentialsSealed: w.t.ctx.groups.sealCredentials(credentials),
      robotKey: sharedRobotKey(credentials),
      memberCount: 50 + i,
      memberCountUpdatedAt: now,
      ...fields,
    };
  });
  const inserted = await GroupModel.insertMany(docs);
  return inserted.map((doc, i) => ({ id: String(doc._id), key: keys[i]!, memberCount: doc.memberCount }));
}

/** A campaign by the editor, submitted and approved by the reviewer. */
export async function approvedCampaign(w: DeliveryWorld, body: Record<string, unknown>): Promise<string> {
  const campaign = await ok(await w.t.request('POST', '/api/campaigns', w.editor, body), 201);
  await ok(await w.t.request('POST', `/api/campaigns/${campaign.id}/submit`, w.editor));
  await ok(await w.t.request('POST', `/api/campaigns/${campaign.id}/approve`, w.reviewer));
  return campaign.id;
}

/** Ticks the scheduler and drains the work list until nothing is due. */
export async function runUntilIdle(w: DeliveryWorld, rounds = 50): Promise<void> {
  await w.scheduler.tick();
  for (let i = 0; i < rounds; i++) {
    const handled = await w.worker.drainOnce();
    if (handled === 0) return;
  }
}

/** An urgent campaign sending the notice to these groups (ids, or groups as `wecomGroups` gives them) now, approved. */
export function urgentNowCampaign(
  w: DeliveryWorld,
  noticeId: string,
  groups: (string | { id: string })[],
  title: string,
) {
  const groupIds = groups.map((g) => (typeof g === 'string' ? g : g.id));
  return approvedCampaign(w, {
    title,
    noticeId,
    audience: audienceOf([], groupIds),
    schedule: { kind: 'now' },
    priority: 'urgent',
  });
}

/** A new notice titled `title`, pushed to these groups now by a normal campaign of that title, run until idle; the campaign's id. */
export async function pushedNow(w: DeliveryWorld, title: string, groupIds: string[]): Promise<string> {
  const noticeId = await approvedNotice(w, { title });
  const campaignId = await approvedCampaign(w, {
    title,
    noticeId,
    audience: audienceOf([], groupIds),
    schedule: { kind: 'now' },
  });
  await runUntilIdle(w);
  return campaignId;
}

/** A campaign's deliveries, whole (the packed layout's fixed fields merged in). */
export async function campaignItems(campaignId: string) {
  return (await withFixedItemsAll(await DeliveryBatchModel.find({ campaignId }).lean())).flatMap((b) => b.items);
}

/** An audience of regions and/or explicit groups, nothing excluded. */
export function audienceOf(regions: string[], groups: string[] = []) {
  return { regions, tags: [], groups, excludeRegions: [], excludeTags: [], excludeGroups: [] };
}

/** A personal WeChat group (manual channel: its officer forwards by hand); returns its id. */
export async function manualGroup(
  w: DeliveryWorld,
  name: string,
  options: { regionCode?: string; memberCount?: number; officer?: { name: string; phone: string } } = {},
): Promise<string> {
  const created = await ok(
    await w.t.request('POST', '/api/groups', w.t.adminToken, {
      name,
      regionCode: options.regionCode ?? TREE.villageA.code,
      channel: { kind: 'manual' },
      memberCount: options.memberCount ?? 100,
      officer: options.officer ?? { name: '王警官', phone: '13900000000' },
    }),
    201,
  );
  return created.id;
}

/** A campaign written and approved by an editor and a reviewer of `regionCode` (a city's, say). */
export async function approvedCampaignAt(
  w: DeliveryWorld,
  regionCode: string,
  body: Record<string, unknown>,
): Promise<string> {
  const editor = (await w.t.userToken('editor', regionCode)).token;
  const reviewer = (await w.t.userToken('reviewer', regionCode)).token;
  const campaign = await ok(await w.t.request('POST', '/api/campaigns', editor, body), 201);
  await ok(await w.t.request('POST', `/api/campaigns/${campaign.id}/submit`, editor));
  await ok(await w.t.request('POST', `/api/campaigns/${campaign.id}/approve`, reviewer));
  return campaign.id;
}

/** A gate a test opens: `reached` resolves when the code under test arrives, `open()` lets it go on. */
export function gate() {
  let arrive!: () => void;
  let open!: () => void;
  const reached = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  const wait = () => {
    arrive();
    return opened;
  };
  return { reached, open, wait };
}

/** The engine's ports, with `onWritten` called after each write of batches the planner makes. */
export function portsWith(base: EnginePorts, onWritten: (batchIds: string[]) => Promise<void>): EnginePorts {
  return Object.assign(Object.create(base), {
    batchesWritten: async (batchIds: string[]) => {
      await base.batchesWritten(batchIds);
      await onWritten(batchIds);
    },
  });
}

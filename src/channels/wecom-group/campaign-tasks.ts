// A campaign's WeCom customer-group tasks, listed by `_id` (issue 25): the run report
// (`GET /api/campaigns/:id/wecom-tasks`) reads its campaign's tasks from here instead of
// `wecomgrouptasks {campaignId}`, which on FerretDB 1.24 reads every customer-group task ever
// made (any filter but a single `_id` equality is a collection scan).
//
// Collection `wecomgroupcampaigntasks`, every document read and written by `_id`:
//   c:<campaign>|<n>   item n of the campaign's list: `tasks`, the task ids one flush pass
//                      listed for it (as channels/manual/due-slots.ts numbers its lists)
// An item is inserted (never updated: FerretDB does not make two updates of one document
// atomic) at the list's next number; a number another writer took (duplicate key) is taken
// again one higher. A writer inserts item n only after item n-1 exists (it started at 0, or
// at the number after the last item it wrote or found), so the list has no holes and a reader
// reads items 0, 1, 2… (8 at a time) until the first missing one.
//
// Contract (the order of writes, so that a kill -9 anywhere leaves the report complete):
// - a task is listed on its campaign before it is inserted (service.ts `flush`); a kill in
//   between leaves a listed id naming no task, which the reader skips (harmless), and the
//   next pass lists the task again before creating it (a repeated id is read once);
// - an install written before the list: every task is listed once at start
//   (`buildWecomCampaignTasks`, backfill `wecom-group-campaign-tasks`, one read of the tasks);
//   a start killed half-way lists again (repeats are harmless).
// Kept for ever, not pruned by retention (docs/retention.md): the run report shows a campaign's
// tasks and groups however old the campaign (the campaign page), the tasks and items it reads
// are never pruned, and this list is its only way to them by `_id`; a pruned list would show
// an old campaign with no task. One small document per flush pass of a campaign (a run's
// owners in one), against a task document per owner and an item per group that stay anyway.
import mongoose from 'mongoose';
import { backfillOnce } from '../../db/backfills.js';
import { isDuplicateKey } from '../../lib/errors.js';
import { WecomTaskModel } from './model.js';

const listSchema = new mongoose.Schema(
  { _id: { type: String, required: true }, tasks: { type: [String], required: true } },
  { versionKey: false },
);
export const WecomCampaignTasksModel = mongoose.model('WecomGroupCampaignTasks', listSchema, 'wecomgroupcampaigntasks');

const itemId = (campaignId: string, n: number) => `c:${campaignId}|${n}`;
/** Items read at once by a reader. */
const READ_AHEAD = 8;
/** Task ids per item at most (a province run has about 2,000 owners; the backfill lists a campaign's history). */
const IDS_PER_ITEM = 2_000;

/** This process's next free number of each campaign's list (item n-1 exists). */
const next = new Map<string, number>();

/** Lists task ids on their campaigns: one insert per campaign (more only when another writer took the number). */
export async function listCampaignTasks(byCampaign: Map<string, string[]>): Promise<void> {
  for (const [campaignId, ids] of byCampaign) {
    for (let i = 0; i < ids.length; i += IDS_PER_ITEM) {
      const tasks = ids.slice(i, i + IDS_PER_ITEM);
      let n = next.get(campaignId) ?? 0;
      for (;;) {
        try {
          await WecomCampaignTasksModel.create({ _id: itemId(campaignId, n), tasks });
          break;
        } catch (error) {
          if (!isDuplicateKey(error)) throw error;
          n += 1;
        }
      }
      next.set(campaignId, n + 1);
    }
  }
}

/** The task ids listed on a campaign, each once, in listing order (items by `_id`, 8 at a time). */
export async function campaignTaskIds(campaignId: string): Promise<string[]> {
  const ids = new Set<string>();
  for (let n = 0; ; n += READ_AHEAD) {
    const items = await Promise.all(
      Array.from({ length: READ_AHEAD }, (_, i) =>
        WecomCampaignTasksModel.findById(itemId(campaignId, n + i)).lean<{ tasks: string[] }>(),
      ),
    );
    for (const item of items) {
      if (!item) return [...ids];
      for (const id of item.tasks) ids.add(id);
    }
  }
}

/** For an install written before the list (once, at start): every task listed on its campaign. */
export async function buildWecomCampaignTasks(): Promise<void> {
  await backfillOnce('wecom-group-campaign-tasks', async () => {
    const tasks = await WecomTaskModel.find({}, { _id: 1, campaignId: 1 }).lean<
      { _id: string; campaignId: string }[]
    >();
    const byCampaign = new Map<string, string[]>();
    for (const task of tasks) byCampaign.set(task.campaignId, [...(byCampaign.get(task.campaignId) ?? []), task._id]);
    await listCampaignTasks(byCampaign);
  });
}

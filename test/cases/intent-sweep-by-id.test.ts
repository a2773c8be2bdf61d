// The scheduler's full tick looks for case outcomes whose runner died (`cases.sweepIntentsLeft`).
// It read the notices with `{'intents.0': {$exists: true}}`: on FerretDB 1.24 a read of every
// notice ever made, and every notice that ever had an outcome kept matching. The unfinished
// intents are now listed (notices/intent-list.ts, written before the notice change, deleted when
// done), and the sweep reads the listed notices by `_id`: no other read of the notices, and the
// same commands whatever the notices' history. Exactness: a runner that died part-way is still
// finished by the sweep (its entry was written before the change), once; an install older than
// the list has its notices' unfinished intents listed once at start.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignModel } from '../../src/campaigns/model.js';
import { BackfillModel } from '../../src/db/backfills.js';
import { ClaimModel, newIntent } from '../../src/db/claims.js';
import { buildNoticeIntentList, NoticeIntentModel } from '../../src/notices/intent-list.js';
import { NoticeModel } from '../../src/notices/model.js';
import { commandsDuring } from '../helpers/commands.js';
import { until } from '../helpers/wait.js';
import { startWantedWorld, type WantedWorld } from '../residents/world.js';

/** A filter with one `_id` equality (FerretDB, with the project's fix, looks it up in its index; docs/ferretdb.md). */
const byId = (filter: Record<string, unknown> | null) =>
  filter !== null && (typeof filter._id === 'string' || filter._id instanceof mongoose.Types.ObjectId);

describe('the case-outcome sweep reads notices by _id', () => {
  let w: WantedWorld;
  beforeAll(async () => {
    w = await startWantedWorld();
  });
  afterAll(() => w.close());

  /** Concluded cases of the past: notices carrying a finished intent (as a concluded case leaves them). */
  async function history(count: number) {
    const original = await NoticeModel.findById(w.noticeId).lean();
    for (let i = 0; i < count; i++) {
      const intent = newIntent('case-outcome', { id: 'system', username: 'system' }, w.clock.now(), {
        kind: 'expired',
      });
      const { _id, ...rest } = original as Record<string, unknown>;
      await NoticeModel.collection.insertOne({
        ...rest,
        _id: new mongoose.Types.ObjectId(),
        intents: [intent],
      } as never);
      await ClaimModel.create({ _id: `intent:${intent.id}:done`, owner: 'history', at: w.clock.now() });
    }
  }

  async function sweep() {
    const seen = await commandsDuring(() => w.t.ctx.cases.sweepIntentsLeft());
    const notices = seen.filter((c) => c.collection === 'notices');
    return {
      commands: seen.length,
      scans: notices.filter((c) => !byId(c.filter)).map((c) => `${c.name} ${JSON.stringify(c.filter)}`),
    };
  }

  it('reads no notice but by _id, the same commands with 3 and 12 concluded cases of history', async () => {
    await history(3);
    const small = await sweep();
    await history(9);
    const large = await sweep();
    process.stdout.write(`intent sweep commands: ${JSON.stringify({ small, large })}\n`);
    expect(small.scans).toEqual([]);
    expect(large.scans).toEqual([]);
    expect(large.commands).toBe(small.commands);
  });

  it('a runner that died part-way is finished by the sweep once; its entry then goes', async () => {
    const campaigns = w.t.ctx.campaigns;
    const createFollowUp = campaigns.createFollowUp;
    let reached = false;
    campaigns.createFollowUp = () => {
      reached = true;
      return new Promise(() => {});
    };
    void w.t.request('POST', `/api/cases/${w.noticeId}/solve`, w.editor, { kind: 'caught' });
    await until(async () => reached);
    campaigns.createFollowUp = createFollowUp;
    expect(await NoticeIntentModel.countDocuments({})).toBe(1);

    w.clock.advance(3 * 60_000);
    const first = await sweep();
    expect(first.scans).toEqual([]);
    expect(await w.t.ctx.cases.sweepIntents()).toBe(0); // finished by the sweep above
    const followUps = await CampaignModel.find({ followUpOfNotice: w.noticeId }).lean();
    expect(followUps).toHaveLength(1);
    expect(await NoticeIntentModel.countDocuments({})).toBe(0);
  });

  it('an install older than the list: its unfinished intents are listed once at start and finished', async () => {
    const original = await NoticeModel.findById(w.noticeId).lean();
    const intent = newIntent('case-outcome', { id: 'system', username: 'system' }, w.clock.now(), {
      kind: 'expired',
    });
    const { _id, ...rest } = original as Record<string, unknown>;
    const id = new mongoose.Types.ObjectId();
    // Written by the older version: the intent on the notice, no entry, no done marker.
    await NoticeModel.collection.insertOne({ ...rest, _id: id, intents: [intent], caseOutcomes: [] } as never);
    await BackfillModel.deleteOne({ _id: 'notice-intent-list' });
    await buildNoticeIntentList();
    expect((await NoticeIntentModel.find({}).lean()).map((e) => e._id)).toEqual([intent.id]);
    w.clock.advance(60_000);
    await w.t.ctx.cases.sweepIntentsLeft();
    expect(await ClaimModel.exists({ _id: `intent:${intent.id}:done` })).toBeTruthy();
    expect(await NoticeIntentModel.countDocuments({})).toBe(0);
  });
});

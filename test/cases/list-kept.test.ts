// The cases list (协查案件, `GET /api/cases`, the console's badge) keeps what it reads from the
// notices, campaigns and tips per process under their version tokens (src/cases/kept.ts): a
// repeated call reads none of the three collections (one read of the tokens), and after writes
// made outside this process's memory (through the models, as another process would: a tip, the
// deadline's follow-up, its approval) the next call shows them. The badge and every case's
// attention equal what the definition gives from the documents themselves. Real FerretDB and
// HTTP, fixed clock; the driver's commands are counted, nothing is timed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignModel } from '../../src/campaigns/model.js';
import { NoticeModel } from '../../src/notices/model.js';
import { TipModel } from '../../src/tips/model.js';
import { commandsDuring } from '../helpers/commands.js';
import { startWantedWorld, type WantedWorld } from '../residents/world.js';

const KEPT = ['notices', 'campaigns', 'tips'];

describe('the cases list kept under version tokens', () => {
  let w: WantedWorld;
  beforeAll(async () => {
    w = await startWantedWorld();
  });
  afterAll(() => w.close());

  const list = async () => {
    const response = await w.t.request('GET', '/api/cases', w.t.adminToken);
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as {
      badge: number;
      cases: {
        noticeId: string;
        newTips: number;
        attention: string[];
        outcomes: { followUpStatus: string | null }[];
      }[];
    };
  };

  /** Each wanted notice's attention, from the documents (the definition in cases/service.ts). */
  async function fromDocuments() {
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(w.clock.now());
    const out = new Map<string, string[]>();
    for (const notice of await NoticeModel.find({ 'content.category': 'wanted_clue' }).lean()) {
      const id = String(notice._id);
      const approved = notice.versions.find((v) => v.version === notice.approvedVersion);
      const deadline = (approved?.content as { wanted?: { deadline?: string } } | undefined)?.wanted?.deadline ?? '';
      const outcomes = notice.caseOutcomes ?? [];
      const attention: string[] = [];
      if (deadline !== '' && today > deadline && !outcomes.some((o) => o.kind !== 'expired'))
        attention.push('deadline_passed');
      for (const o of outcomes) {
        const campaign = o.followUpCampaignId ? await CampaignModel.findById(o.followUpCampaignId).lean() : null;
        if (campaign?.status === 'in_review') {
          attention.push('follow_up_in_review');
          break;
        }
      }
      if ((await TipModel.countDocuments({ noticeId: id, status: 'new' })) > 0) attention.push('new_tips');
      out.set(id, attention);
    }
    return out;
  }

  async function expectExact() {
    const served = await list();
    const expected = await fromDocuments();
    expect(served.cases.map((c) => c.noticeId).sort()).toEqual([...expected.keys()].sort());
    for (const c of served.cases) expect(c.attention, c.noticeId).toEqual(expected.get(c.noticeId));
    expect(served.badge).toBe([...expected.values()].filter((a) => a.length > 0).length);
    return served;
  }

  const keptReads = async () =>
    (await commandsDuring(list)).filter((c) => KEPT.includes(c.collection)).map((c) => [c.name, c.collection]);

  it('a repeated call reads no notice, campaign or tip', async () => {
    await expectExact();
    expect(await keptReads()).toEqual([]);
  });

  it('shows a tip, the deadline’s follow-up and its approval written by another process on the next call', async () => {
    // A tip from the public form (its write changes the tips' token; nothing in this process's memory).
    const tip = await w.t.app.inject({
      method: 'POST',
      url: `/n/${w.noticeId}/tips`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'text=%E7%BA%BF%E7%B4%A2',
    });
    expect(tip.statusCode, tip.body).toBeLessThan(400);
    const withTip = await expectExact();
    expect(withTip.cases.find((c) => c.noticeId === w.noticeId)!.newTips).toBe(1);
    expect(await keptReads()).toEqual([]);

    // The deadline passes: the scheduler (another process) drafts the follow-up.
    w.clock.set('2025-07-31T16:01:00.000Z');
    expect(await w.t.ctx.cases.sweepDeadlines()).toBe(1);
    const expired = await expectExact();
    const kase = expired.cases.find((c) => c.noticeId === w.noticeId)!;
    expect(kase.attention).toContain('follow_up_in_review');
    expect(await keptReads()).toEqual([]);

    // The follow-up campaign approved elsewhere (a model write): no longer in review.
    const campaignId = (await NoticeModel.findById(w.noticeId).lean())!.caseOutcomes[0]!.followUpCampaignId!;
    await CampaignModel.updateOne({ _id: campaignId }, { $set: { status: 'approved' } });
    const approved = await expectExact();
    expect(approved.cases.find((c) => c.noticeId === w.noticeId)!.outcomes[0]!.followUpStatus).toBe('approved');
  });
});

// The campaign list as it opens (and its paging, newest or oldest first) reads its page by
// `_id` from the process's index of campaigns (campaigns/list-index.ts) instead of scanning
// the campaigns on every call, and answers what the scan answers: for the admin and two
// county editors, after new campaigns (through the API and a follow-up), and with an insert
// whose writer died after its intent (issue 25 item 2).
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignAddIntentModel, campaignCandidates } from '../../src/campaigns/list-index.js';
import { CampaignModel } from '../../src/campaigns/model.js';
import { byIdEquality, driverCallsDuring } from '../helpers/commands.js';
import { type DeliveryWorld, approvedNotice, audienceOf, startDeliveryWorld, wecomGroups } from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

describe('campaign list from the index', () => {
  let w: DeliveryWorld;
  let noticeId: string;
  let noticeB: string;
  let editorB: string;
  let groupA: string;
  let groupB: string;

  async function scanned(code: string, newest = true) {
    const docs = await CampaignModel.find({ regionPath: code }, { _id: 1 })
      .sort({ _id: newest ? -1 : 1 })
      .lean();
    return docs.map((d) => String(d._id));
  }

  async function listed(token: string, sort: 'newest' | 'oldest' = 'newest') {
    const ids: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 50; page += 1) {
      const query = new URLSearchParams({ limit: '2', sort });
      if (cursor) query.set(sort === 'newest' ? 'before' : 'after', cursor);
      const response = await w.t.request('GET', `/api/campaigns?${query}`, token);
      expect(response.statusCode, response.body).toBe(200);
      const rows = response.json() as { id: string }[];
      ids.push(...rows.map((r) => r.id));
      if (rows.length < 2) return ids;
      cursor = rows.at(-1)!.id;
    }
    throw new Error('more than 50 pages');
  }

  async function create(token: string, title: string, group: string) {
    const response = await w.t.request('POST', '/api/campaigns', token, {
      title,
      noticeId: token === editorB ? noticeB : noticeId,
      audience: audienceOf([], [group]),
      schedule: { kind: 'now' },
    });
    expect(response.statusCode, response.body).toBe(201);
    return response.json().id as string;
  }

  async function expectSameAsScan() {
    expect(await listed(w.t.adminToken)).toEqual(await scanned('000000'));
    expect(await listed(w.t.adminToken, 'oldest')).toEqual(await scanned('000000', false));
    expect(await listed(w.editor)).toEqual(await scanned(TREE.countyA.code));
    expect(await listed(editorB, 'oldest')).toEqual(await scanned(TREE.countyB.code, false));
  }

  beforeAll(async () => {
    w = await startDeliveryWorld();
    noticeId = await approvedNotice(w);
    editorB = (await w.t.userToken('editor', TREE.countyB.code)).token;
    // County B's own notice, through its editor and reviewer.
    noticeB = await approvedNotice({ ...w, editor: editorB, reviewer: (await w.t.userToken('reviewer', TREE.countyB.code)).token });
    groupA = (await wecomGroups(w, 1))[0]!.id;
    groupB = (await wecomGroups(w, 1, TREE.villageB.code))[0]!.id;
    for (let i = 0; i < 3; i += 1) await create(w.editor, `甲${i}`, groupA);
    for (let i = 0; i < 2; i += 1) await create(editorB, `乙${i}`, groupB);
  });
  afterAll(() => w.close());

  it('lists what the scan lists, newest and oldest first, in every scope', async () => {
    await expectSameAsScan();
  });

  it('sees campaigns created after the index was read, with no scan of the campaigns', async () => {
    await listed(w.t.adminToken); // the index is read
    let added = '';
    const seen = await driverCallsDuring(async () => {
      added = await create(editorB, '乙新', groupB);
      expect(await listed(editorB)).toEqual(await scanned(TREE.countyB.code));
    });
    const reads = seen.filter((c) => c.collection === 'campaigns').map((c) => c.args[0]);
    expect(await listed(w.t.adminToken)).toContain(added);
    // The scan for the truth above is the only read of campaigns without _id.
    expect(reads.filter((f) => !byIdEquality(f))).toHaveLength(1);
    await expectSameAsScan();
  });

  it('lists a campaign whose writer died after its intent (inserted, never recorded)', async () => {
    const id = new mongoose.Types.ObjectId();
    const model = await CampaignModel.findOne({ regionPath: TREE.countyA.code }).lean();
    await CampaignAddIntentModel.create({ _id: String(id), at: new Date() });
    await CampaignModel.collection.insertOne({ ...model!, _id: id, title: '写入后中断' });
    expect(await listed(w.editor)).toEqual(await scanned(TREE.countyA.code));
    expect((await campaignCandidates(TREE.countyA.code, true))[0]).toBe(String(id));
  });
});

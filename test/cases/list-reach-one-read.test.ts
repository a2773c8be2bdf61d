// The case list reads every listed case's reach from one pass over the ledger
// (tracking/recipients.ts receivedCountsOf) instead of one scan per case. Its figures must be
// exactly those of the one-notice read for each notice, whatever is mixed in the ledger:
// several notices, several runs of one notice, a group reached twice, WeCom customer groups
// awaiting (not received) and sent, skipped and failed deliveries, and a notice never planned.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receivedCounts, receivedCountsOf } from '../../src/tracking/recipients.js';
import { buildRunLists } from '../../src/engine/runs.js';
import { DeliveryBatchModel } from '../../src/tracking/model.js';
import { LISTS_BUILT, NOTICE_LISTS_BUILT, RunBatchListModel, buildNoticeLists } from '../../src/tracking/run-batches.js';
import { type TestApp, startTestApp } from '../helpers/app.js';

interface Item {
  groupId: string;
  channel: string;
  status: string;
  villageCode: string;
}

function batch(id: string, noticeId: string, items: Item[]) {
  return {
    _id: id,
    occurrenceId: id.split('|')[0],
    campaignId: 'c',
    noticeId,
    category: 'wanted_clue',
    priority: 'urgent',
    cardStyle: 'text',
    regionPath: ['000000', '410000', '410100', '410101', '410101001'],
    countyCode: '410101',
    townshipCode: '410101001',
    day: '2026-12-01',
    month: '2026-12',
    items: items.map((item) => ({
      ...item,
      groupName: item.groupId,
      robotKey: 'k',
      credentialsSealed: 's',
      memberCount: 10,
    })),
  };
}

const item = (groupId: string, status: string, channel = 'wecom', villageCode = `v-${groupId.slice(0, 2)}`): Item => ({
  groupId,
  channel,
  status,
  villageCode,
});

describe('the case list reads every case’s reach at once, exactly', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await DeliveryBatchModel.insertMany([
      batch('runA1|t|1', 'notice-a', [item('a1-1', 'sent'), item('a1-2', 'failed'), item('a2-1', 'awaiting', 'manual')]),
      batch('runA1|t|2', 'notice-a', [item('a2-2', 'confirmed', 'manual'), item('a3-1', 'skipped')]),
      // A second run of notice A reaches a1-1 again (counted once) and a3-1 this time.
      batch('runA2|t|1', 'notice-a', [item('a1-1', 'sent'), item('a3-1', 'uncertain')]),
      batch('runB|t|1', 'notice-b', [
        item('b1-1', 'awaiting', 'wecom_group'),
        item('b1-2', 'sent', 'wecom_group'),
        item('b2-1', 'pending'),
      ]),
      batch('runC|t|1', 'notice-c', [item('c1-1', 'skipped'), item('c1-2', 'failed')]),
      batch('runD|t|1', 'notice-d', [item('d1-1', 'sent')]),
    ]);
    // Written as an install before the run and notice lists held them: listed as a start does.
    await RunBatchListModel.deleteMany({ _id: { $in: [LISTS_BUILT, NOTICE_LISTS_BUILT] } });
    await buildRunLists();
    await buildNoticeLists();
  });
  afterAll(() => t.close());

  it('gives each notice the figures of its own read, and zeros for one never planned', async () => {
    const ids = ['notice-a', 'notice-b', 'notice-c', 'notice-never'];
    const all = await receivedCountsOf(ids);
    expect(all.get('notice-a')).toEqual({ groupCount: 4, villageCount: 3 });
    expect(all.get('notice-b')).toEqual({ groupCount: 1, villageCount: 1 });
    expect(all.get('notice-c')).toEqual({ groupCount: 0, villageCount: 0 });
    expect(all.get('notice-never')).toEqual({ groupCount: 0, villageCount: 0 });
    // notice-d was not asked for: not in the answer.
    expect(all.has('notice-d')).toBe(false);
    for (const id of ids) expect(all.get(id), id).toEqual(await receivedCounts(id));
  });
});

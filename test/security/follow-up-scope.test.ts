// Issue 26, finding 10: a county's retraction follow-up went to every group that received the
// notice, also other counties' groups that got it through a city or province campaign, on
// the approval of the county's own reviewer. Now the follow-up stays inside its author's
// region, and the other recipients get a follow-up filed where a scope covers them and the
// author's region, in review there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedCampaignAt,
  approvedNotice,
  audienceOf,
  campaignItems,
  runUntilIdle,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

// 10:00 in Shanghai.
const clock = fixedClock('2026-11-29T02:00:00Z');

/**
 * One notice sent to county A's groups by county A's campaign and to county B's groups by a
 * city campaign; returns the county campaign (the one retracted) and the city's reviewer.
 */
async function sentInTwoCounties(w: DeliveryWorld, suspect: string, perCounty: number) {
  const noticeId = await approvedNotice(w, { title: `协查通报：嫌疑人${suspect}` });
  const here = await wecomGroups(w, perCounty, TREE.villageA.code);
  const there = await wecomGroups(w, perCounty, TREE.villageB.code);
  const toGroups = (groups: { id: string }[]) =>
    audienceOf(
      [],
      groups.map((g) => g.id),
    );
  const countyCampaign = await approvedCampaign(w, {
    title: `天河区推送${suspect}`,
    noticeId,
    audience: toGroups(here),
    schedule: { kind: 'now' },
  });
  // The same notice through a city campaign into county B's groups.
  await approvedCampaignAt(w, TREE.city.code, {
    title: `全市推送${suspect}`,
    noticeId,
    audience: toGroups(there),
    schedule: { kind: 'now' },
  });
  const cityReviewer = await w.t.userToken('reviewer', TREE.city.code);
  await runUntilIdle(w);
  return { noticeId, here, there, countyCampaign, cityReviewer };
}

describe('a retraction follow-up and scope', () => {
  let w: DeliveryWorld;
  beforeAll(async () => {
    w = await startDeliveryWorld({ clock, env: { TOKEN_TTL_HOURS: '720' } });
  });
  afterAll(() => w.close());

  it('when county A retracts, then its follow-up reaches county A’s groups only, and county B’s recipients get a follow-up reviewed where both are in scope (the city)', async () => {
    const { noticeId, here, there, countyCampaign, cityReviewer } = await sentInTwoCounties(w, '丁', 2);
    for (const g of [...here, ...there]) expect(w.doubles.received({ robot: g.key })).toHaveLength(1);

    const correction = await approvedNotice(w, { title: '更正：嫌疑人丁信息有误' });
    const retract = await w.t.request('POST', `/api/campaigns/${countyCampaign}/retract`, w.editor, {
      followUpNoticeId: correction,
    });
    expect(retract.statusCode, retract.body).toBe(200);
    const ownFollowUp = retract.json().followUp;
    expect(ownFollowUp.regionCode).toBe(TREE.countyA.code);
    expect((await w.t.request('POST', `/api/campaigns/${ownFollowUp.id}/approve`, w.reviewer)).statusCode).toBe(200);
    await runUntilIdle(w);
    await runUntilIdle(w);

    // County A's reviewer approved posts into county A's groups only.
    const reached = (await campaignItems(ownFollowUp.id)).filter((i) => i.status === 'sent').map((i) => i.groupId);
    expect(reached.sort()).toEqual(here.map((g) => g.id).sort());
    for (const g of there) expect(w.doubles.received({ robot: g.key })).toHaveLength(1);

    // County B's recipients: a follow-up filed at the city (whose scope covers county B's groups
    // and county A's notice), in the city reviewers' queue, not county A's.
    const queue = await w.t.request('GET', '/api/campaigns?status=in_review', cityReviewer.token);
    const theirs = queue.json().filter((c: { followUpOfNotice: string | null }) => c.followUpOfNotice === noticeId) as {
      id: string;
      regionCode: string;
    }[];
    expect(theirs.map((c) => c.regionCode)).toEqual([TREE.city.code]);
    expect((await w.t.request('GET', `/api/campaigns/${theirs[0]!.id}`, w.reviewer)).statusCode).toBe(404);
    const approved = await w.t.request('POST', `/api/campaigns/${theirs[0]!.id}/approve`, cityReviewer.token);
    expect(approved.statusCode, approved.body).toBe(200);
    await runUntilIdle(w);
    await runUntilIdle(w);
    const reachedThere = (await campaignItems(theirs[0]!.id)).filter((i) => i.status === 'sent').map((i) => i.groupId);
    expect(reachedThere.sort()).toEqual(there.map((g) => g.id).sort());
    for (const g of [...here, ...there]) expect(w.doubles.received({ robot: g.key })).toHaveLength(2);
  });

  it('when the correction notice is changed afterwards, then every follow-up of the retraction carries it, each back in its own region’s review', async () => {
    const { noticeId, there, countyCampaign, cityReviewer } = await sentInTwoCounties(w, '戊', 1);

    const first = await approvedNotice(w, { title: '更正：嫌疑人戊（初稿）' });
    const retract = await w.t.request('POST', `/api/campaigns/${countyCampaign}/retract`, w.editor, {
      followUpNoticeId: first,
    });
    expect(retract.statusCode, retract.body).toBe(200);
    const followUps = async () => {
      const queue = await w.t.request('GET', '/api/campaigns?status=in_review', cityReviewer.token);
      return (queue.json() as { id: string; regionCode: string; noticeId: string; followUpOfNotice: string | null }[])
        .filter((c) => c.followUpOfNotice === noticeId)
        .sort((a, b) => a.regionCode.localeCompare(b.regionCode));
    };
    expect((await followUps()).map((c) => [c.regionCode, c.noticeId])).toEqual([
      [TREE.city.code, first],
      [TREE.countyA.code, first],
    ]);

    const second = await approvedNotice(w, { title: '更正：嫌疑人戊（定稿）' });
    const changed = await w.t.request('POST', `/api/campaigns/${countyCampaign}/follow-up`, w.editor, {
      followUpNoticeId: second,
    });
    expect(changed.statusCode, changed.body).toBe(200);
    const after = await followUps();
    expect(after.map((c) => [c.regionCode, c.noticeId])).toEqual([
      [TREE.city.code, second],
      [TREE.countyA.code, second],
    ]);
    // The city's follow-up stays the city reviewers' to decide, not county A's.
    const cityFollowUp = after.find((c) => c.regionCode === TREE.city.code)!;
    expect((await w.t.request('GET', `/api/campaigns/${cityFollowUp.id}`, w.reviewer)).statusCode).toBe(404);
    const approved = await w.t.request('POST', `/api/campaigns/${cityFollowUp.id}/approve`, cityReviewer.token);
    expect(approved.statusCode, approved.body).toBe(200);
    await runUntilIdle(w);
    await runUntilIdle(w);
    const reachedThere = (await campaignItems(cityFollowUp.id)).filter((i) => i.status === 'sent');
    expect(reachedThere.map((i) => i.groupId)).toEqual(there.map((g) => g.id));
  });
});

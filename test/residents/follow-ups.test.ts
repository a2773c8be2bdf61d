// The end of a wanted case, with a fixed clock: at the deadline the scheduler drafts the
// "已过期" follow-up, the "已抓获" action drafts the solved one; each reaches exactly the groups
// that received the original through any campaign (here two), after a reviewer's approval;
// the public page then says how it ended and shows nothing of the suspect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignModel } from '../../src/campaigns/model.js';
import { NoticeModel } from '../../src/notices/model.js';
import { approvedCampaign, approvedNotice, audienceOf, runUntilIdle, wecomGroups } from '../helpers/delivery.js';
import { pageText } from '../helpers/html.js';
import { noticeBody, WANTED } from '../helpers/notices.js';
import { TREE } from '../helpers/regions.js';
import { until } from '../helpers/wait.js';
import { sentWantedCase, startWantedWorld, type WantedWorld } from './world.js';

const SUSPECT = '身高约175厘米'; // from WANTED.suspectDescription

/** Two campaigns of the notice: the world's (village A's first two groups) and one to g1 + g3. */
async function secondCampaign(w: WantedWorld) {
  const [g3, g4] = await wecomGroups(w, 2); // g4 never gets the notice
  await approvedCampaign(w, {
    title: '协查（补发）',
    noticeId: w.noticeId,
    audience: audienceOf([], [w.groups[0]!.id, g3!.id]),
    schedule: { kind: 'now' },
  });
  await runUntilIdle(w);
  return { receivers: [w.groups[0]!, w.groups[1]!, g3!], outsider: g4! };
}

/** Robots that got a message containing `marker`, with how many each. */
function robotsThatGot(w: WantedWorld, marker: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const message of w.doubles.received({ platform: 'wecom' })) {
    if (JSON.stringify(message.body).includes(marker)) counts.set(message.robot, (counts.get(message.robot) ?? 0) + 1);
  }
  return counts;
}

async function approveFollowUp(w: WantedWorld, followUpNoticeId: string, followUpCampaignId: string) {
  const notice = await w.t.request('POST', `/api/notices/${followUpNoticeId}/approve`, w.reviewer, {});
  expect(notice.statusCode, notice.body).toBe(200);
  const campaign = await w.t.request('POST', `/api/campaigns/${followUpCampaignId}/approve`, w.reviewer);
  expect(campaign.statusCode, campaign.body).toBe(200);
}

/**
 * One county for the describes below that do not move the clock to the deadline (the never-sent
 * notice, the caught suspect, the two interrupted conclusions), instead of a county each: a world
 * costs about as much CPU as the tests that use it. Each concludes a wanted case of its own
 * (`caseOfItsOwn`), and what each counts (notices, drafts, sweeps, the groups reached) is its own
 * case's or taken before and after within its test; the never-sent notice's describe, which
 * expects an empty review queue, is the first to use the county. The deadline's describe keeps a
 * county of its own: it moves the clock past every case's deadline and lists every case.
 */
let county: WantedWorld | undefined;
async function sharedCounty(): Promise<WantedWorld> {
  county ??= await startWantedWorld();
  return county;
}
let countyCaseTaken = false;
/** The shared county with a sent case no other describe concludes (the county's own, first). */
async function caseOfItsOwn(): Promise<WantedWorld> {
  const w = await sharedCounty();
  if (!countyCaseTaken) {
    countyCaseTaken = true;
    return w;
  }
  return { ...w, ...(await sentWantedCase(w)) };
}
afterAll(() => county?.close());

describe('when the deadline passes', () => {
  let w: WantedWorld;
  let receivers: { id: string; key: string }[];
  let outsider: { id: string; key: string };

  beforeAll(async () => {
    w = await startWantedWorld();
    ({ receivers, outsider } = await secondCampaign(w));
  });
  afterAll(() => w.close());

  it('drafts nothing on the deadline day itself', async () => {
    w.clock.set('2025-07-31T15:59:00.000Z'); // 23:59 in Asia/Shanghai
    expect(await w.t.ctx.cases.sweepDeadlines()).toBe(0);
  });

  it('drafts the "已过期" follow-up once, flags the case and puts the follow-up first in review', async () => {
    w.clock.set('2025-07-31T16:01:00.000Z'); // 00:01 on 1 August
    expect(await w.t.ctx.cases.sweepDeadlines()).toBe(1);
    expect(await w.t.ctx.cases.sweepDeadlines()).toBe(0);
    const list = await w.t.request('GET', '/api/cases', w.editor);
    expect(list.statusCode, list.body).toBe(200);
    expect(list.json().badge).toBe(1);
    const [kase] = list.json().cases;
    expect(kase).toMatchObject({ noticeId: w.noticeId, deadlinePassed: true, withdrawn: true });
    expect(kase.reached).toEqual({ groupCount: receivers.length, villageCount: 1 });
    expect(kase.attention).toEqual(['deadline_passed', 'follow_up_in_review']);
    expect(kase.outcomes).toHaveLength(1);
    expect(kase.outcomes[0]).toMatchObject({ kind: 'expired', by: 'system', followUpStatus: 'in_review' });
    // A normal campaign submitted later still comes after the follow-up in the review queue.
    const other = await w.t.request('POST', '/api/notices', w.editor, noticeBody({ regionCode: TREE.countyA.code }));
    await w.t.request('POST', `/api/notices/${other.json().id}/submit`, w.editor);
    await w.t.request('POST', `/api/notices/${other.json().id}/approve`, w.reviewer, {});
    const later = await w.t.request('POST', '/api/campaigns', w.editor, {
      title: '日常宣传',
      noticeId: other.json().id,
      audience: audienceOf([TREE.villageA.code]),
      schedule: { kind: 'once', at: '2025-09-01T02:00:00.000Z' },
    });
    expect(later.statusCode, later.body).toBe(201);
    await w.t.request('POST', `/api/campaigns/${later.json().id}/submit`, w.editor);
    const queue = await w.t.request('GET', '/api/campaigns?status=in_review', w.reviewer);
    expect(queue.json().map((c: { id: string }) => c.id)).toEqual([
      kase.outcomes[0].followUpCampaignId,
      later.json().id,
    ]);
    expect(queue.json()[0]).toMatchObject({ priority: 'urgent', status: 'in_review' });
  });

  it('once approved, reaches exactly the union of the original’s recipients across both campaigns', async () => {
    const kase = (await w.t.request('GET', `/api/cases/${w.noticeId}`, w.editor)).json();
    const { followUpNoticeId, followUpCampaignId } = kase.outcomes[0];
    await approveFollowUp(w, followUpNoticeId, followUpCampaignId);
    await runUntilIdle(w);
    w.clock.advance(31_000);
    const got = robotsThatGot(w, '协查通告到期');
    expect([...got.keys()].sort()).toEqual(receivers.map((g) => g.key).sort());
    expect([...got.values()].every((n) => n === 1)).toBe(true);
    expect(got.has(outsider.key)).toBe(false);
  });

  it('then the public page says the notice expired and shows nothing of the suspect, and the form is closed', async () => {
    const page = await w.t.app.inject({ method: 'GET', url: `/n/${w.noticeId}` });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('协查通告已到期');
    expect(pageText(page.body)).toContain('线索征集已结束');
    for (const detail of [SUSPECT, '五山街道', '/media/', '<form', '5000元'])
      expect(`${page.body}\n${pageText(page.body)}`).not.toContain(detail);
    const photo = await w.t.app.inject({ method: 'GET', url: `/media/${w.photoSha256}` });
    expect(photo.statusCode).toBe(404);
    const tip = await w.t.app.inject({
      method: 'POST',
      url: `/n/${w.noticeId}/tips`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'text=%E7%BA%BF%E7%B4%A2',
    });
    expect(tip.statusCode).toBe(409);
    expect(pageText(tip.body)).toContain('不再接收线索');
  });
});

describe('when a wanted notice that never went out reaches its deadline', () => {
  it('is withdrawn with nothing drafted: nobody received it', async () => {
    // The county's own case (deadline 31 July) is sent and not yet due: the sweep leaves it.
    const w = await sharedCounty();
    const unsent = await approvedNotice(w, {
      category: 'wanted_clue',
      regionCode: TREE.countyA.code,
      title: '未发出的协查通告',
      wanted: { ...WANTED, deadline: '2025-07-25' },
    });
    const before = (await w.t.request('GET', '/api/notices?limit=200', w.editor)).json().length;
    w.clock.set('2025-07-25T16:01:00.000Z');
    expect(await w.t.ctx.cases.sweepDeadlines()).toBe(1);
    const kase = (await w.t.request('GET', `/api/cases/${unsent}`, w.editor)).json();
    expect(kase.outcomes).toMatchObject([{ kind: 'expired', followUpNoticeId: null, followUpCampaignId: null }]);
    expect(kase.withdrawn).toBe(true);
    expect((await w.t.request('GET', '/api/notices?limit=200', w.editor)).json().length).toBe(before);
    expect((await w.t.request('GET', '/api/campaigns?status=in_review', w.reviewer)).json()).toEqual([]);
  });
});

describe('when the suspect is caught', () => {
  let w: WantedWorld;
  let receivers: { id: string; key: string }[];
  let outcome: { followUpNoticeId: string; followUpCampaignId: string };

  beforeAll(async () => {
    w = await caseOfItsOwn();
    ({ receivers } = await secondCampaign(w));
  });

  it('"已抓获" drafts the solved follow-up, withdraws the original at once, and its author cannot approve it', async () => {
    const solved = await w.t.request('POST', `/api/cases/${w.noticeId}/solve`, w.editor, {
      kind: 'caught',
      note: '6月3日抓获',
    });
    expect(solved.statusCode, solved.body).toBe(200);
    outcome = solved.json().outcomes[0];
    expect(solved.json().outcomes[0]).toMatchObject({
      kind: 'caught',
      note: '6月3日抓获',
      followUpStatus: 'in_review',
    });
    const again = await w.t.request('POST', `/api/cases/${w.noticeId}/solve`, w.editor, { kind: 'solved' });
    expect(again.statusCode).toBe(409);
    // Withdrawn before the follow-up goes out: only that it was withdrawn.
    const page = await w.t.app.inject({ method: 'GET', url: `/n/${w.noticeId}` });
    expect(page.body).toContain('此通知已撤回');
    expect(`${page.body}\n${pageText(page.body)}`).not.toContain(SUSPECT);
    const ownApproval = await w.t.request('POST', `/api/campaigns/${outcome.followUpCampaignId}/approve`, w.editor);
    expect(ownApproval.statusCode).toBe(403);
  });

  it('once approved, reaches exactly the union of the original’s recipients, and the page says it was solved', async () => {
    await approveFollowUp(w, outcome.followUpNoticeId, outcome.followUpCampaignId);
    await runUntilIdle(w);
    // The page learns of the sent follow-up once its 30-second "not sent yet" memory lapses.
    w.clock.advance(31_000);
    const got = robotsThatGot(w, '嫌疑人已抓获归案');
    expect([...got.keys()].sort()).toEqual(receivers.map((g) => g.key).sort());
    expect([...got.values()].every((n) => n === 1)).toBe(true);
    const page = await w.t.app.inject({ method: 'GET', url: `/n/${w.noticeId}` });
    expect(page.body).toContain('案件已告破');
    expect(pageText(page.body)).toContain('嫌疑人已抓获');
    for (const detail of [SUSPECT, '五山街道', '/media/', '<form', '李警官'])
      expect(`${page.body}\n${pageText(page.body)}`).not.toContain(detail);
    expect((await w.t.app.inject({ method: 'GET', url: `/media/${w.photoSha256}` })).statusCode).toBe(404);
  });
});

describe('when the process concluding a case dies part-way', () => {
  let w: WantedWorld;
  beforeAll(async () => {
    w = await caseOfItsOwn();
  });

  it("the outcome is recorded with the withdrawal, and the scheduler's sweep finishes it once the lease has lapsed: one follow-up draft and campaign", async () => {
    const noticesBefore = await NoticeModel.countDocuments({});
    // The first runner stops for good after drafting the follow-up notice: a process that died.
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
    expect((await NoticeModel.findById(w.noticeId).lean())?.retractedAt).toBeInstanceOf(Date);

    const meanwhile = await w.t.request('POST', `/api/cases/${w.noticeId}/solve`, w.editor, { kind: 'caught' });
    expect(meanwhile.statusCode).toBe(409);
    expect(meanwhile.json().message).toContain('已结案');
    expect(await w.t.ctx.cases.sweepIntents()).toBe(0); // the runner's lease is live

    w.clock.advance(3 * 60_000);
    expect(await w.t.ctx.cases.sweepIntents()).toBe(1);
    expect(await w.t.ctx.cases.sweepIntents()).toBe(0);
    const kase = (await w.t.request('GET', `/api/cases/${w.noticeId}`, w.editor)).json();
    const [outcome, ...more] = kase.outcomes;
    expect(more).toEqual([]);
    expect(outcome).toMatchObject({ kind: 'caught', followUpStatus: 'in_review' });
    const followUps = await CampaignModel.find({ followUpOfNotice: w.noticeId }).lean();
    expect(followUps.map((c) => String(c._id))).toEqual([outcome.followUpCampaignId]);
    expect(String(followUps[0]!.noticeId)).toBe(outcome.followUpNoticeId);
    expect(await NoticeModel.countDocuments({})).toBe(noticesBefore + 1);
    expect((await NoticeModel.findById(outcome.followUpNoticeId).lean())?.status).toBe('in_review');
  });
});

describe('when concluding a case fails part-way with an error', () => {
  let w: WantedWorld;
  beforeAll(async () => {
    w = await caseOfItsOwn();
  });

  it('hands the steps back at once: the sweep finishes them without waiting for the lease, reusing the draft', async () => {
    const campaigns = w.t.ctx.campaigns;
    const createFollowUp = campaigns.createFollowUp;
    campaigns.createFollowUp = () => Promise.reject(new Error('database hiccup'));
    const failed = await w.t.request('POST', `/api/cases/${w.noticeId}/solve`, w.editor, { kind: 'caught' });
    campaigns.createFollowUp = createFollowUp;
    expect(failed.statusCode).toBe(500);

    w.clock.advance(11_000); // past the sweep's grace for a live runner, far inside the lease
    expect(await w.t.ctx.cases.sweepIntents()).toBe(1);
    const [outcome] = (await w.t.request('GET', `/api/cases/${w.noticeId}`, w.editor)).json().outcomes;
    const followUps = await CampaignModel.find({ followUpOfNotice: w.noticeId }).lean();
    expect(followUps.map((c) => String(c.noticeId))).toEqual([outcome.followUpNoticeId]);
  });
});

// The campaign list and a campaign's page read the campaigns a second time (who may act on
// them, whether a retraction's follow-up exists) and the intents' done markers only by `_id`
// equality: FerretDB 1.24 answers an `$in` on `_id` with a scan of every campaign or claim,
// which grows with history (issue 25 item 2). The answers stay what the lifecycle table says.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followUpIdFor } from '../../src/campaigns/service.js';
import { byIdEquality, driverCallsDuring } from '../helpers/commands.js';
import {
  type DeliveryWorld,
  approvedCampaign,
  approvedNotice,
  audienceOf,
  runUntilIdle,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';
import { Scope } from '../../src/regions/scope.js';

type View = { id: string; actions: string[]; followUpId: string | null; status: string; unfinished: unknown[] };

describe('campaign list and page: second reads by _id only', () => {
  let w: DeliveryWorld;
  let draft: string;
  let inReview: string;
  let sent: string;
  let retracted: string;
  let followUp: string;

  /** Every command mongoose sends while `read` runs: collection, method and filter. */
  const commandsOf = async (read: () => Promise<unknown>) =>
    (await driverCallsDuring(read)).map(({ collection, method, args }) => ({
      collection,
      method,
      filter: args[0] as Record<string, unknown>,
    }));

  const byId = byIdEquality;

  beforeAll(async () => {
    w = await startDeliveryWorld();
    const noticeId = await approvedNotice(w);
    const groups = await wecomGroups(w, 2);
    const body = (title: string, notice = noticeId) => ({
      title,
      noticeId: notice,
      audience: audienceOf([], groups.map((g) => g.id)),
      schedule: { kind: 'now' },
    });
    draft = (await w.t.request('POST', '/api/campaigns', w.editor, body('草稿'))).json().id;
    inReview = (await w.t.request('POST', '/api/campaigns', w.editor, body('待审'))).json().id;
    expect((await w.t.request('POST', `/api/campaigns/${inReview}/submit`, w.editor)).statusCode).toBe(200);
    sent = await approvedCampaign(w, body('已发送'));
    const wrong = await approvedNotice(w, { title: '有误的通知' });
    retracted = await approvedCampaign(w, body('将撤回', wrong));
    await runUntilIdle(w);
    const correction = await approvedNotice(w, { title: '更正' });
    const stopped = await w.t.request('POST', `/api/campaigns/${retracted}/retract`, w.editor, {
      followUpNoticeId: correction,
    });
    expect(stopped.statusCode, stopped.body).toBe(200);
    followUp = followUpIdFor(wrong, 'retracted');
  });
  afterAll(() => w.close());

  it('lists each campaign with the actions and follow-up its own page shows, for the author and the reviewer', async () => {
    for (const token of [w.editor, w.reviewer]) {
      const list = (await w.t.request('GET', '/api/campaigns?limit=50', token)).json() as View[];
      expect(list.map((c) => c.id)).toEqual(expect.arrayContaining([draft, inReview, sent, retracted, followUp]));
      for (const row of list) {
        const page = (await w.t.request('GET', `/api/campaigns/${row.id}`, token)).json() as View;
        expect({ actions: row.actions, followUpId: row.followUpId }).toEqual({
          actions: page.actions,
          followUpId: page.followUpId,
        });
      }
    }
    const list = new Map(
      ((await w.t.request('GET', '/api/campaigns?limit=50', w.editor)).json() as View[]).map((c) => [c.id, c]),
    );
    // What the lifecycle table gives the author for each state.
    expect(list.get(draft)!.actions).toEqual(expect.arrayContaining(['edit', 'submit']));
    expect(list.get(inReview)!.actions).not.toContain('approve');
    expect(list.get(retracted)!.followUpId).toBe(followUp);
    expect(list.get(sent)!.followUpId).toBeNull();
    const reviewerList = (await w.t.request('GET', '/api/campaigns?limit=50', w.reviewer)).json() as View[];
    expect(reviewerList.find((c) => c.id === inReview)!.actions).toContain('approve');
  });

  it('a view built for campaigns not read by the list (an action’s answer) equals the list’s', async () => {
    const list = (await w.t.request('GET', '/api/campaigns?limit=50', w.editor)).json() as View[];
    const me = (await w.t.request('GET', '/api/auth/me', w.editor)).json() as { id: string; username: string };
    const editor = {
      id: me.id,
      username: me.username,
      displayName: me.username,
      regionPath: [],
      role: 'editor' as const,
      scope: new Scope(TREE.countyA.code),
    };
    const copies = (await w.t.ctx.campaigns.page(editor.scope, { limit: 50 })).map((c) => ({ ...c }));
    const views = await w.t.ctx.campaigns.viewFor(editor, copies);
    expect(views.map((v) => [v.id, v.actions, v.followUpId])).toEqual(list.map((v) => [v.id, v.actions, v.followUpId]));
  });

  it('reads campaigns and claims by _id only', async () => {
    await w.t.request('GET', '/api/campaigns?limit=50', w.editor); // a process's first list reads its index
    const listed = await commandsOf(() => w.t.request('GET', '/api/campaigns?limit=50', w.editor));
    const campaignReads = listed.filter((c) => c.collection === 'campaigns');
    expect(campaignReads.length).toBeGreaterThan(0);
    expect(campaignReads.filter((c) => !byId(c.filter))).toEqual([]); // the page too (list-index.ts)
    expect(listed.filter((c) => c.collection === 'claims' && !byId(c.filter))).toEqual([]);

    for (const id of [draft, retracted]) {
      const page = await commandsOf(() => w.t.request('GET', `/api/campaigns/${id}`, w.editor));
      const notById = page.filter((c) => (c.collection === 'campaigns' || c.collection === 'claims') && !byId(c.filter));
      expect(notById).toEqual([]);
    }
  });
});

// The workbench's other figures (待审核 notices and campaigns, 协查临期, 新线索, the admin's
// first-day steps) come from tallies kept under their collections' version tokens
// (src/workbench/tallies.ts, src/db/versions.ts): they must equal the counts the old code made
// by scanning (written out below as queries), for an existing install (documents written
// directly, no tokens) and after every kind of write through mongoose; and a repeated call
// reads nothing but documents by `_id`. Real FerretDB and HTTP, fixed clock; nothing timed.
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { GroupModel } from '../../src/audience/model.js';
import { UserModel } from '../../src/auth/model.js';
import { CampaignModel } from '../../src/campaigns/model.js';
import { prepareDatabase } from '../../src/context.js';
import { CollectionVersionModel } from '../../src/db/versions.js';
import { fixedClock } from '../../src/lib/clock.js';
import { NoticeModel } from '../../src/notices/model.js';
import { RegionModel } from '../../src/regions/model.js';
import { TipModel } from '../../src/tips/model.js';
import { MAX_KEEP_MS, TALLIED_COLLECTIONS } from '../../src/workbench/tallies.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { byIdOnly, commandsDuring } from '../helpers/commands.js';
import { WANTED, noticeBody } from '../helpers/notices.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

// 12:00 in Shanghai on 2026-12-03.
const clock = fixedClock('2026-12-03T04:00:00Z');
/** The whole re-read of a tally nobody wrote to (TALLY_RECOUNT_MINUTES), longer than the idle hour below. */
const RECOUNT_MINUTES = 90;
const A = ['000000', '440000', '440100', '440106', '440106001', '440106001001'];
const B = ['000000', '440000', '440100', '440111', '440111002', '440111002003'];

describe('workbench tallies under version tokens', () => {
  let t: TestApp;
  let editor: { token: string; id: string };
  let reviewer: { token: string; id: string };

  beforeAll(async () => {
    t = await startTestApp({
      clock,
      env: { TOKEN_TTL_HOURS: '720', TALLY_RECOUNT_MINUTES: String(RECOUNT_MINUTES) },
    });
    await createRegionTree(t);
    editor = await t.userToken('editor', TREE.countyA.code);
    reviewer = await t.userToken('reviewer', TREE.city.code);
    const oid = () => new mongoose.Types.ObjectId();
    const notice = (
      path: string[],
      status: string,
      wanted?: { deadline: string },
      extra: Record<string, unknown> = {},
    ) => ({
      _id: oid(),
      regionCode: path.at(-1),
      regionPath: path,
      status,
      retractedAt: null,
      content: { category: wanted ? 'wanted_clue' : 'anti_fraud', title: 't', ...(wanted ? { wanted } : {}) },
      ...extra,
    });
    // An install from before the tokens: documents written directly, no token changed.
    await NoticeModel.collection.insertMany([
      notice(A, 'in_review'),
      notice(A, 'in_review'),
      notice(B, 'in_review'),
      notice(A, 'approved', { deadline: '2026-12-04' }), // near: within 3 days
      notice(A, 'approved', { deadline: '2026-11-30' }), // past: also wants an author
      notice(A, 'approved', { deadline: '2026-12-20' }), // far
      notice(B, 'approved', { deadline: '2026-12-03' }, { caseOutcomes: [{ kind: 'caught' }] }), // closed
      notice(B, 'approved', { deadline: '2026-12-03' }, { retractedAt: new Date('2026-12-01T00:00:00Z') }),
      notice(B, 'approved', { deadline: '2026-12-05' }),
    ] as never[]);
    const campaign = (path: string[], status: string, followUp: string | null = null) => ({
      _id: oid(),
      regionPath: path,
      status,
      followUpOfNotice: followUp ? String(oid()) : null,
      followUpOutcome: followUp,
    });
    await CampaignModel.collection.insertMany([
      campaign(A, 'in_review'),
      campaign(B, 'in_review', 'caught'),
      campaign(A, 'in_review', 'expired'),
      campaign(A, 'approved', 'solved'),
      campaign(A, 'in_review', 'retracted'),
    ] as never[]);
    const tip = (path: string[], status: string, contactUserId: string | null) => ({
      _id: oid(),
      regionPath: path,
      status,
      contactUserId,
    });
    await TipModel.collection.insertMany([
      tip(A, 'new', null),
      tip(A, 'new', editor.id),
      tip(B, 'new', editor.id), // outside the editor's county, but the editor is its contact
      tip(B, 'new', null),
      tip(A, 'handled', null),
    ] as never[]);
    await GroupModel.collection.insertMany([
      { _id: oid(), regionPath: A, channelKind: 'manual' },
      { _id: oid(), regionPath: B, channelKind: 'wecom' },
    ] as never[]);
    await CollectionVersionModel.deleteMany({});
    await prepareDatabase(t.ctx);
  });
  afterAll(() => t.close());

  /** The figures as the old code counted them (a scan per figure), for a caller. */
  async function scanned(regionCode: string, userId: string) {
    const scope = { regionPath: regionCode };
    const limit = '2026-12-05';
    const [noticesInReview, campaignsInReview, near, followUps, newTips, counties, groups, robots, users, notices] =
      await Promise.all([
        NoticeModel.countDocuments({ ...scope, status: 'in_review' }),
        CampaignModel.countDocuments({ ...scope, status: 'in_review' }),
        NoticeModel.countDocuments({
          ...scope,
          'content.category': 'wanted_clue',
          status: 'approved',
          retractedAt: null,
          'caseOutcomes.0': { $exists: false },
          'content.wanted.deadline': { $lte: limit },
        }),
        CampaignModel.countDocuments({
          ...scope,
          followUpOfNotice: { $ne: null },
          followUpOutcome: { $in: ['caught', 'solved', 'expired'] },
          status: 'in_review',
        }),
        TipModel.countDocuments({ status: 'new', $or: [scope, { contactUserId: userId }] }),
        RegionModel.countDocuments({ ...scope, level: 'county' }),
        GroupModel.countDocuments(scope),
        GroupModel.countDocuments({ ...scope, channelKind: { $ne: 'manual' } }),
        UserModel.countDocuments({ ...scope, _id: { $ne: userId } }),
        NoticeModel.countDocuments(scope),
      ]);
    return {
      noticesInReview,
      campaignsInReview,
      casesToHandle: near + followUps,
      newTips,
      setup: [counties > 0, groups > 0, robots > 0, users > 0, notices > 0],
    };
  }

  async function served(token: string) {
    const response = await t.request('GET', '/api/workbench/counts', token);
    expect(response.statusCode, response.body).toBe(200);
    const c = response.json();
    return {
      noticesInReview: c.noticesInReview,
      campaignsInReview: c.campaignsInReview,
      casesToHandle: c.casesToHandle,
      newTips: c.newTips,
      setup: c.setup ? (c.setup as { done: boolean }[]).map((s) => s.done) : null,
    };
  }

  /** The service's clock and the process's (Date only: timers stay real) moved together, for one test. */
  function movingClock() {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    return (ms: number) => {
      clock.advance(ms);
      vi.setSystemTime(Date.now() + ms);
    };
  }

  async function expectExact() {
    const admin = await served(t.adminToken);
    const adminId = (await UserModel.findOne({ username: 'admin' }).lean())!._id.toString();
    expect(admin).toEqual(await scanned('000000', adminId));
    const ed = await served(editor.token);
    const edScan = await scanned(TREE.countyA.code, editor.id);
    expect(ed).toEqual({ ...edScan, noticesInReview: null, campaignsInReview: null, setup: null });
    const rv = await served(reviewer.token);
    const rvScan = await scanned(TREE.city.code, reviewer.id);
    expect(rv.noticesInReview).toBe(rvScan.noticesInReview);
    expect(rv.campaignsInReview).toBe(rvScan.campaignsInReview);
    return { admin, ed };
  }

  it('equal the scans for an existing install and after every kind of write', async () => {
    const { admin, ed } = await expectExact();
    expect(admin.noticesInReview).toBe(3);
    expect(ed.casesToHandle).toBe(3); // near + past + the expired follow-up in review
    expect(ed.newTips).toBe(3); // two in the county, one it is the contact of elsewhere

    // Query writes, a save, an insertMany, a delete: each changes its collection's token.
    await NoticeModel.updateMany(
      { status: 'in_review', regionPath: TREE.countyB.code },
      { $set: { status: 'approved' } },
    );
    await CampaignModel.updateOne(
      { status: 'approved', regionPath: TREE.countyA.code },
      { $set: { status: 'in_review' } },
    );
    await TipModel.deleteOne({ status: 'new', contactUserId: null, regionPath: TREE.countyA.code });
    await GroupModel.deleteMany({});
    await expectExact();
    await NoticeModel.insertMany(
      [
        {
          regionCode: TREE.countyB.code,
          regionPath: B,
          status: 'in_review',
          version: 1,
          content: { category: 'anti_fraud', title: 'x', body: 'x', issuingUnit: 'x', hotline: '110' },
          authorId: editor.id,
          editorIds: [editor.id],
        },
      ],
      { lean: true },
    );
    await expectExact();
    expect((await served(t.adminToken)).setup).toEqual([true, false, false, true, true]);
  });

  it('apply a write made after the figures were kept from the change log, by _id only', async () => {
    for (const token of [editor.token, reviewer.token, t.adminToken]) await served(token);
    // Through the API: a notice submitted for review, a wanted notice approved, a campaign
    // approved, a user made; each after every figure was kept.
    const notice = await t.request('POST', '/api/notices', editor.token, noticeBody());
    expect(notice.statusCode, notice.body).toBe(201);
    expect((await t.request('POST', `/api/notices/${notice.json().id}/submit`, editor.token)).statusCode).toBe(200);
    const wanted = await t.request(
      'POST',
      '/api/notices',
      editor.token,
      noticeBody({
        category: 'wanted_clue',
        wanted: { ...WANTED, deadline: '2026-12-04' },
      }),
    );
    expect(wanted.statusCode, wanted.body).toBe(201);
    expect((await t.request('POST', `/api/notices/${wanted.json().id}/submit`, editor.token)).statusCode).toBe(200);
    expect((await t.request('POST', `/api/notices/${wanted.json().id}/approve`, reviewer.token, {})).statusCode).toBe(
      200,
    );
    // (A campaign's state changes are writes by `_id`, as changeStateOnce makes them.)
    const inReview = await CampaignModel.findOne({ status: 'in_review', regionPath: TREE.countyB.code }).lean();
    await CampaignModel.updateOne({ _id: inReview!._id }, { $set: { status: 'approved' } });
    const user = await t.request('POST', '/api/users', t.adminToken, {
      username: 'tally-viewer',
      displayName: '测试查看',
      password: 'pw-tally-viewer-secret',
      role: 'viewer',
      regionCode: TREE.countyB.code,
    });
    expect(user.statusCode, user.body).toBe(201);
    for (const token of [editor.token, reviewer.token, t.adminToken]) {
      const seen = await commandsDuring(() => served(token));
      const reads = seen.filter(
        (c) =>
          ['find', 'count', 'aggregate', 'distinct'].includes(c.name) &&
          TALLIED_COLLECTIONS.includes(c.collection as never),
      );
      for (const read of reads) expect(byIdOnly(read.filter), JSON.stringify(read)).toBe(true);
      // The tallies' tokens (one small document per tallied collection): one read for the call.
      expect(seen.filter((c) => c.collection === 'countversions')).toHaveLength(1);
    }
    const { admin, ed } = await expectExact();
    expect(ed.casesToHandle).toBeGreaterThan(0);
    expect(admin.noticesInReview).toBeGreaterThan(0);
  });

  it('read only documents by _id when nothing changed', async () => {
    for (const token of [editor.token, reviewer.token, t.adminToken]) {
      await served(token);
      const seen = await commandsDuring(() => served(token));
      // (The session look-up by token hash is authentication's, before the route: not counted here.)
      const reads = seen.filter(
        (c) => ['find', 'count', 'aggregate', 'distinct'].includes(c.name) && c.collection !== 'sessions',
      );
      expect(reads.length).toBeGreaterThan(0);
      // The tokens (one document per tallied collection, six at most) are read in one command.
      const tokens = reads.filter((c) => c.collection === 'countversions');
      expect(tokens).toHaveLength(1);
      for (const read of reads) expect(byIdOnly(read.filter) || read === tokens[0], JSON.stringify(read)).toBe(true);
    }
  });

  it('an idle process reads no tallied collection whole while nothing is written, and stays exact after writes', async () => {
    const wholeReads = async () => {
      // The calls, and the background reads they start.
      const seen = await commandsDuring(async () => {
        for (const token of [editor.token, t.adminToken]) await served(token);
        await t.ctx.workbench.settled();
      });
      return seen.filter(
        (c) =>
          ['find', 'count', 'aggregate', 'distinct'].includes(c.name) &&
          TALLIED_COLLECTIONS.includes(c.collection as never) &&
          !byIdOnly(c.filter),
      );
    };
    const advance = movingClock();
    await expectExact();
    // Every tally read whole once since its last write (the earlier tests wrote to each).
    advance(MAX_KEEP_MS + 1);
    await wholeReads();
    // Idle: an hour of calls, every 5 minutes, nothing written: no whole read.
    for (let i = 0; i < 12; i += 1) {
      advance(MAX_KEEP_MS + 1);
      expect(await wholeReads()).toEqual([]);
    }
    // Writes by another process (through mongoose: logged, token changed), then a write that
    // skipped its log (a writer killed before its record): the next logged write makes the
    // collection's next whole read take both in.
    const inReview = await NoticeModel.findOne({ status: 'in_review' }).lean();
    await NoticeModel.updateOne({ _id: inReview!._id }, { $set: { status: 'approved' } });
    await expectExact();
    const approved = await NoticeModel.findOne({ status: 'approved', regionPath: TREE.countyA.code }).lean();
    await NoticeModel.collection.updateOne({ _id: approved!._id }, { $set: { status: 'in_review' } });
    const other = await CampaignModel.findOne({ status: 'in_review' }).lean();
    await CampaignModel.updateOne({ _id: other!._id }, { $set: { status: 'approved' } });
    await NoticeModel.updateOne({ _id: inReview!._id }, { $set: { status: 'in_review' } });
    advance(MAX_KEEP_MS + 1);
    const reads = await wholeReads();
    expect(reads.map((c) => c.collection).sort()).toEqual(['campaigns', 'notices']);
    await expectExact();
    advance(MAX_KEEP_MS + 1);
    expect(await wholeReads()).toEqual([]);
  });

  it('take in a write whose writer was killed before its log record within TALLY_RECOUNT_MINUTES, though nothing is written after it', async () => {
    const advance = movingClock();
    await expectExact();
    // A writer killed between its write and its log record: a new tip in the editor's county,
    // no record, no new token; nothing writes tips after it.
    await TipModel.collection.insertOne({
      _id: new mongoose.Types.ObjectId(),
      regionPath: A,
      status: 'new',
      contactUserId: null,
    } as never);
    // Calls every 5 minutes, nothing written, until the bound has passed since any whole read.
    const seen = await commandsDuring(async () => {
      for (let waited = 0; waited <= RECOUNT_MINUTES * 60_000; waited += MAX_KEEP_MS + 1) {
        advance(MAX_KEEP_MS + 1);
        for (const token of [editor.token, t.adminToken]) await served(token);
        await t.ctx.workbench.settled();
      }
    });
    // One whole read of tips in all that time (the bound), and the figures take the tip in.
    expect(seen.filter((c) => c.collection === 'tips' && !byIdOnly(c.filter)).map((c) => c.name)).toEqual(['find']);
    await expectExact();
  });
});

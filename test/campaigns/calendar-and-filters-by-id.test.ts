// The calendar and the filtered campaign lists (status, title, creation dates) choose their
// campaigns from the process's index (campaigns/list-index.ts) — the lists read them by `_id`,
// the calendar none (the index holds what it shows) — and answer what the scan answers:
// varied schedules (now, once, daily, weekly, a cron with a start, ended), every status
// (draft, in review, approved, paused, cancelled, completed) in three scopes, after status
// changes through the API and through a write not by `_id` (issue 25 item 2).
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calendarEntries } from '../../src/campaigns/calendar/service.js';
import { CampaignModel } from '../../src/campaigns/model.js';
import type { Campaign } from '../../src/campaigns/service.js';
import { fixedClock } from '../../src/lib/clock.js';
import { NoticeModel } from '../../src/notices/model.js';
import { commandsDuring } from '../helpers/commands.js';
import {
  type DeliveryWorld,
  approvedNotice,
  audienceOf,
  runUntilIdle,
  startDeliveryWorld,
  wecomGroups,
} from '../helpers/delivery.js';
import { TREE } from '../helpers/regions.js';

const DAY = 86_400_000;
const clock = fixedClock(new Date(Math.floor(Date.now() / 60_000) * 60_000));

describe('calendar and filtered campaign lists from the index', () => {
  let w: DeliveryWorld;
  let editorB: { token: string };
  let reviewerB: { token: string };
  const people: { name: string; token: string; code: string }[] = [];

  async function ok(method: 'GET' | 'POST' | 'PUT', path: string, token: string, body?: unknown, status = 200) {
    const response = await w.t.request(method, path, token, body);
    expect(response.statusCode, `${method} ${path}: ${response.body}`).toBe(status);
    return response.json();
  }

  /** A campaign through the API, then moved to `state`. */
  async function campaign(
    token: string,
    reviewer: string,
    notice: string,
    group: string,
    title: string,
    schedule: Record<string, unknown>,
    state: 'draft' | 'in_review' | 'approved' | 'paused' | 'cancelled',
  ) {
    const created = await ok(
      'POST',
      '/api/campaigns',
      token,
      { title, noticeId: notice, audience: audienceOf([], [group]), schedule },
      201,
    );
    clock.advance(60_000);
    if (state === 'draft') return created.id as string;
    await ok('POST', `/api/campaigns/${created.id}/submit`, token);
    if (state === 'in_review') return created.id as string;
    await ok('POST', `/api/campaigns/${created.id}/approve`, reviewer);
    if (state === 'paused') await ok('POST', `/api/campaigns/${created.id}/pause`, token);
    if (state === 'cancelled') await ok('POST', `/api/campaigns/${created.id}/cancel`, token);
    return created.id as string;
  }

  /** Today's calendar, as the scan computed it: the newest 500 in scope by creation, every notice's category. */
  async function scannedCalendar(code: string, query: { from: Date; to: Date; status?: string; category?: string }) {
    const docs = await CampaignModel.find({ regionPath: code, ...(query.status ? { status: query.status } : {}) })
      .sort({ createdAt: -1 })
      .limit(500)
      .lean();
    const campaigns = (await Promise.all(
      docs.map((d) => w.t.ctx.campaigns.findForEngine(String(d._id))),
    )) as Campaign[];
    const notices = await NoticeModel.find({}).lean();
    const categories = new Map(
      notices.map((n) => [String(n._id), (n as { content: { category: string } }).content.category]),
    );
    const { timeZone, quietHours } = w.t.ctx.config;
    const entries = calendarEntries(campaigns, categories, query as never, { timeZone, quietHours }, clock.now());
    return JSON.parse(JSON.stringify(entries));
  }

  async function calendar(token: string, query: { from: Date; to: Date; status?: string; category?: string }) {
    const params = new URLSearchParams({ from: query.from.toISOString(), to: query.to.toISOString() });
    if (query.status) params.set('status', query.status);
    if (query.category) params.set('category', query.category);
    return ok('GET', `/api/calendar?${params}`, token);
  }

  const windows = () => {
    const now = clock.now().getTime();
    return [
      { from: new Date(now - 30 * DAY), to: new Date(now + 7 * DAY) },
      { from: new Date(now + 10 * DAY), to: new Date(now + 40 * DAY) },
      { from: new Date(now - DAY), to: new Date(now + DAY), status: 'approved' },
      { from: new Date(now - 30 * DAY), to: new Date(now + 60 * DAY), status: 'cancelled' },
      { from: new Date(now - 30 * DAY), to: new Date(now + 60 * DAY), category: 'anti_theft' },
    ];
  };

  async function expectCalendarsAsScan() {
    for (const person of people) {
      for (const query of windows()) {
        expect(await calendar(person.token, query), `${person.name} ${JSON.stringify(query)}`).toEqual(
          await scannedCalendar(person.code, query),
        );
      }
    }
  }

  /** Every page of a filtered list (2 a page), through the API. */
  async function listed(token: string, filters: Record<string, string>) {
    const ids: string[] = [];
    const sort = filters.sort ?? 'newest';
    let cursor: string | undefined;
    for (let page = 0; page < 50; page += 1) {
      const query = new URLSearchParams({ limit: '2', ...filters });
      if (cursor) query.set(sort === 'newest' ? 'before' : 'after', cursor);
      const rows = (await ok('GET', `/api/campaigns?${query}`, token)) as { id: string }[];
      ids.push(...rows.map((r) => r.id));
      if (rows.length < 2) return ids;
      cursor = rows.at(-1)!.id;
    }
    throw new Error('more than 50 pages');
  }

  async function scannedList(code: string, filters: Record<string, string>) {
    const filter: Record<string, unknown> = { regionPath: code };
    if (filters.status) filter.status = filters.status;
    if (filters.q) filter.title = { $regex: filters.q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), $options: 'i' };
    if (filters.from || filters.to) {
      filter.createdAt = {
        ...(filters.from ? { $gte: new Date(filters.from) } : {}),
        ...(filters.to ? { $lt: new Date(filters.to) } : {}),
      };
    }
    const docs = await CampaignModel.find(filter, { _id: 1 })
      .sort({ _id: filters.sort === 'oldest' ? 1 : -1 })
      .lean();
    return docs.map((d) => String(d._id));
  }

  const filterSets = async () => {
    const created = (await CampaignModel.find({}, { createdAt: 1 }).sort({ createdAt: 1 }).lean()).map(
      (d) => d.createdAt,
    );
    const middle = created[Math.floor(created.length / 2)]!.toISOString();
    return [
      ...['draft', 'in_review', 'approved', 'paused', 'cancelled', 'completed'].map((status) => ({ status })),
      { status: 'approved', sort: 'oldest' },
      { q: '每周' },
      { q: 'abc' },
      { from: middle },
      { to: middle, sort: 'oldest' },
      { q: '提醒', status: 'approved', from: created[0]!.toISOString() },
    ] as Record<string, string>[];
  };

  async function expectListsAsScan() {
    for (const person of people) {
      for (const filters of await filterSets()) {
        expect(await listed(person.token, filters), `${person.name} ${JSON.stringify(filters)}`).toEqual(
          await scannedList(person.code, filters),
        );
      }
    }
  }

  beforeAll(async () => {
    w = await startDeliveryWorld({ clock });
    const noticeA = await approvedNotice(w);
    const theft = await approvedNotice(w, { category: 'anti_theft', title: '防盗提醒' });
    editorB = await w.t.userToken('editor', TREE.countyB.code);
    reviewerB = await w.t.userToken('reviewer', TREE.countyB.code);
    const noticeB = await approvedNotice({ ...w, editor: editorB.token, reviewer: reviewerB.token });
    const groupA = (await wecomGroups(w, 1))[0]!.id;
    const groupB = (await wecomGroups(w, 1, TREE.villageB.code))[0]!.id;
    const now = clock.now().getTime();
    const at = (days: number, hourUtc = 2) => {
      const d = new Date(now + days * DAY);
      d.setUTCHours(hourUtc, 0, 0, 0);
      return d.toISOString();
    };
    const A = (
      title: string,
      notice: string,
      schedule: Record<string, unknown>,
      state: Parameters<typeof campaign>[6],
    ) => campaign(w.editor, w.reviewer, notice, groupA, title, schedule, state);
    const B = (title: string, schedule: Record<string, unknown>, state: Parameters<typeof campaign>[6]) =>
      campaign(editorB.token, reviewerB.token, noticeB, groupB, title, schedule, state);

    // A one-off run now, completed by the engine.
    await A('立即提醒', noticeA, { kind: 'now' }, 'approved');
    await runUntilIdle(w);
    await A('单次提醒', noticeA, { kind: 'once', at: at(3) }, 'approved');
    await A('远期单次提醒', theft, { kind: 'once', at: at(80) }, 'approved');
    await A('每日提醒', noticeA, { kind: 'cron', cron: '0 9 * * *', endAt: at(20) }, 'approved');
    await A('每周提醒', theft, { kind: 'cron', cron: '30 23 * * 1', endAt: at(90) }, 'paused');
    await A('下月每周提醒', noticeA, { kind: 'cron', cron: '0 10 * * 3', startAt: at(70), endAt: at(120) }, 'approved');
    await A('取消的每日提醒', noticeA, { kind: 'cron', cron: '15 8 * * *', endAt: at(30) }, 'cancelled');
    await A('草稿单次', theft, { kind: 'once', at: at(5) }, 'draft');
    await A('待审每日', noticeA, { kind: 'cron', cron: '0 12 */2 * *', endAt: at(15) }, 'in_review');
    await B('乙单次提醒', { kind: 'once', at: at(2) }, 'approved');
    await B('乙每周提醒', { kind: 'cron', cron: '0 9 * * 5', endAt: at(40) }, 'approved');
    await B('乙取消', { kind: 'once', at: at(6) }, 'cancelled');
    // An ended cron campaign: it ran for ten days until yesterday (as the engine leaves it: completed).
    // Approved with an end three days ahead (with `at(1)` no 07:00 Beijing lay between a start
    // after 23:00 UTC and the end, and the approval was refused), then moved into the past.
    const ended = await A('已结束的每日提醒', noticeA, { kind: 'cron', cron: '0 7 * * *', endAt: at(3) }, 'approved');
    await CampaignModel.updateOne(
      { _id: ended },
      {
        $set: {
          status: 'completed',
          nextRunAt: null,
          'schedule.startAt': new Date(now - 10 * DAY),
          'schedule.endAt': new Date(now - DAY),
        },
      },
    );
    people.push(
      { name: 'admin', token: w.t.adminToken, code: '000000' },
      { name: 'editor A', token: w.editor, code: TREE.countyA.code },
      { name: 'editor B', token: editorB.token, code: TREE.countyB.code },
    );
  });
  afterAll(() => w.close());

  it('answers what the scan answers: the calendar in several windows, statuses and categories, in three scopes', async () => {
    await expectCalendarsAsScan();
  });

  it('answers what the scan answers: the list filtered by status, title and creation dates, every page', async () => {
    await expectListsAsScan();
  });

  it('sees status, schedule and title changes, through the API and through a write not by _id', async () => {
    await calendar(w.editor, windows()[0]!); // the index is read
    const paused = (await CampaignModel.findOne({ title: '单次提醒' }).lean())!;
    await ok('POST', `/api/campaigns/${paused._id}/pause`, w.editor);
    // An edit: a new title and a schedule that moves its run into another window.
    const draft = (await CampaignModel.findOne({ title: '草稿单次' }).lean())!;
    const edited = {
      title: '改过的草稿 abc',
      noticeId: draft.noticeId,
      audience: audienceOf([], draft.audience.groups),
      schedule: { kind: 'once', at: new Date(clock.now().getTime() + 15 * DAY).toISOString() },
    };
    await ok('PUT', `/api/campaigns/${draft._id}`, w.editor, edited);
    await expectCalendarsAsScan();
    await expectListsAsScan();
    await CampaignModel.updateMany({ title: /^乙/ }, { $set: { status: 'paused' } });
    await expectCalendarsAsScan();
    await expectListsAsScan();
  });

  it('reads campaigns only by _id, and the calendar none (notices by _id)', async () => {
    await calendar(w.editor, windows()[0]!); // the index is read
    const seen = await commandsDuring(async () => {
      await calendar(w.editor, windows()[0]!);
      await calendar(w.t.adminToken, windows()[0]!);
      for (const filters of await filterSets()) await listed(w.editor, filters);
    });
    const campaignReads = seen.filter((c) => c.collection === 'campaigns');
    expect(campaignReads.length).toBeGreaterThan(0);
    const byId = (f: Record<string, unknown> | null) =>
      typeof f?._id === 'string' || f?._id instanceof mongoose.Types.ObjectId;
    // The truth's scan for filterSets (one, sorted by createdAt) is the only other read.
    expect(campaignReads.filter((c) => !byId(c.filter))).toHaveLength(1);
    // The calendar holds what it shows in the index: no campaign read at all, notices by _id.
    const calendarSeen = await commandsDuring(() => calendar(w.t.adminToken, windows()[0]!));
    expect(calendarSeen.filter((c) => c.collection === 'campaigns')).toEqual([]);
    const noticeReads = calendarSeen.filter((c) => c.collection === 'notices');
    expect(noticeReads.length).toBeGreaterThan(0);
    expect(noticeReads.filter((c) => !byId(c.filter))).toEqual([]);
  });
});

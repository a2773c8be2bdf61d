// Lists at the baseline (issue 21.7), the API side: users and groups paged by keyset cursor
// with their filters (no cap, nothing filtered in the browser), and batch actions that run the
// single-item action per id — its checks, its audit entry — answering one result per item.
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { createGroup } from '../helpers/groups.js';
import { noticeBody } from '../helpers/notices.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

type Result = { id: string; name: string | null; ok: boolean; message: string | null };

describe('lists: paging users and groups, batch actions on groups and the review queue', { timeout: 120_000 }, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
  });
  afterAll(() => t.close());

  it('when the admin pages users by cursor, then every user of the scope comes once, filters are the API\'s', async () => {
    const made = [];
    for (let i = 0; i < 7; i += 1) made.push(await t.userToken(i % 2 ? 'officer' : 'editor', TREE.countyA.code));
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await t.request('GET', `/api/users?limit=3${after ? `&after=${after}` : ''}`, t.adminToken);
      expect(page.statusCode, page.body).toBe(200);
      const rows = page.json() as { id: string }[];
      seen.push(...rows.map((r) => r.id));
      if (rows.length < 3) break;
      after = rows.at(-1)!.id;
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (const user of made) expect(seen).toContain(user.id);
    const officers = (await t.request('GET', '/api/users?role=officer&limit=100', t.adminToken)).json() as { role: string }[];
    expect(officers.length).toBe(3);
    expect(officers.every((u) => u.role === 'officer')).toBe(true);
    const named = (await t.request('GET', `/api/users?q=${made[0]!.username}`, t.adminToken)).json() as { id: string }[];
    expect(named.map((u) => u.id)).toEqual([made[0]!.id]);
    const newest = (await t.request('GET', '/api/users?sort=newest&limit=1', t.adminToken)).json() as { id: string }[];
    expect(newest[0]!.id).toBe(made.at(-1)!.id);
    // The export holds every officer the filter selects, in Chinese words.
    const sheet = await t.app.inject({ method: 'GET', url: '/api/users/export?role=officer', headers: { authorization: `Bearer ${t.adminToken}` } });
    expect(sheet.statusCode).toBe(200);
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(sheet.rawPayload as unknown as ArrayBuffer);
    const values = book.worksheets[0]!.getSheetValues().slice(1) as unknown[][];
    expect(values[0]!.slice(1, 4)).toEqual(['登录名', '姓名', '角色']);
    expect(values.slice(1).map((r) => r[3])).toEqual(['所长/社区民警', '所长/社区民警', '所长/社区民警']);
  });

  it('when groups are filtered by officer on the server, then a page holds only that officer\'s groups', async () => {
    await createGroup(t, { officer: { name: '李警官', phone: '13900000011' } });
    await createGroup(t, { officer: { name: '王警官', phone: '13900000022' } });
    const byName = (await t.request('GET', '/api/groups?officer=李警官', t.adminToken)).json() as { officer: { name: string } }[];
    expect(byName.map((g) => g.officer.name)).toEqual(['李警官']);
    const byPhone = (await t.request('GET', '/api/groups?officer=0000022', t.adminToken)).json() as { officer: { name: string } }[];
    expect(byPhone.map((g) => g.officer.name)).toEqual(['王警官']);
  });

  it('when groups are sorted by 人数 or 群名称 and paged by cursor, then every group comes once in that order, ties included', async () => {
    for (const [name, members] of [['排序群丙', 30], ['排序群甲', 10], ['排序群丁', 30], ['排序群乙', 20], ['排序群戊', 30]] as const)
      await createGroup(t, { name, memberCount: members, regionCode: TREE.villageA.code, tags: ['排序'] });
    const walk = async (sort: string) => {
      const seen: { id: string; name: string; memberCount: number }[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await t.request('GET', `/api/groups?tag=排序&sort=${sort}&limit=2${after ? `&after=${after}` : ''}`, t.adminToken);
        expect(page.statusCode, page.body).toBe(200);
        const rows = page.json() as { id: string; name: string; memberCount: number }[];
        seen.push(...rows);
        if (rows.length < 2) return seen;
        after = rows.at(-1)!.id;
      }
    };
    const byMembers = await walk('-members');
    expect(byMembers.map((g) => g.memberCount)).toEqual([30, 30, 30, 20, 10]);
    expect(new Set(byMembers.map((g) => g.id)).size).toBe(5);
    const byName = await walk('name');
    expect(byName.map((g) => g.name)).toEqual([...byName.map((g) => g.name)].sort());
    expect(byName).toHaveLength(5);
    const bad = await t.request('GET', '/api/groups?sort=members&after=0123456789abcdef01234567', t.adminToken);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().field).toBe('after');
  });

  it('when the admin deactivates, re-assigns and tags groups in one batch, then each is changed and audited', async () => {
    const a = await createGroup(t);
    const b = await createGroup(t, { regionCode: TREE.villageB.code });
    const missing = '0123456789abcdef01234567';
    const off = await t.request('POST', '/api/groups/batch', t.adminToken, { ids: [a.id, b.id, missing], action: 'deactivate' });
    expect(off.statusCode, off.body).toBe(200);
    const answer = off.json() as { succeeded: number; failed: number; results: Result[] };
    expect(answer).toMatchObject({ succeeded: 2, failed: 1 });
    expect(answer.results.map((r) => [r.id, r.ok])).toEqual([
      [a.id, true],
      [b.id, true],
      [missing, false],
    ]);
    expect(answer.results[0]!.name).toBe(a.name);
    expect(answer.results[2]!.message).toBe('不存在或不在您的管辖范围内');
    expect((await t.request('GET', `/api/groups/${a.id}`, t.adminToken)).json().active).toBe(false);

    const officer = await t.request('POST', '/api/groups/batch', t.adminToken, {
      ids: [a.id, b.id],
      action: 'officer',
      officer: { name: '赵警官', phone: '13900000033' },
    });
    expect(officer.json().succeeded).toBe(2);
    const tagged = await t.request('POST', '/api/groups/batch', t.adminToken, { ids: [a.id], action: 'tag', tags: ['防汛'] });
    expect(tagged.json().succeeded).toBe(1);
    const group = (await t.request('GET', `/api/groups/${a.id}`, t.adminToken)).json();
    expect(group.officer).toEqual({ name: '赵警官', phone: '13900000033' });
    expect(group.tags).toEqual(['重点村', '防汛']);

    const audit = (await t.request('GET', '/api/audit?action=group.update&limit=500', t.adminToken)).json() as {
      targetId: string;
      details: { batch?: string };
    }[];
    expect(audit.filter((e) => e.targetId === a.id).map((e) => e.details.batch).sort()).toEqual([
      'deactivate',
      'officer',
      'tag',
    ]);
  });

  it('when a batch lacks what its action needs, then 400 names the field', async () => {
    const g = await createGroup(t);
    const noOfficer = await t.request('POST', '/api/groups/batch', t.adminToken, { ids: [g.id], action: 'officer' });
    expect(noOfficer.statusCode).toBe(400);
    expect(noOfficer.json().field).toBe('officer');
    const editor = await t.userToken('editor', TREE.countyA.code);
    const refused = await t.request('POST', '/api/groups/batch', editor.token, { ids: [g.id], action: 'deactivate' });
    expect(refused.statusCode).toBe(403);
    // A county admin's batch touches nothing of another county: that group's result says so.
    const outside = await createGroup(t, { regionCode: TREE.villageB.code });
    const countyAdmin = await t.userToken('admin', TREE.countyA.code);
    const mixed = await t.request('POST', '/api/groups/batch', countyAdmin.token, { ids: [g.id, outside.id], action: 'deactivate' });
    expect(mixed.json().results.map((r: Result) => r.ok)).toEqual([true, false]);
    expect((await t.request('GET', `/api/groups/${outside.id}`, t.adminToken)).json().active).toBe(true);
  });

  it('when a reviewer approves several notices at once, then each is decided on its own (one refused, the rest done) and a rejection needs a reason', async () => {
    const editor = await t.userToken('editor', TREE.countyA.code);
    const reviewer = await t.userToken('reviewer', TREE.countyA.code);
    const ids: string[] = [];
    for (const title of ['批量一', '批量二', '批量三']) {
      const created = (await t.request('POST', '/api/notices', editor.token, noticeBody({ title }))).json();
      await t.request('POST', `/api/notices/${created.id}/submit`, editor.token);
      ids.push(created.id);
    }
    // A notice not in review in the same batch is refused on its own, the rest go through.
    const own = (await t.request('POST', '/api/notices', editor.token, noticeBody({ title: '仍是草稿' }))).json();

    const noReason = await t.request('POST', '/api/notices/review-batch', reviewer.token, { ids, decision: 'reject' });
    expect(noReason.statusCode).toBe(400);
    expect(noReason.json().field).toBe('reason');

    const approved = await t.request('POST', '/api/notices/review-batch', reviewer.token, {
      ids: [ids[0], ids[1], own.id],
      decision: 'approve',
    });
    expect(approved.statusCode, approved.body).toBe(200);
    const body = approved.json() as { succeeded: number; results: Result[] };
    expect(body.succeeded).toBe(2);
    expect(body.results.map((r) => r.name)).toEqual(['批量一', '批量二', null]);
    expect(body.results[2]!.ok).toBe(false);
    expect(body.results[2]!.message).toBe('只有待审核的通知可以审核');

    const rejected = await t.request('POST', '/api/notices/review-batch', reviewer.token, {
      ids: [ids[2]],
      decision: 'reject',
      reason: '请补充发布单位',
    });
    expect(rejected.json().succeeded).toBe(1);
    const statuses = await Promise.all(ids.map(async (id) => (await t.request('GET', `/api/notices/${id}`, reviewer.token)).json().status));
    expect(statuses).toEqual(['approved', 'approved', 'draft']);
  });
});

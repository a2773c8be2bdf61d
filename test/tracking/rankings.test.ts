// 触达统计's rankings: each township's and each officer's manual forwarding in a period, counted
// from the stored tasks — confirmed, open, withdrawn before confirmation (not due), outside the
// period by local date, outside the caller's scope — against the API's answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualTaskModel } from '../../src/channels/manual/model.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';

const ROOT = '000000';
const townshipA2 = { code: '440106002', name: '石牌街道', parentCode: TREE.countyA.code };
const villageA2 = { code: '440106002001', name: '石牌社区', parentCode: townshipA2.code };
const path = (...codes: string[]) => [ROOT, TREE.province.code, TREE.city.code, ...codes];
const A1 = path(TREE.countyA.code, TREE.townshipA.code, TREE.villageA.code);
const A2 = path(TREE.countyA.code, townshipA2.code, villageA2.code);
const B = path(TREE.countyB.code, TREE.townshipB.code, TREE.villageB.code);

let n = 0;
/** A stored task; times are Beijing wall-clock (+08:00). */
function task(regionPath: string[], officer: [string, string] | null, created: string, confirmed?: string, withdrawn?: string) {
  n += 1;
  return {
    taskKey: `rank-${n}`,
    groupId: `g${n}`,
    groupName: `群${n}`,
    regionPath,
    officerName: officer?.[0] ?? null,
    officerPhone: officer?.[1] ?? null,
    title: '测试通告',
    createdAt: new Date(`${created}+08:00`),
    confirmedAt: confirmed ? new Date(`${confirmed}+08:00`) : null,
    withdrawnAt: withdrawn ? new Date(`${withdrawn}+08:00`) : null,
  };
}

describe('reach rankings', () => {
  let t: TestApp;
  let viewerA: string;
  const zhang: [string, string] = ['张警官', '139 0000 0001'];
  const li: [string, string] = ['李警官', '13900000002'];
  const wang: [string, string] = ['王警官', '13900000003'];

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    for (const region of [townshipA2, villageA2]) await t.request('POST', '/api/regions', t.adminToken, region);
    viewerA = (await t.userToken('viewer', TREE.countyA.code)).token;
    // 张 has an account (phone spelled differently from the sheet's), scoped to 五山街道.
    const officer = await t.userToken('officer', TREE.townshipA.code);
    const named = await t.request('PATCH', `/api/users/${officer.id}`, t.adminToken, { displayName: '张三', phone: '+86 13900000001' });
    expect(named.statusCode, named.body).toBe(200);
    await ManualTaskModel.insertMany([
      // 张 in 五山街道: 3 confirmed (10, 20, 90 minutes), 1 open, 1 withdrawn before confirming.
      task(A1, zhang, '2026-12-01T09:00:00', '2026-12-01T09:10:00'),
      task(A1, zhang, '2026-12-02T09:00:00', '2026-12-02T09:20:00'),
      task(A1, zhang, '2026-12-03T09:00:00', '2026-12-03T10:30:00'),
      task(A1, zhang, '2026-12-04T09:00:00'),
      task(A1, zhang, '2026-12-04T10:00:00', undefined, '2026-12-04T11:00:00'),
      // Confirmed, then its campaign was retracted: it was forwarded, it counts.
      // 李 in 石牌街道: 1 confirmed of 2; one more on 30 November at 23:30 Beijing (UTC the 30th) — outside.
      task(A2, li, '2026-12-05T08:00:00', '2026-12-05T08:30:00', '2026-12-06T08:00:00'),
      task(A2, li, '2026-12-06T00:30:00'),
      task(A2, li, '2026-11-30T23:30:00', '2026-12-01T00:10:00'),
      // 1 December 00:30 Beijing is 30 November UTC: inside the period by local date.
      task(A2, wang, '2026-12-01T00:30:00', '2026-12-01T01:30:00'),
      // Only withdrawn: nothing due.
      task(A2, null, '2026-12-02T10:00:00', undefined, '2026-12-02T11:00:00'),
      // County B: outside a county-A viewer's scope.
      task(B, ['赵警官', '13900000009'], '2026-12-02T10:00:00'),
    ]);
    // The tallies (rank-tally.ts) are built from these tasks at the first refresh.
    await t.ctx.tracking.rollups.refreshAll('test');
  });
  afterAll(() => t?.close());

  it('when a viewer asks for a month, then each officer and township has its confirmed, open, due and rate from the tasks', async () => {
    const response = await t.request('GET', '/api/reach/rankings?from=2026-12-01&to=2026-12-31', viewerA);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(body.partial).toBe(false);
    expect(body.officers).toEqual([
      { name: '王警官', phone: '13900000003', hasAccount: false, unit: '石牌街道', due: 1, confirmed: 1, open: 0, rate: 1, medianMinutes: 60 },
      { name: '张三', phone: '139 0000 0001', hasAccount: true, unit: '五山街道', due: 4, confirmed: 3, open: 1, rate: 0.75, medianMinutes: 20 },
      { name: '李警官', phone: '13900000002', hasAccount: false, unit: '石牌街道', due: 2, confirmed: 1, open: 1, rate: 0.5, medianMinutes: 30 },
      { name: '未指定民警', phone: null, hasAccount: false, unit: '石牌街道', due: 0, confirmed: 0, open: 0, rate: null, medianMinutes: null },
    ]);
    expect(body.townships).toEqual([
      { code: TREE.townshipA.code, name: '五山街道', due: 4, confirmed: 3, open: 1, rate: 0.75, medianMinutes: 20 },
      { code: townshipA2.code, name: '石牌街道', due: 3, confirmed: 2, open: 1, rate: 2 / 3, medianMinutes: 45 },
    ]);
  });

  it('when the period is a month range or one township, then the same tasks are counted inside it', async () => {
    const months = (await t.request('GET', '/api/reach/rankings?from=2026-11&to=2026-11', viewerA)).json();
    expect(months.officers.map((o: { name: string; confirmed: number }) => [o.name, o.confirmed])).toEqual([['李警官', 1]]);
    const one = (
      await t.request('GET', `/api/reach/rankings?from=2026-12-01&to=2026-12-31&regionCode=${townshipA2.code}`, viewerA)
    ).json();
    expect(one.townships.map((r: { name: string }) => r.name)).toEqual(['石牌街道']);
    expect(one.officers.map((r: { name: string }) => r.name)).toEqual(['王警官', '李警官', '未指定民警']);
  });

  it('when a region outside the scope or a bad date is asked for, then it is refused in Chinese', async () => {
    const outside = await t.request('GET', `/api/reach/rankings?from=2026-12-01&to=2026-12-31&regionCode=${TREE.countyB.code}`, viewerA);
    expect(outside.statusCode).toBe(404);
    const reversed = await t.request('GET', '/api/reach/rankings?from=2026-12-31&to=2026-12-01', viewerA);
    expect(reversed.statusCode).toBe(400);
    expect(reversed.json().message).toContain('结束日期早于开始日期');
  });
});

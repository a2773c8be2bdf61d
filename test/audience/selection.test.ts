import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { commandsDuring } from '../helpers/commands.js';
import { createGroup } from '../helpers/groups.js';
import { createRegionTree, TREE } from '../helpers/regions.js';

describe('audience selection', () => {
  let t: TestApp;
  const ids: Record<string, string> = {};
  const TOWNSHIP_A2 = { code: '440106002', name: '员村街道', parentCode: TREE.countyA.code };
  const VILLAGE_A2 = { code: '440106002001', name: '员村社区', parentCode: TOWNSHIP_A2.code };

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    await t.request('POST', '/api/regions', t.adminToken, TOWNSHIP_A2);
    await t.request('POST', '/api/regions', t.adminToken, VILLAGE_A2);
    const make = async (key: string, overrides: Record<string, unknown>) => {
      ids[key] = (await createGroup(t, overrides)).id;
    };
    await make('a1', { regionCode: TREE.villageA.code, memberCount: 100, tags: ['重点村'] });
    await make('a2', { regionCode: TREE.villageA.code, memberCount: 50, tags: ['学校'] });
    await make('a3', { regionCode: VILLAGE_A2.code, memberCount: 30, tags: [] });
    await make('a4', { regionCode: VILLAGE_A2.code, memberCount: 7, tags: ['商户'], active: false });
    await make('b1', { regionCode: TREE.villageB.code, memberCount: 1000, tags: ['重点村'] });
  });
  afterAll(() => t.close());

  const preview = (token: string, spec: object) => t.request('POST', '/api/audience/preview', token, spec);

  it('counts groups, villages and members of a region subtree', async () => {
    const response = await preview(t.adminToken, { regions: [TREE.countyA.code] });
    expect(response.json()).toMatchObject({ groupCount: 3, villageCount: 2, memberTotal: 180 });
  });

  it('unions regions, tags and explicit groups, then removes exclusions', async () => {
    const spec = {
      regions: [TREE.townshipA.code],
      tags: ['重点村'],
      groups: [ids.a3],
      excludeTags: ['学校'],
    };
    expect((await preview(t.adminToken, spec)).json()).toMatchObject({
      groupCount: 3,
      villageCount: 3,
      memberTotal: 1130,
    });
    const less = { ...spec, excludeRegions: [TREE.countyB.code], excludeGroups: [ids.a3] };
    expect((await preview(t.adminToken, less)).json()).toMatchObject({
      groupCount: 1,
      villageCount: 1,
      memberTotal: 100,
    });
  });

  it('resolves inside the caller’s scope: a county-A editor never reaches county B, even by tag or id', async () => {
    const { token } = await t.userToken('editor', TREE.countyA.code);
    const byTag = await preview(token, { tags: ['重点村'], groups: [ids.b1] });
    expect(byTag.json()).toMatchObject({ groupCount: 1, villageCount: 1, memberTotal: 100 });
    expect((await preview(token, { regions: [TREE.countyB.code] })).statusCode).toBe(404);
  });

  it('checks a region without selectable groups against the process’s copy of the regions, reading none by code', async () => {
    const EMPTY_A = { code: '440106002002', name: '空村', parentCode: TOWNSHIP_A2.code };
    const EMPTY_B = { code: '440111002099', name: '新社区', parentCode: TREE.townshipB.code };
    for (const region of [EMPTY_A, EMPTY_B]) {
      expect((await t.request('POST', '/api/regions', t.adminToken, region)).statusCode).toBe(201);
    }
    const { token } = await t.userToken('editor', TREE.countyA.code);
    expect((await preview(token, { regions: [EMPTY_A.code] })).json()).toMatchObject({ groupCount: 0, memberTotal: 0 });
    // The copy is current (its token unchanged): no read of the regions collection, where a
    // filter on `code` is a scan of every region on FerretDB.
    const seen = await commandsDuring(async () => {
      const response = await preview(token, { regions: [EMPTY_A.code, TREE.villageA.code] });
      expect(response.json()).toMatchObject({ groupCount: 2, memberTotal: 150 });
    });
    expect(seen.filter((c) => c.collection === 'regions')).toEqual([]);
    // Outside the scope, or no such region: 404 as before.
    expect((await preview(token, { regions: [EMPTY_B.code] })).statusCode).toBe(404);
    expect((await preview(token, { regions: ['440106002098'] })).statusCode).toBe(404);
    expect((await preview(t.adminToken, { regions: [EMPTY_B.code] })).statusCode).toBe(200);
  });

  it('leaves out inactive and flagged groups', async () => {
    await t.ctx.groups.flagGroup(ids.a2!, 'test');
    expect((await preview(t.adminToken, { regions: [TREE.countyA.code] })).json()).toMatchObject({
      groupCount: 2,
      villageCount: 2,
      memberTotal: 130,
    });
    await t.request('PATCH', `/api/groups/${ids.a2}`, t.adminToken, { clearFlag: true });
  });

  it('refuses an empty selection with a message a person can act on', async () => {
    const response = await preview(t.adminToken, { excludeTags: ['学校'] });
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toBe('请至少选择一个地区、标签、群或距离范围');
  });

  it('streams the selection to the engine in batches, with opened credentials, region names and the officer', async () => {
    const batches = [];
    for await (const batch of t.ctx.audience.selectedGroupBatches(
      t.ctx.regions.rootScope(),
      { regions: ['440000'] },
      { batchSize: 2 },
    )) {
      batches.push(batch);
    }
    expect(batches.map((b) => b.length)).toEqual([2, 2]);
    const all = batches.flat();
    expect(new Set(all.map((m) => m.groupId))).toEqual(new Set([ids.a1, ids.a2, ids.a3, ids.b1]));
    const a1 = all.find((m) => m.groupId === ids.a1)!;
    expect(a1).toMatchObject({
      channelKind: 'wecom',
      credentials: { kind: 'wecom', key: expect.stringMatching(/^wecom-key-/) },
      memberCount: 100,
      regionCode: TREE.villageA.code,
      countyCode: TREE.countyA.code,
      townshipCode: TREE.townshipA.code,
      villageName: '华工社区',
      townshipName: '五山街道',
      countyName: '天河区',
      officer: { name: '张警官', phone: '13800000000' },
      robotKey: expect.stringMatching(/^wecom:[0-9a-f]{16}$/),
    });
    expect(JSON.stringify(a1.robotKey)).not.toContain((a1.credentials as { key: string }).key);
    const [again] = await t.ctx.audience.sendTargets([ids.a1!]);
    expect(again).toEqual(a1);
  });
});

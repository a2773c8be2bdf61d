import ExcelJS from 'exceljs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GroupModel } from '../../src/audience/model.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { TREE, createRegionTree } from '../helpers/regions.js';
import { upload, withoutCause } from '../helpers/upload.js';

const VILLAGE_A2 = { code: '440106001002', name: '石牌村', parentCode: TREE.townshipA.code };

/** A sheet the way staff keep it: a merged title line, a blank line, Chinese headers with odd spacing,
 * full-width digits, stray spaces, a merged township column, blank rows between blocks. */
async function staffWorkbook(rows: (string | number | null)[][]): Promise<Buffer> {
  const workbook = new ExcelJS.Workbook();
  const sheet = workbook.addWorksheet('民声微信群台账');
  sheet.addRow(['天河区民声微信群台账（2026年3月）']);
  sheet.mergeCells('A1:I1');
  sheet.addRow([]);
  sheet.addRow([
    '乡镇',
    '村（社区）',
    ' 村(社区)代码 ',
    '群 名称',
    '渠道',
    '机器人地址',
    '群人数（人）',
    '负责民警',
    '备注',
  ]);
  for (const row of rows) sheet.addRow(row);
  return Buffer.from(await workbook.xlsx.writeBuffer());
}

const wecomUrl = (key: string) => `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${key}`;

const GOOD_ROWS: (string | number | null)[][] = [
  [
    '五山街道',
    '华工社区',
    '４４０１０６００１００１',
    ' 华工社区1群 ',
    '企业微信',
    wecomUrl('staffkey-0001'),
    '３２０',
    '张警官',
    '',
  ],
  [null, '华工社区', '440106001001', '华工社区2群', '企微', wecomUrl('staffkey-0002'), 288, '张警官', '新建'],
  [],
  [null, '石牌村', 440106001002, '石牌村平安群', '人工转发', '', '1,024', '李警官', ''],
];

describe('group sheet import and export', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
    await t.request('POST', '/api/regions', t.adminToken, VILLAGE_A2);
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    await GroupModel.deleteMany({});
  });

  it('imports a sheet written the way staff write it (title line, blank rows, full-width digits, merged township)', async () => {
    const file = await staffWorkbook(GOOD_ROWS);
    const sheet = new ExcelJS.Workbook();
    await sheet.xlsx.load(file as unknown as ArrayBuffer);
    sheet.worksheets[0]!.mergeCells('A4:A5');
    const merged = Buffer.from(await sheet.xlsx.writeBuffer());
    const response = await upload(t, '/api/groups/import', t.adminToken, '台账.xlsx', merged);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({
      applied: true,
      rows: 3,
      created: 3,
      updated: 0,
      unchanged: 0,
      rejected: 0,
      ignoredColumns: [],
    });
    const list = (await t.request('GET', '/api/groups?limit=500', t.adminToken)).json();
    const first = list.find((g: { name: string }) => g.name === '华工社区1群');
    expect(first).toMatchObject({
      regionCode: '440106001001',
      channelKind: 'wecom',
      memberCount: 320,
      officer: { name: '张警官' },
    });
    expect(list.find((g: { name: string }) => g.name === '石牌村平安群')).toMatchObject({
      channelKind: 'manual',
      memberCount: 1024,
    });
  });

  it('when the same sheet is imported again, then nothing changes', async () => {
    const file = await staffWorkbook(GOOD_ROWS);
    await upload(t, '/api/groups/import', t.adminToken, 'a.xlsx', file);
    const before = await GroupModel.find().sort({ name: 1 }).lean();
    const again = await upload(t, '/api/groups/import', t.adminToken, 'a.xlsx', file);
    expect(again.json()).toMatchObject({ applied: true, created: 0, updated: 0, unchanged: 3 });
    const after = await GroupModel.find().sort({ name: 1 }).lean();
    expect(after).toEqual(before);
  });

  it('a dry run reports every bad row with its Excel row number and the column, and writes nothing', async () => {
    const file = await staffWorkbook([
      ...GOOD_ROWS,
      [null, '华工社区', '440106001001', '负数群', '企业微信', wecomUrl('staffkey-0003'), -5, '王警官', ''],
      [null, '华工社区', '440106001001', '文字群', '企业微信', wecomUrl('staffkey-0004'), '三百', '王警官', ''],
      [null, '松柏社区', '440111002003', '外区群', '企业微信', wecomUrl('staffkey-0005'), 10, '王警官', ''],
      [null, '不存在', '440106009999', '未知村群', '企业微信', wecomUrl('staffkey-0006'), 10, '王警官', ''],
      [null, '华工社区', '440106001001', '华工社区2群', '企业微信', wecomUrl('staffkey-0007'), 10, '王警官', ''],
      [null, '华工社区', '440106001001', '', '企业微信', wecomUrl('staffkey-0008'), 10, '王警官', ''],
      [null, '华工社区', '440106001001', '无渠道群', '短信', '', 10, '王警官', ''],
      [null, '华工社区', '440106001001', '无地址群', '钉钉', '', 10, '王警官', ''],
    ]);
    const { token: countyAdmin } = await t.userToken('admin', TREE.countyA.code);
    const response = await upload(t, '/api/groups/import?dryRun=true', countyAdmin, 'a.xlsx', file);
    expect(response.statusCode).toBe(200);
    const report = response.json();
    expect(report).toMatchObject({ dryRun: true, applied: false, rows: 11, created: 3, rejected: 8 });
    // Header on row 3, data from row 4; the blank row is 6, so the bad rows are 8–15.
    expect(withoutCause(report.errors)).toEqual([
      { row: 8, column: '群人数', message: '群人数不能为负数（-5）' },
      { row: 9, column: '群人数', message: '群人数“三百”不是整数' },
      // Names first: a code outside the caller's county or scope counts as one the tree lacks.
      { row: 10, column: '村（社区）', message: '在天河区找不到村（社区）“松柏社区”：请填写乡镇（新设的村会在所填乡镇下新建）' },
      { row: 11, column: '村（社区）', message: '在天河区找不到村（社区）“不存在”：请填写乡镇（新设的村会在所填乡镇下新建）' },
      { row: 12, column: '群名称', message: '与第 5 行重复（同一村（社区）下同名的群）' },
      { row: 13, column: '群名称', message: '群名称为空' },
      { row: 14, column: '渠道', message: '无法识别渠道“短信”（可填：企业微信、钉钉、飞书、自建平台、人工转发）' },
      { row: 15, column: '机器人地址', message: '新群需填写机器人地址（人工转发除外）' },
    ]);
    expect(await GroupModel.countDocuments()).toBe(0);
  });

  it('when rows have errors, then nothing is imported (422) unless a partial import is asked for', async () => {
    const file = await staffWorkbook([
      ...GOOD_ROWS,
      [null, '华工社区', '440106001001', '负数群', '企业微信', wecomUrl('staffkey-0009'), -1, '王警官', ''],
    ]);
    const strict = await upload(t, '/api/groups/import', t.adminToken, 'a.xlsx', file);
    expect(strict.statusCode).toBe(422);
    expect(strict.json()).toMatchObject({ applied: false, rejected: 1 });
    expect(await GroupModel.countDocuments()).toBe(0);
    const partial = await upload(t, '/api/groups/import?partial=true', t.adminToken, 'a.xlsx', file);
    expect(partial.statusCode).toBe(200);
    expect(partial.json()).toMatchObject({ applied: true, created: 3, rejected: 1 });
    expect(await GroupModel.countDocuments()).toBe(3);
  });

  it('exports to xlsx and csv that re-import unchanged, with formula-like cells neutralised', async () => {
    const file = await staffWorkbook([
      ...GOOD_ROWS,
      [
        null,
        '华工社区',
        '440106001001',
        '=HYPERLINK("http://evil","点我")',
        '企业微信',
        wecomUrl('staffkey-0010'),
        5,
        '@某人',
        '',
      ],
    ]);
    expect((await upload(t, '/api/groups/import', t.adminToken, 'a.xlsx', file)).json()).toMatchObject({ created: 4 });
    const before = await GroupModel.find().sort({ name: 1 }).lean();

    const csv = await t.request('GET', '/api/groups/export?format=csv', t.adminToken);
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    expect(csv.rawPayload.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    expect(csv.body).toContain(`"'=HYPERLINK(""http://evil"",""点我"")"`);
    expect(csv.body).toContain("'@某人");
    expect(csv.body).not.toContain('staffkey');
    const csvAgain = await upload(t, '/api/groups/import', t.adminToken, 'groups.csv', csv.rawPayload);
    expect(csvAgain.json()).toMatchObject({ applied: true, created: 0, updated: 0, unchanged: 4, errors: [] });

    const xlsx = await t.request('GET', '/api/groups/export?format=xlsx', t.adminToken);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(xlsx.rawPayload as unknown as ArrayBuffer);
    const names = workbook.worksheets[0]!.getColumn(5).values.slice(2);
    expect(names).toContain(`'=HYPERLINK("http://evil","点我")`);
    const xlsxAgain = await upload(t, '/api/groups/import', t.adminToken, 'groups.xlsx', xlsx.rawPayload);
    expect(xlsxAgain.json()).toMatchObject({ applied: true, created: 0, updated: 0, unchanged: 4, errors: [] });
    expect(await GroupModel.find().sort({ name: 1 }).lean()).toEqual(before);
    expect(before.map((g) => g.name)).toContain('=HYPERLINK("http://evil","点我")');
  });

  it('reads a CSV saved by Excel on Chinese Windows (GB18030)', async () => {
    // "群名称,村（社区）代码,渠道,机器人地址,群人数" + one row, encoded as GB18030 (Python's codec).
    const encoded = Buffer.from(
      'c8bac3fbb3c62cb4e5a3a8c9e7c7f8a3a9b4fac2eb2cc7feb5c02cbbfac6f7c8cbb5d8d6b72cc8bac8cbcafd0d0abbaab9a44742c8ba2c3434303130363030313030312cc6f3d2b5cea2d0c52c68747470733a2f2f71796170692e77656978696e2e71712e636f6d2f6367692d62696e2f776562686f6f6b2f73656e643f6b65793d67626b65792d30303030312c31320d0a',
      'hex',
    );
    const response = await upload(t, '/api/groups/import', t.adminToken, 'gb.csv', encoded);
    expect(response.json()).toMatchObject({ created: 1, errors: [] });
    expect(await GroupModel.exists({ name: '华工GB群' })).toBeTruthy();
  });

  it('refuses a missing or misspelt required column, naming it', async () => {
    const csv = Buffer.from('群称,村代码,群人数\n华工群,440106001001,10\n');
    const response = await upload(t, '/api/groups/import', t.adminToken, 'a.csv', csv);
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toBe(
      '缺少必填列“群名称”（可写作：群名称、群名、微信群名称、微信群名）；未识别的列：群称',
    );
  });

  it('refuses a non-Excel file named .xlsx, an old .xls, and a 50 MB file, each with a clear message', async () => {
    const fake = await upload(t, '/api/groups/import', t.adminToken, '台账.xlsx', Buffer.from('%PDF-1.7 not a sheet'));
    expect(fake.statusCode).toBe(400);
    expect(fake.json().message).toMatch(/扩展名是 Excel，但内容不是 Excel 文件/);
    const xls = await upload(
      t,
      '/api/groups/import',
      t.adminToken,
      '台账.xls',
      Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1]),
    );
    expect(xls.json().message).toMatch(/另存为 \.xlsx/);
    const huge = await upload(t, '/api/groups/import', t.adminToken, 'big.xlsx', Buffer.alloc(50 * 1024 * 1024, 0x41));
    expect(huge.statusCode).toBe(413);
    expect(huge.json().message).toMatch(/超过 20MB/);
    const notMultipart = await t.request('POST', '/api/groups/import', t.adminToken, { file: 'x' });
    expect(notMultipart.statusCode).toBe(400);
    expect(await GroupModel.countDocuments()).toBe(0);
  });
});

describe('region sheet import and export', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await createRegionTree(t);
  });
  afterAll(() => t.close());

  it('imports 12-digit padded codes with children listed before their parents, and re-imports its own export unchanged', async () => {
    const csv = Buffer.from(
      [
        '区划代码,名称,上级代码,纬度,经度',
        '４４０１０６００２００１, 员村社区 ,440106002000,23.12,113.36',
        '440106002000,员村街道,440106000000,,',
        '',
        '440106002002,程界社区,440106002,,',
      ].join('\n'),
    );
    const first = await upload(t, '/api/regions/import', t.adminToken, 'r.csv', csv);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ created: 3, errors: [] });
    const village = await t.request('GET', '/api/regions/440106002001', t.adminToken);
    expect(village.json()).toMatchObject({ name: '员村社区', level: 'village', parentCode: '440106002', lat: 23.12 });
    expect((await upload(t, '/api/regions/import', t.adminToken, 'r.csv', csv)).json()).toMatchObject({
      created: 0,
      unchanged: 3,
    });

    const { token } = await t.userToken('admin', TREE.countyA.code);
    const exported = await t.request('GET', '/api/regions/export?format=xlsx', token);
    const again = await upload(t, '/api/regions/import', token, 'regions.xlsx', exported.rawPayload);
    expect(again.json()).toMatchObject({ created: 0, updated: 0, errors: [] });
    expect(again.json().unchanged).toBeGreaterThanOrEqual(5);
  });

  it('reports a region outside the caller’s scope and an unknown parent per row', async () => {
    const { token } = await t.userToken('admin', TREE.countyA.code);
    const csv = Buffer.from(
      '区划代码,名称,上级代码\n440111002099,外区社区,440111002\n440106077001,孤儿社区,440106077\n',
    );
    const response = await upload(t, '/api/regions/import', token, 'r.csv', csv);
    expect(response.statusCode).toBe(422);
    expect(withoutCause(response.json().errors)).toEqual([
      { row: 2, column: '上级代码', message: '上级地区 440111002 不在您的管辖范围内' },
      { row: 3, column: '上级代码', message: '上级地区 440106077 不存在（也不在本表中）' },
    ]);
  });
});

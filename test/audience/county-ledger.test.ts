// Issue 14, must show 1: a county's ledger as it is kept imports in one step into a
// freshly picked county (内黄县 from the shipped division list).
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupModel } from '../../src/audience/model.js';
import { countyDivisions } from '../../src/regions/divisions.js';
import { RegionModel } from '../../src/regions/model.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { upload, withoutCause } from '../helpers/upload.js';

type Cell = ExcelJS.CellValue;

/** The sheet such desks keep: merged title, a line of who filled it in, header on row 3, a SUM total. */
async function ledger(rows: Cell[][]): Promise<Buffer> {
  const workbook = new ExcelJS.Workbook();
  const sheet = workbook.addWorksheet('民声微信群');
  sheet.addRow(['内黄县“民声微信群”建设情况统计表']);
  sheet.mergeCells('A1:I1');
  sheet.addRow(['填报单位：内黄县公安局', null, null, null, null, null, '填报日期：2026年3月1日']);
  sheet.addRow(['序号', '乡镇', '村（社区）', '行政区划代码', '群名称', '群人数', '包村民警', '联系电话', '备注']);
  for (const row of rows) sheet.addRow(row);
  const last = sheet.rowCount;
  sheet.addRow([null, '合计', null, null, null, { formula: `SUM(F4:F${last})`, result: 476 }]);
  sheet.mergeCells('B4:B5'); // 东庄镇 written once for its villages
  return Buffer.from(await workbook.xlsx.writeBuffer());
}

const ROWS: Cell[][] = [
  // Row 4: full-width digits in the code and the count.
  [1, '东庄镇', '东台头村', '４１０５２７１０１２０１', '东台头村民声群', '３５６', '张伟', '138 0013 8001', null],
  // Row 5: no code (found by township + village name), blank member count, a HYPERLINK in 备注.
  [
    2,
    null,
    '西台头村',
    null,
    '西台头村民声群',
    null,
    '张伟',
    '13800138001',
    { formula: 'HYPERLINK("https://jx.example/qr/2","群二维码")', result: '群二维码' },
  ],
  // Row 6: a code the tree lacks (a village newly split off), under 井店镇.
  [3, '井店镇', '新和村', '410527102299', '新和村民声群', 120, '李强', '0372-7221234', '2025年新设村'],
  // Row 7: three errors at once (its village, which 井店镇 lacks, would be created: issue 23).
  [4, '井店镇', '不存在村', null, null, '三百', null, '13800138001', null],
  // Row 8: a village name found in several townships, and a bad phone.
  [5, null, '东街村', null, '东街村民声群', 88, '王芳', '电话待补', null],
];

describe('a county’s ledger as kept, imported in one step', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    const seeded = await t.request('POST', '/api/regions/seed', t.adminToken, { countyCode: '410527' });
    expect(seeded.statusCode, seeded.body).toBe(200);
  });
  afterAll(() => t.close());

  it('imports every valid row, reports every bad row once with all its errors, and the total row as a total', async () => {
    const file = await ledger(ROWS);
    const response = await upload(t, '/api/groups/import?partial=true', t.adminToken, '内黄县台账.xlsx', file);
    expect(response.statusCode, response.body).toBe(200);
    const report = response.json();
    expect(report).toMatchObject({
      applied: true,
      rows: 5,
      created: 3,
      updated: 0,
      rejected: 2,
      villagesCreated: 1,
      ignoredColumns: [],
      totals: [{ row: 9, memberCount: 476, countedMembers: 356 + 120 + 88 }],
    });
    expect(withoutCause(report.errors)).toEqual([
      { row: 7, column: '群名称', message: '群名称为空' },
      { row: 7, column: '群人数', message: '群人数“三百”不是整数' },
      { row: 7, column: '负责民警', message: '填写了民警电话但没有民警姓名' },
      {
        row: 8,
        column: '民警电话',
        message: expect.stringMatching(/^负责民警电话“电话待补”格式不正确（应为 11 位手机号，如 13800138000/),
      },
      {
        row: 8,
        column: '村（社区）',
        message: expect.stringMatching(
          /^内黄县有 \d+ 个名为“东街村”的村（社区）：410527\d{6}（.+），请填写乡镇或村（社区）代码$/,
        ),
      },
    ]);

    const groups = await GroupModel.find({ regionPath: '410527' }).sort({ regionCode: 1 }).lean();
    expect(groups.map((g) => [g.regionCode, g.name, g.channelKind, g.memberCount, g.officerName, g.note])).toEqual([
      ['410527101201', '东台头村民声群', 'manual', 356, '张伟', null],
      ['410527101202', '西台头村民声群', 'manual', 0, '张伟', '群二维码'],
      ['410527102299', '新和村民声群', 'manual', 120, '李强', '2025年新设村'],
    ]);
    expect(groups[0]!.officerPhone).toBe('13800138001');
    expect(groups[1]!.memberCountUpdatedAt).toBeNull(); // blank: not counted yet
    expect(await RegionModel.findOne({ code: '410527102299' }).lean()).toMatchObject({
      name: '新和村',
      level: 'village',
      parentCode: '410527102',
      regionPath: ['000000', '410000', '410500', '410527', '410527102', '410527102299'],
    });
  });

  it('when the same ledger is imported again, then nothing changes', async () => {
    const before = await GroupModel.find().sort({ name: 1 }).lean();
    const again = await upload(t, '/api/groups/import?partial=true', t.adminToken, 'a.xlsx', await ledger(ROWS));
    expect(again.json()).toMatchObject({ created: 0, updated: 0, unchanged: 3, rejected: 2, villagesCreated: 0 });
    expect(await GroupModel.find().sort({ name: 1 }).lean()).toEqual(before);
  });

  it('exports member counts as numbers, and the export re-imports with nothing changed', async () => {
    const exported = await t.request('GET', '/api/groups/export?format=xlsx&regionCode=410527', t.adminToken);
    expect(exported.statusCode).toBe(200);
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(exported.rawPayload as unknown as ArrayBuffer);
    const sheet = book.worksheets[0]!;
    const header = (sheet.getRow(1).values as Cell[]).slice(1);
    const countColumn = header.indexOf('群人数') + 1;
    expect(sheet.getRow(2).getCell(countColumn).value).toBe(356);
    expect(header).toContain('备注');

    const before = await GroupModel.find().sort({ name: 1 }).lean();
    const response = await upload(t, '/api/groups/import', t.adminToken, 'groups.xlsx', exported.rawPayload);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ applied: true, created: 0, updated: 0, unchanged: 3, errors: [] });
    expect(await GroupModel.find().sort({ name: 1 }).lean()).toEqual(before);
  });

  it('when configured, a sheet without a channel column imports new groups with that channel', async () => {
    const file = await ledger([[1, '东庄镇', '郝村', '410527101203', '郝村工作群', 50, '张伟', null, null]]);
    const response = await upload(
      t,
      '/api/groups/import?dryRun=true&defaultChannel=wecom',
      t.adminToken,
      'a.xlsx',
      file,
    );
    // A robot channel needs its address: the configured default is applied, and asks for it.
    expect(withoutCause(response.json().errors)).toEqual([
      { row: 4, column: '机器人地址', message: '新群需填写机器人地址（人工转发除外）' },
    ]);
  });

  it('serves a template whose columns and accepted names come from the one list, and which imports', async () => {
    const response = await t.request('GET', '/api/groups/import-template', t.adminToken);
    expect(response.statusCode).toBe(200);
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(response.rawPayload as unknown as ArrayBuffer);
    const names = book.getWorksheet('列名说明')!;
    const text = JSON.stringify(names.getSheetValues());
    for (const synonym of ['包村民警', '驻村民警', '社区民警', '责任民警', '联系电话', '手机', '村名', '群主'])
      expect(text).toContain(synonym);
    const tried = await upload(t, '/api/groups/import?dryRun=true&regionCode=410527', t.adminToken, 'template.xlsx', response.rawPayload);
    expect(tried.json()).toMatchObject({ rows: 1, created: 1, rejected: 0 });
  });
});

describe('a whole county’s ledger (585 groups in 532 villages)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await t.request('POST', '/api/regions/seed', t.adminToken, { countyCode: '410527' });
  });
  afterAll(() => t.close());

  it('imports every group in one step, a third of them named only by township and village', async () => {
    const county = (await countyDivisions('410527'))!;
    const townshipName = new Map(county.townships.map((t) => [t.code, t.name]));
    const rows: Cell[][] = [];
    county.villages.forEach((village, i) => {
      const groups = i < 53 ? 2 : 1; // 585 groups, as the ledger
      for (let g = 0; g < groups; g += 1) {
        const byName = rows.length % 3 === 0;
        rows.push([
          rows.length + 1,
          townshipName.get(village.townshipCode)!,
          // The ledger's own spelling: "村委会" where the tree says "村".
          byName ? village.name.replace(/村$/, '村委会') : village.name,
          byName
            ? null
            : i % 2
              ? village.code
              : village.code.replace(/\d/g, (d) => String.fromCharCode(0xff10 + Number(d))),
          `${village.name}民声群${g ? '二' : ''}`,
          i % 7 === 0 ? null : 100 + (i % 300),
          `民警${i % 40}`,
          `1380013${String(8000 + (i % 40)).padStart(4, '0')}`,
          null,
        ]);
      }
    });
    const response = await upload(t, '/api/groups/import', t.adminToken, '全县台账.xlsx', await ledger(rows));
    expect(response.statusCode, response.body.slice(0, 500)).toBe(200);
    expect(response.json()).toMatchObject({ applied: true, rows: 585, created: 585, rejected: 0, errors: [] });
    expect(response.json().totals).toHaveLength(1);
    expect(await GroupModel.countDocuments({ regionPath: '410527' })).toBe(585);
    const again = await upload(t, '/api/groups/import', t.adminToken, '全县台账.xlsx', await ledger(rows));
    expect(again.json()).toMatchObject({ created: 0, updated: 0, unchanged: 585 });
  });
});

// Issue 23, must show 1: a ledger kept for years (older township names, a split and a merged
// township, old codes that disagree with the names, codes that exist nowhere, rows without
// codes, villages the tree lacks) imports by its names: the dry run asks each township name
// once with candidates, the import with the answers files every valid row under the township
// its names give and never another, conflicts are reported and not imported, the answers are
// remembered (also across a re-seed), and an export re-imports with nothing changed.
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupModel } from '../../src/audience/model.js';
import { RegionAliasModel } from '../../src/regions/aliases.js';
import { RegionModel } from '../../src/regions/model.js';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { upload } from '../helpers/upload.js';
import {
  BOCHENG,
  DONGZHUANG,
  FANYANG,
  LEDGER_ROWS,
  LONGQING,
  TOWNSHIP_MAPPING,
  VILLAGE_MAPPING,
  excelRow,
  ledgerXlsx,
} from './fixtures/neihuang-ledger.js';

const IMPORT = '/api/groups/import?regionCode=410527';

describe('a ledger as kept, imported by its names into 内黄县', () => {
  let t: TestApp;
  let file: Buffer;
  const send = (query: string, fields: Record<string, string> = {}, data = file) =>
    upload(t, `${IMPORT}${query}`, t.adminToken, '内黄县台账.xlsx', data, undefined, fields);
  const answers = {
    townships: JSON.stringify(TOWNSHIP_MAPPING),
    villages: JSON.stringify(VILLAGE_MAPPING),
  };

  beforeAll(async () => {
    t = await startTestApp();
    expect((await t.request('POST', '/api/regions/seed', t.adminToken, { countyCode: '410527' })).statusCode).toBe(200);
    file = await ledgerXlsx();
  });
  afterAll(() => t.close());

  it('the dry run lists each township name to confirm once, with its rows and candidates, and writes nothing', async () => {
    const response = await send('&dryRun=true');
    expect(response.statusCode, response.body).toBe(200);
    const report = response.json();
    expect(report.townships).toEqual([
      {
        name: '城关镇',
        rows: 4,
        // The villages of its rows lie in 繁阳街道 (3) and 龙庆街道 (1).
        candidates: [
          { code: FANYANG, name: '繁阳街道' },
          { code: LONGQING, name: '龙庆街道' },
        ],
      },
      // The same stem first; then the townships where villages of its rows' names lie (马庄 is in three).
      { name: '亳城乡', rows: 3, candidates: expect.arrayContaining([{ code: BOCHENG, name: '亳城镇' }]) },
      { name: '张龙乡', rows: 2, candidates: [] },
      { name: '东庄', rows: 1, candidates: [{ code: DONGZHUANG, name: '东庄镇' }] },
    ]);
    expect(report.townships[1].candidates[0]).toEqual({ code: BOCHENG, name: '亳城镇' });
    expect(report.summary).toBe('可导入 6 行，需确认 4 个乡镇名称，4 行有错误');
    // Villages the townships lack: to create, or (resembling an official one) to confirm.
    expect(report.villages).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: '东台头新村', action: 'confirm', candidates: [{ code: '410527101201', name: '东台头村' }] }),
        expect.objectContaining({ name: '前屯', action: 'confirm', candidates: [{ code: '410527101203', name: '郝村' }] }),
        expect.objectContaining({ name: '前进村', action: 'create', code: '410527102298', rows: 2 }),
        expect.objectContaining({ name: '河东村', action: 'create', code: '410527101901', rows: 1 }),
      ]),
    );
    // Grouped by cause, not a sentence per row.
    const groups = Object.fromEntries(report.problems.map((p: { cause: string }) => [p.cause, p]));
    expect(groups['township-unmatched']).toMatchObject({ count: 10, rows: [3, 4, 5, 6, 7, 8, 9, 10, 11, 15] });
    expect(groups['code-conflict']).toMatchObject({ count: 3, rows: [12, 13, 22] });
    expect(groups['code-ignored']).toMatchObject({ count: 1, rows: [16], warning: true });
    expect(await GroupModel.countDocuments({ regionPath: '410527' })).toBe(0);
  });

  it('a code that disagrees with the names is a conflict naming both, and is not imported', async () => {
    const report = (await send('&dryRun=true', answers)).json();
    expect(report.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ row: 12, message: '代码 410527002003 属于 龙庆街道，表中乡镇为 东庄镇' }),
        expect.objectContaining({ row: 13, message: '代码 410527002299 属于 龙庆街道，表中乡镇为 东庄镇' }),
      ]),
    );
  });

  it('with the answers, every valid row is filed under the township its names give, and no row under another', async () => {
    const response = await send('&partial=true', answers);
    expect(response.statusCode, response.body).toBe(200);
    const report = response.json();
    const valid = LEDGER_ROWS.filter((r) => typeof r.expected === 'string');
    expect(report).toMatchObject({ applied: true, created: valid.length, townships: [], townshipsCreated: 1 });
    expect(report.summary).toBe(`可导入 ${valid.length} 行，需确认 0 个乡镇名称，3 行有错误`);
    const rejected = new Map(report.errors.map((e: { row: number; cause: string }) => [e.row, e.cause]));
    const local = await RegionModel.findOne({ regionPath: '410527', level: 'township', name: '张龙乡' }).lean();
    expect(local?.code).toMatch(/^4105279\d\d$/);

    const groups = new Map((await GroupModel.find({ regionPath: '410527' }).lean()).map((g) => [g.name, g]));
    LEDGER_ROWS.forEach((row, i) => {
      const group = groups.get(row.group);
      if (typeof row.expected !== 'string') {
        expect(group, row.group).toBeUndefined();
        expect(rejected.get(excelRow(i)), row.group).toBe(row.expected.cause);
        return;
      }
      const township = row.expected === 'local' ? local!.code : row.expected;
      expect(group?.regionPath[4], row.group).toBe(township);
    });
    // Each village where its name says: 北关 is 繁阳街道's 北关社区, 石光 亳城镇's 石光村.
    expect(groups.get('北关平安群')?.regionCode).toBe('410527001007');
    expect(groups.get('石光民声群')?.regionCode).toBe('410527108207');
    expect(groups.get('邵村民声群')?.regionCode).toBe('410527102201');
    expect(groups.get('前屯民声群')?.regionCode).toBe('410527101203'); // confirmed as 郝村
    expect(groups.get('前进村民声群')?.regionCode).toBe(groups.get('前进村妇女群')?.regionCode);
    expect(await RegionModel.findOne({ code: '410527102298' }).lean()).toMatchObject({ name: '前进村', parentCode: '410527102' });
    // Local codes never collide with official ones: 9xx, which the NBS does not assign.
    expect(groups.get('河东村民声群')?.regionCode).toMatch(/^4105271019\d\d$/);
  });

  it('re-importing the same ledger asks nothing and changes nothing, also after a re-seed of the division list', async () => {
    expect(await RegionAliasModel.countDocuments({ countyCode: '410527' })).toBeGreaterThanOrEqual(3);
    const groupsBefore = await GroupModel.find().sort({ name: 1 }).lean();
    const regionsBefore = await RegionModel.countDocuments();
    for (const round of ['again', 'after re-seed']) {
      if (round === 'after re-seed') {
        const seeded = await t.request('POST', '/api/regions/seed', t.adminToken, { countyCode: '410527' });
        expect(seeded.json()).toMatchObject({ created: 0 });
      }
      const response = await send('&partial=true');
      const report = response.json();
      expect(report, round).toMatchObject({ townships: [], created: 0, updated: 0, villagesCreated: 0, townshipsCreated: 0 });
      expect(report.villages.filter((v: { action: string }) => v.action === 'confirm'), round).toEqual([]);
      expect(report.unchanged, round).toBe(LEDGER_ROWS.filter((r) => typeof r.expected === 'string').length);
    }
    expect(await GroupModel.find().sort({ name: 1 }).lean()).toEqual(groupsBefore);
    expect(await RegionModel.countDocuments()).toBe(regionsBefore);
  });

  it('exports, and the export re-imports with nothing changed and nothing to ask', async () => {
    const exported = await t.request('GET', '/api/groups/export?format=xlsx&regionCode=410527', t.adminToken);
    const before = await GroupModel.find().sort({ name: 1 }).lean();
    const response = await send('', {}, exported.rawPayload);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ applied: true, created: 0, updated: 0, errors: [], townships: [], warnings: [] });
    expect(await GroupModel.find().sort({ name: 1 }).lean()).toEqual(before);
  });

  it('refuses an answer that is not a township of the county, naming the field', async () => {
    const response = await send('&dryRun=true', { townships: JSON.stringify({ 城关镇: '410526001' }) });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ field: 'townships', message: expect.stringContaining('城关镇') });
    const notJson = await send('&dryRun=true', { townships: '城关镇=繁阳街道' });
    expect(notJson.json()).toMatchObject({ field: 'townships' });
  });

  it('downloads the report as an xlsx with the summary, the townships to confirm and every row’s problems', async () => {
    const report = (await send('&dryRun=true', {}, await ledgerXlsx())).json();
    const response = await t.request('POST', '/api/groups/import-report', t.adminToken, report);
    expect(response.statusCode, response.body.slice(0, 300)).toBe(200);
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(response.rawPayload as unknown as ArrayBuffer);
    expect(book.worksheets.map((w) => w.name)).toEqual(['汇总', '乡镇名称核对', '村（社区）', '逐行问题']);
    expect(String(book.getWorksheet('汇总')!.getCell('A1').value)).toMatch(/^可导入 \d+ 行，需确认 \d+ 个乡镇名称，\d+ 行有错误$/);
  });
});

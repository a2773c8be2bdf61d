// Issue 23, must show 3 (security review): uploads that cost far more to read than their
// 20 MB — a zip bomb, a zip whose directory lies about its sizes, an xlsx of a million cells,
// 20 MB of newlines — are each refused with a clear message naming the file, while the
// service keeps answering other requests.
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, startTestApp } from '../helpers/app.js';
import { upload } from '../helpers/upload.js';
import { buildZip, xlsxParts } from '../helpers/zip.js';

/** Sends the file, and meanwhile asks /healthz again and again: how many answers came back before the refusal. */
async function refusedWhileAnswering(t: TestApp, filename: string, data: Buffer) {
  let settled = false;
  const started = process.hrtime.bigint();
  const sent = upload(t, '/api/groups/import?dryRun=true', t.adminToken, filename, data).finally(() => {
    settled = true;
  });
  let answered = 0;
  while (!settled) {
    const health = await t.app.inject({ method: 'GET', url: '/healthz' });
    if (health.statusCode === 200 && !settled) answered += 1;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const response = await sent;
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(`${filename}: ${data.length} bytes refused in ${Math.round(ms)} ms, ${answered} health answers meanwhile`);
  return { response, answered };
}

function millionCellSheet(): Buffer {
  // 50,000 rows of 20 number cells: a million cells in about 30 MB of XML, 3 MB zipped.
  const columns = 'ABCDEFGHIJKLMNOPQRST';
  const parts: string[] = ['<?xml version="1.0" encoding="UTF-8"?><worksheet><sheetData>'];
  for (let r = 1; r <= 50_000; r += 1) {
    let row = `<row r="${r}">`;
    for (const c of columns) row += `<c r="${c}${r}"><v>${r}</v></c>`;
    parts.push(`${row}</row>`);
  }
  parts.push('</sheetData></worksheet>');
  return Buffer.from(parts.join(''), 'utf8');
}

describe('sheets that cost far more than their size', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('a 20 MB zip bomb is refused from its central directory, before anything is inflated', async () => {
    const zeros = deflateRawSync(Buffer.alloc(100 * 1024 * 1024), { level: 9 }); // ~100 KB
    const count = Math.floor((19.5 * 1024 * 1024) / (zeros.length + 100));
    const bomb = buildZip(
      Array.from({ length: count }, (_, i) => ({
        name: `xl/worksheets/sheet${i + 1}.xml`,
        data: Buffer.alloc(0),
        deflated: zeros,
        declaredSize: 100 * 1024 * 1024,
      })),
    );
    expect(bomb.length).toBeGreaterThan(19 * 1024 * 1024);
    const { response } = await refusedWhileAnswering(t, 'bomb.xlsx', bomb);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ field: 'file', message: expect.stringMatching(/解压后超过 120MB|压缩比异常/) });
  });

  it('a zip whose directory understates a part is stopped at the declared size', async () => {
    const sheet = Buffer.from('<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>');
    const liar = buildZip(
      xlsxParts(sheet, {
        name: 'xl/sharedStrings.xml',
        data: Buffer.alloc(0),
        deflated: deflateRawSync(Buffer.alloc(50 * 1024 * 1024, 0x20)),
        declaredSize: 1_000,
      }),
    );
    const { response } = await refusedWhileAnswering(t, 'liar.xlsx', liar);
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toMatch(/解压后比声明的大/);
  });

  it('an xlsx of a million cells is refused at the cell cap while the service keeps answering', async () => {
    const file = buildZip(xlsxParts(millionCellSheet()));
    const { response, answered } = await refusedWhileAnswering(t, 'million.xlsx', file);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      field: 'file',
      message: expect.stringMatching(/^表格超过 800000 个有内容的单元格（到第 \d+ 行），请按乡镇拆分后分批导入$/),
    });
    expect(answered).toBeGreaterThan(0);
  });

  it('20 MB of newlines is refused with a clear message; so are more rows than the cap', async () => {
    const newlines = Buffer.alloc(20_000_000, '\n');
    const { response, answered } = await refusedWhileAnswering(t, 'newlines.csv', newlines);
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toMatch(/^找不到表头/);
    expect(answered).toBeGreaterThan(0);

    const manyRows = Buffer.from(`群名称,村（社区）代码\n${'群,440106001001\n\n'.repeat(600_000)}`);
    const rows = await refusedWhileAnswering(t, 'rows.csv', manyRows);
    expect(rows.response.statusCode).toBe(400);
    expect(rows.response.json().message).toMatch(/^表格超过 60000 行（第 \d+ 行起），请按乡镇拆分后分批导入$/);
  });

  it('a normal sheet still reads after all that', async () => {
    const csv = Buffer.from('群名称,村（社区）代码\n测试群,440106001001\n');
    const response = await upload(t, '/api/groups/import?dryRun=true', t.adminToken, 'ok.csv', csv);
    expect(response.statusCode, response.body).toBe(200);
  });
});
